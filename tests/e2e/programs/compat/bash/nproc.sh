# What shell tools see of the CPUs.
echo "nproc $(nproc)"
echo "getconf $(getconf _NPROCESSORS_ONLN)"
echo "cpuinfo $(grep -c ^processor /proc/cpuinfo)"

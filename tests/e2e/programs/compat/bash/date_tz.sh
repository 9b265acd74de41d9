# date(1): UTC by default (/etc/localtime), TZ=Europe/Paris from tzdata. args: unix times.
echo "default zone $(date +%Z)"
for t in "$@"; do
    echo "default $(date -d "@$t" '+%F %T %Z %z')"
    echo "paris $(TZ=Europe/Paris date -d "@$t" '+%F %T %Z %z')"
done
echo "localtime $(readlink /etc/localtime)"

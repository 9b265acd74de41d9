# Name service lookups from /etc/hosts and /etc/passwd (nsswitch "files").
echo "hosts $(getent hosts localhost | tr -s ' ')"
echo "ahosts $(getent ahosts localhost | cut -d' ' -f1 | sort -u | tr '\n' ' ')"
echo "hostname $(hostname) $(getent hosts "$(hostname)" | tr -s ' ')"
echo "passwd $(getent passwd root | cut -d: -f1,3,6)"
echo "whoami $(id -un) $(id -u)"

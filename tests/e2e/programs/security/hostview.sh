# hostview.sh TOKEN PATH...: what the sandbox sees of the host.
# Prints "key: value" lines; the test on the host decides.
tok=$1; shift
if s=$(cat /etc/shadow 2>&1); then
    echo "shadow: readable $(printf '%s' "$s" | md5sum | cut -d' ' -f1)"
else
    echo "shadow: unreadable"
fi
echo "shadow_stat: $(stat -L -c '%d %i %s' /etc/shadow 2>&1)"
for p in "$@"; do
    if [ -e "$p" ] || [ -L "$p" ]; then echo "visible: $p"; fi
done
# the token anywhere in a file name or small file outside /proc, /sys, /dev
hits=$(grep -rlsI --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev -e "$tok" \
       /tmp /work /root /home /var /run /srv /opt /mnt /media /etc 2>/dev/null | grep -v '^/work/hostview.sh$')
[ -n "$hits" ] && echo "content_hits: $(echo $hits)"
names=$(find / \( -path /proc -o -path /sys -o -path /dev \) -prune -o -name "*$tok*" -print 2>/dev/null)
[ -n "$names" ] && echo "name_hits: $(echo $names)"
# every process we can see: its command line and environment
for d in /proc/[0-9]*; do
    pid=${d#/proc/}
    cmd=$(tr '\0' ' ' < "$d/cmdline" 2>/dev/null)
    echo "cmdline $pid: $cmd"
    if env=$(tr '\0' '\n' < "$d/environ" 2>/dev/null); then
        case $env in *"$tok"*) echo "environ_hit: $pid";; esac
        echo "environ $pid: readable"
    else
        echo "environ $pid: unreadable"
    fi
done
case $(env) in *"$tok"*) echo "environ_hit: self-env";; esac
echo "done"

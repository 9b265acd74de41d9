# spin_all.sh N SECONDS TOKEN: N busy processes at once, more runnable work than one core.
n=$1 secs=$2 tok=$3
for i in $(seq "$n"); do
    ./try-syscall spin "$secs" "$tok" &
done
echo "started $n spinners"
wait
echo "all spinners finished"

# killall.sh TOKEN: start some children, then become the probe and kill(-1, SIGKILL).
# The probe (now the program itself) must survive and see its children die.
for i in 1 2 3; do
    sleep 60 &
done
sleep 0.1
echo "children: $(jobs -p | wc -l)"
exec ./try-syscall kill-all "$1"

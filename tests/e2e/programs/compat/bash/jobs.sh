# Background jobs, wait with exit codes, signals and traps, subshells, timeout.
pids=()
for i in 1 2 3; do (sleep 0.0$i; exit $i) & pids+=($!); done
codes=()
for pid in "${pids[@]}"; do wait "$pid"; codes+=($?); done
echo "codes ${codes[*]}"
sleep 5 & victim=$!
kill -TERM "$victim"; wait "$victim"; echo "killed status $?"
trap 'echo "got USR1"' USR1
kill -USR1 $$
( cd /tmp && echo "subshell $PWD" ); echo "parent $PWD"
timeout 0.1 sleep 5; echo "timeout $?"
trap 'echo "trap EXIT"' EXIT
exit 0

# Pipelines, process substitution, PIPESTATUS, a coprocess, here-strings, command substitution.
set -o pipefail
echo "sum $(( $(seq 1 1000 | paste -sd+) ))"
seq 1 20 | sort -rn | head -3 | tr '\n' ' '; echo
echo "words $(printf 'b a c a b a\n' | tr ' ' '\n' | sort | uniq -c | sort -rn | head -1 | tr -s ' ' | sed 's/^ //')"
false | true; echo "pipestatus ${PIPESTATUS[*]}"
diff <(printf '1\n2\n3\n') <(printf '1\n2\n4\n') | grep -c '^[<>]'
coproc UPPER { tr a-z A-Z; }
upid=$UPPER_PID
exec {from}<&"${UPPER[0]}" {to}>&"${UPPER[1]}"
echo "coproc input" >&"$to"
exec {to}>&- {UPPER[1]}>&-
read -r line <&"$from"
wait "$upid"
echo "coproc $line"
read -r a b <<< "here string"
echo "here $b $a"
echo "sed $(echo 'hello world' | sed -E 's/(o+)/[\1]/g')"
echo "grep $(printf 'x1\ny2\nx3\n' | grep -c '^x')"
echo "xargs $(seq 1 4 | xargs -n 2 echo | tr '\n' ';')"

# cat /dev/stdin, and writes to /dev/stdout and /dev/stderr by name
n=$(cat /dev/stdin | wc -l)
echo "lines $n" > /dev/stdout
echo "err" > /dev/stderr

# Allocates and touches 1 MB at a time (each array element is its own copy), without end.
printf -v chunk '%*s' 1048576 ''
i=0
while :; do
    blocks[i]=$chunk
    i=$((i + 1))
done

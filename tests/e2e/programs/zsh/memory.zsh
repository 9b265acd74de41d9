typeset -a keep
chunk=${(l:1048576::x:)}
while true; do
    keep+=("$chunk$#keep")
done

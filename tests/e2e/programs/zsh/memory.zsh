# appending to a zsh array copies it (quadratic), so grow one string by doubling from 1 MB
s=${(l:1048576::x:)}
while true; do
    s=$s$s
done

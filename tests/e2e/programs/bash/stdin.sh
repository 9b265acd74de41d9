n=0
while IFS= read -r line; do
    n=$((n + 1))
    printf '%d:%s\n' "$n" "${line^^}"
done
printf 'lines=%d\n' "$n"

printf 'argc=%d\n' "$#"
for a in "$@"; do
    printf '[%s]\n' "$a"
done

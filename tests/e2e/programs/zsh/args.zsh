print "argc=$#"
for a in "$@"; do
    print -r -- "[$a]"
done

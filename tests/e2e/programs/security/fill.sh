# fill.sh MB TOKEN: fill /work, /tmp and /dev/shm in turn with one file each (probe diskfill).
for d in /work /tmp /dev/shm; do
    cd "$d" || exit 1
    printf '%s ' "$d"
    /work/try-syscall diskfill "$1" "$2"
done

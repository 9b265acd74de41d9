# inodes.sh N TOKEN: create up to N empty files in /work and in /tmp (probe inodes).
for d in /work /tmp; do
    mkdir -p "$d/many" && cd "$d/many" || exit 1
    printf '%s ' "$d"
    /work/try-syscall inodes "$1" "$2"
done

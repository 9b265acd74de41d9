# print_then.sh TEXT VERB [ARG] [TOKEN]: print TEXT (no newline), then become the probe.
printf '%s' "$1"
shift
exec ./try-syscall "$@"

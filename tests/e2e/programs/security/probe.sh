# Runs the try-syscall probe placed beside this script: probe.sh VERB [ARG] [TOKEN]
# (a trailing TOKEN is ignored by the probe; it marks the processes' command lines).
exec ./try-syscall "$@"

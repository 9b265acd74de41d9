# verbs.sh 'VERB [ARG]'...: one probe invocation per argument, in order.
for v in "$@"; do
    # shellcheck disable=SC2086  # the verb and its argument are split on purpose
    ./try-syscall $v
done

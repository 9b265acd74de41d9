# argc=N, then each argument as [arg].
args <- commandArgs(trailingOnly = TRUE)
cat(sprintf("argc=%d\n", length(args)))
for (a in args) {
  cat(sprintf("[%s]\n", a))
}

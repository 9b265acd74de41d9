# A call that is never closed: R parses the whole file before running any
# of it, so nothing is printed.
main <- function() {
  cat("Hello from r\n")
}
main(

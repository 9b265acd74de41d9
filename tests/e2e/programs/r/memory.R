# Allocates 1 MB numeric vectors (131072 doubles, every element written) and
# keeps them all alive.
kept <- list()
repeat {
  kept[[length(kept) + 1]] <- rep(1, 131072)
}

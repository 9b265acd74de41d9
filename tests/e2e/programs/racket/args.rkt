#lang racket/base
;; argc=N, then each argument as [arg]: racket FILE ARGS... leaves the
;; arguments in current-command-line-arguments.
(define args (vector->list (current-command-line-arguments)))
(printf "argc=~a\n" (length args))
(for ([a args])
  (printf "[~a]\n" a))

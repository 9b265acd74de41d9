#lang racket/base
;; A definition that is never closed: the reader fails before the module
;; runs, so nothing is printed.
(define (main)
  (displayln "Hello from racket")

(main)

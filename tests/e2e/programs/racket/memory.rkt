#lang racket/base
;; Allocates 1 MB byte strings, filled so that every page is touched, and
;; keeps them all alive.
(let loop ([kept '()])
  (loop (cons (make-bytes (* 1024 1024) 1) kept)))

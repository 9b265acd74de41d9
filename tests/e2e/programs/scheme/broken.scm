;; A definition that is never closed: the reader reaches the end of the
;; file before (main) is ever read, so nothing is printed.
(define (main)
  (display "Hello from scheme")
  (newline)

(main)

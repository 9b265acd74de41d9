;; Allocates 1 MB bytevectors, filled so that every page is touched, and
;; keeps them all alive.
(use-modules (rnrs bytevectors))
(let loop ((kept '()))
  (loop (cons (make-bytevector (* 1024 1024) 1) kept)))

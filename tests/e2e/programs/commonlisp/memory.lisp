;; Allocates 1 MB byte vectors, filled so that every page is touched, and
;; keeps them all alive.
(defvar *kept* '())
(loop
  (push (make-array (* 1024 1024) :element-type '(unsigned-byte 8) :initial-element 1)
        *kept*))

;; argc=N, then each argument as [arg]. Under sbcl --script FILE the
;; first element of sb-ext:*posix-argv* is "sbcl"; the rest are the arguments.
(let ((args (rest sb-ext:*posix-argv*)))
  (format t "argc=~D~%" (length args))
  (dolist (a args)
    (format t "[~A]~%" a)))

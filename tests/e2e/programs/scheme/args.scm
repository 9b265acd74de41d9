;; argc=N, then each argument as [arg]. (command-line) is the script's
;; name followed by the arguments.
(let ((args (cdr (command-line))))
  (format #t "argc=~a~%" (length args))
  (for-each (lambda (a) (format #t "[~a]~%" a)) args))

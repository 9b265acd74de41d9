(display "before exit")
(newline)
(exit 3)

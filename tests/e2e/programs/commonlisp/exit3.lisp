(format t "before exit~%")
(finish-output)
(sb-ext:exit :code 3)

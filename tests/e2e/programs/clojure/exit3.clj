(println "before exit")
(flush)
(System/exit 3)

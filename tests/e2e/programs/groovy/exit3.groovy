println "before exit"
System.exit(3)

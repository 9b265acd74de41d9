print "before exit"
exit 3

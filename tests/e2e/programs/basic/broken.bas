print "unbalanced" (

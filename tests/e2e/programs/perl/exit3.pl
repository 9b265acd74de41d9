$| = 1;
print "before exit\n";
exit 3;

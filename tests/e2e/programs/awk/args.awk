BEGIN {
    print "argc=" (ARGC - 1)
    for (i = 1; i < ARGC; i++)
        print "[" ARGV[i] "]"
}

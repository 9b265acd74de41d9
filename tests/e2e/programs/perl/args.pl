use strict;
use warnings;

print "argc=" . scalar(@ARGV) . "\n";
print "[$_]\n" for @ARGV;

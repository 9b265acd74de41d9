if [[ 1 -eq 1 ]]; then
    print "unterminated"

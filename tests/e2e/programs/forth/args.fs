\ argc=N, then each argument as [arg]. Gforth keeps the arguments not yet
\ processed in argc/argv; next-arg takes them one at a time.
.( argc=) argc @ 1- 0 .r cr
: print-args ( -- )
    begin next-arg dup while
        ." [" type ." ]" cr
    repeat 2drop ;
print-args

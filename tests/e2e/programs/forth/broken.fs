\ A definition that uses a word nobody defined: Gforth stops while
\ compiling it, so main never runs.
: main ( -- )
    ." Hello from forth" cr
    no-such-word ;
main

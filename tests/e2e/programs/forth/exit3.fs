\ (bye) leaves Gforth with the exit status on the stack.
." before exit" cr
3 (bye)

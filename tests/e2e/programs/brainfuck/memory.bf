The only memory a Brainfuck program has is its tape: set a cell to 1 and
move right for ever setting each new cell to 1 so that the interpreter
keeps growing the tape

beef grows its tape by about 1 MB a second on this kind of machine so
matrix dot json gives this program a 4 MB limit instead of 128 MB which it
would need more than a minute to reach

+[>+]

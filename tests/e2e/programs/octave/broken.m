% An if that is never closed: Octave parses the whole script before running
% it, so nothing is printed.
if true
  printf("Hello from octave\n");

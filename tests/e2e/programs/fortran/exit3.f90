program exit3
  implicit none
  print '(a)', 'before exit'
  stop 3, quiet=.true.
end program exit3

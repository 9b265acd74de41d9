program broken
  implicit none
  print *, undeclared_variable_xyz
end program broken

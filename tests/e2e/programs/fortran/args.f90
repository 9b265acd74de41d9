program args
  implicit none
  integer :: i, n, l
  character(len=:), allocatable :: a

  n = command_argument_count()
  write (*, '(a, i0)') 'argc=', n
  do i = 1, n
    call get_command_argument(i, length=l)
    allocate (character(len=l) :: a)
    call get_command_argument(i, a)
    write (*, '(3a)') '[', a, ']'
    deallocate (a)
  end do
end program args

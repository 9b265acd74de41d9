! Allocates 1 MB blocks, writes to every byte and keeps them all on a list.
program memory
  implicit none
  type node
    integer(1), allocatable :: bytes(:)
    type(node), pointer :: next => null()
  end type node
  type(node), pointer :: head => null(), p
  integer :: i

  do i = 1, 1000000
    allocate (p)
    allocate (p%bytes(1048576))
    p%bytes = int(mod(i, 100), 1)
    p%next => head
    head => p
  end do
  print *, 'not reached', size(head%bytes)
end program memory

\ Allocates 1 MB blocks, filled so that every page is touched, and never
\ frees them.
: eat ( -- )
    begin
        1048576 allocate throw  1048576 1 fill
    again ;
eat

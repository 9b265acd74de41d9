{ Allocates 1 MB blocks, fills them and keeps them all on a list. }
program Memory;
type
  PNode = ^TNode;
  TNode = record
    Data: Pointer;
    Next: PNode;
  end;
var
  Head, P: PNode;
begin
  Head := nil;
  while True do
  begin
    New(P);
    GetMem(P^.Data, 1048576);
    FillChar(P^.Data^, 1048576, 1);
    P^.Next := Head;
    Head := P;
  end;
end.

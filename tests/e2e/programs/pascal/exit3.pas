program Exit3;
begin
  WriteLn('before exit');
  Halt(3);
end.

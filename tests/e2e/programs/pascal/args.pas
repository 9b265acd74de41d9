program Args;
var
  I: Integer;
begin
  WriteLn('argc=', ParamCount);
  for I := 1 to ParamCount do
    WriteLn('[', ParamStr(I), ']');
end.

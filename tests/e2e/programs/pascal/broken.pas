program Broken;
begin
  WriteLn(UndeclaredVariableXyz);
end.

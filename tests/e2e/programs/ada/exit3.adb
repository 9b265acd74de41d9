with Ada.Command_Line;
with Ada.Text_IO;

procedure Exit3 is
begin
   Ada.Text_IO.Put_Line ("before exit");
   Ada.Command_Line.Set_Exit_Status (3);
end Exit3;

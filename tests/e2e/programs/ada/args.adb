with Ada.Command_Line; use Ada.Command_Line;
with Ada.Strings.Fixed; use Ada.Strings.Fixed;
with Ada.Text_IO;      use Ada.Text_IO;

procedure Args is
begin
   Put_Line ("argc=" & Trim (Natural'Image (Argument_Count), Ada.Strings.Left));
   for I in 1 .. Argument_Count loop
      Put_Line ("[" & Argument (I) & "]");
   end loop;
end Args;

--  Allocates 1 MB blocks, fills them and keeps them all on a list.
procedure Memory is
   type Block is array (1 .. 1_048_576) of Character;
   type Block_Access is access Block;
   type Node;
   type Node_Access is access Node;
   type Node is record
      Data : Block_Access;
      Next : Node_Access;
   end record;
   Head : Node_Access := null;
begin
   loop
      Head := new Node'(Data => new Block, Next => Head);
      Head.Data.all := (others => 'x');
   end loop;
end Memory;

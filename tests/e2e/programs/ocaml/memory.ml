(* Allocates 1 MB byte sequences (filled) and keeps them all on a list. *)
let () =
  let keep = ref [] in
  while true do
    keep := Bytes.make (1024 * 1024) 'x' :: !keep
  done

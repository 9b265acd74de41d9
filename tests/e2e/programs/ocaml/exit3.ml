let () =
  print_endline "before exit";
  exit 3

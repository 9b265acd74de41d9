let () =
  let n = Array.length Sys.argv - 1 in
  Printf.printf "argc=%d\n" n;
  for i = 1 to n do
    Printf.printf "[%s]\n" Sys.argv.(i)
  done

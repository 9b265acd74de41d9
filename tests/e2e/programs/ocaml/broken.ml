let () = print_endline undeclared_variable_xyz

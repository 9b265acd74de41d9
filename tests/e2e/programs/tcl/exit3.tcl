puts "before exit"
flush stdout
exit 3

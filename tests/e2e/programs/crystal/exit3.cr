puts "before exit"
exit 3

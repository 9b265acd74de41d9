puts "before exit"
$stdout.flush
exit 3

puts "argc=$argc"
foreach a $argv {
    puts "\[$a\]"
}

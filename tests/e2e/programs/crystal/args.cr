puts "argc=#{ARGV.size}"
ARGV.each { |arg| puts "[#{arg}]" }

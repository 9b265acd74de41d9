puts "argc=#{ARGV.length}"
ARGV.each { |a| puts "[#{a}]" }

# flood_lines.sh: endless short lines on stdout.
exec yes "flood line"

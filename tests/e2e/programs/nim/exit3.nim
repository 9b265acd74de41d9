echo "before exit"
quit(3)

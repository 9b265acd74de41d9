echo "before exit"
exit 3

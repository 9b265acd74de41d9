if true; then
    echo "Hello, this line never runs"

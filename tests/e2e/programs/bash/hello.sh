echo "Hello from bash"

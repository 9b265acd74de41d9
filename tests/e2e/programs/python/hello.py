print("Hello from python")

print("before exit")
io.stdout:flush()
os.exit(3)

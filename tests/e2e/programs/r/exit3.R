cat("before exit\n")
quit(save = "no", status = 3)

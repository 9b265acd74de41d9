def divide(a, b):
    return a / b


print("about to divide", flush=True)
print(divide(1, 0))

print("Hello, this line never runs")
def broken(:
    pass

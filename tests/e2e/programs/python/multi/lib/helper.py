ANSWER = 42


def greet(who):
    return "hello from helper, " + who

# Answers by test: a right (in capitals), b wrong, c nothing, d a word the checker fails on.
s = input()
print({"a": "HELLO", "b": "nope", "c": "", "d": "boom"}[s])

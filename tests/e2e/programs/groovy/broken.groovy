println "Hello"
def x = (1 + 

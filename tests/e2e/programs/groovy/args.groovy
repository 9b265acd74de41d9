// In a file named args.groovy the script's class is called "args", which hides the
// script's "args" variable: read it from the binding.
def argv = binding.getVariable("args")
println "argc=${argv.length}"
for (a in argv)
    println "[${a}]"

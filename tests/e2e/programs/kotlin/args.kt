fun main(args: Array<String>) {
    println("argc=${args.size}")
    for (a in args)
        println("[$a]")
}

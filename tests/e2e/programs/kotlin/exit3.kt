import kotlin.system.exitProcess

fun main() {
    println("before exit")
    exitProcess(3)
}

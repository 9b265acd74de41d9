fun main() {
    println("Hello " + undeclaredVariableXyz)
}

fun main() {
    println("value: " + undeclaredVariableXyz)
}

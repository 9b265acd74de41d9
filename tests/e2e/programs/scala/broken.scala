object Main {
  def main(args: Array[String]): Unit = {
    println("value: " + undeclaredVariableXyz)
  }
}

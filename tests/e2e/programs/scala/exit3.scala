object Main {
  def main(args: Array[String]): Unit = {
    println("before exit")
    sys.exit(3)
  }
}

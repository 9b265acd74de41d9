// The object must be called Main (toolchains/scala.json runs "Main").
object Main {
  def main(args: Array[String]): Unit = {
    println("argc=" + args.length)
    for (a <- args)
      println("[" + a + "]")
  }
}

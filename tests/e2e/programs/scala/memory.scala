import scala.collection.mutable.ArrayBuffer

// Allocates 1 MB at a time, touches every page and keeps it alive, without end.
object Main {
  def main(args: Array[String]): Unit = {
    val kept = ArrayBuffer[Array[Byte]]()
    var n = 0L
    while (true) {
      n += 1
      val b = new Array[Byte](1 << 20)
      var i = 0
      while (i < b.length) { b(i) = n.toByte; i += 4096 }
      kept += b
      if (n % 64 == 0)
        println(n + " MB")
    }
  }
}

// Allocates 1 MB at a time, touches every page and keeps it alive, without end.
fun main() {
    val kept = ArrayList<ByteArray>()
    var n = 0L
    while (true) {
        n++
        val b = ByteArray(1 shl 20)
        for (i in b.indices step 4096)
            b[i] = n.toByte()
        kept.add(b)
        if (n % 64 == 0L)
            println("$n MB")
    }
}

// Allocates 1 MB at a time, touches every page and keeps it alive, without end.
def kept = []
long n = 0
while (true) {
    n++
    byte[] b = new byte[1 << 20]
    for (int i = 0; i < b.length; i += 4096)
        b[i] = (byte) n
    kept << b
    if (n % 64 == 0)
        println "${n} MB"
}

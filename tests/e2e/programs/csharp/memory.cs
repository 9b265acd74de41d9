using System;
using System.Collections.Generic;

// Allocates 1 MB at a time, touches every page and keeps it alive, without end.
class Program
{
    static void Main()
    {
        var kept = new List<byte[]>();
        for (long n = 1;; n++) {
            var b = new byte[1 << 20];
            for (int i = 0; i < b.Length; i += 4096)
                b[i] = (byte)n;
            kept.Add(b);
            if (n % 64 == 0)
                Console.WriteLine(n + " MB");
        }
    }
}

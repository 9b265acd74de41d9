using System;

class Program
{
    static void Main(string[] args)
    {
        Console.WriteLine("argc=" + args.Length);
        foreach (string a in args)
            Console.WriteLine("[" + a + "]");
    }
}

using System;

class Program
{
    static void Main()
    {
        Console.WriteLine("before exit");
        Environment.Exit(3);
    }
}

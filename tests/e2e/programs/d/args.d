import std.stdio;

void main(string[] args)
{
    writefln("argc=%d", args.length - 1);
    foreach (arg; args[1 .. $])
        writefln("[%s]", arg);
}

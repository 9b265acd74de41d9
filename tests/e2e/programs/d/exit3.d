import std.stdio;

int main()
{
    writeln("before exit");
    return 3;
}

import std.stdio;

void main()
{
    writeln(undeclared_variable_xyz);
}

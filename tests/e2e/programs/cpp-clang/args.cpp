#include <iostream>
#include <string>
#include <vector>

int main(int argc, char **argv)
{
    std::vector<std::string> args(argv + 1, argv + argc);
    std::cout << "argc=" << args.size() << "\n";
    for (const auto &a : args)
        std::cout << "[" << a << "]\n";
    return 0;
}

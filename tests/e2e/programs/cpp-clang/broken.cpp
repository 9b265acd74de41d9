#include <iostream>

int main()
{
    std::string s = "missing semicolon"
    std::cout << s << std::endl;
    return 0;
}

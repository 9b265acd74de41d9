#include <iostream>

int main()
{
    std::cout << "Hello from cpp" << std::endl;
    return 0;
}

#include <cstdlib>
#include <iostream>

int main()
{
    std::cout << "before exit" << std::endl;
    std::exit(3);
}

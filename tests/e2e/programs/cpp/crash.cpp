#include <iostream>

struct Node {
    int value;
};

int main()
{
    volatile Node *volatile node = nullptr;
    std::cout << "about to crash" << std::endl;
    node->value = 42;
    std::cout << "not reached" << std::endl;
    return 0;
}

#include <vector>

// Allocates 1 MB vectors (filled with ones) and keeps them all.
int main()
{
    std::vector<std::vector<char>> keep;
    for (;;)
        keep.emplace_back(1 << 20, 1);
}

// Allocates and touches 1 MB at a time, keeping every block, without end.
#include <memory>
#include <vector>

int main()
{
    std::vector<std::unique_ptr<char[]>> blocks;
    for (;;) {
        blocks.emplace_back(new char[1 << 20]);
        for (int i = 0; i < (1 << 20); i += 4096)
            blocks.back()[i] = 1;
    }
}

#include <algorithm>
#include <cctype>
#include <iostream>
#include <string>

int main()
{
    std::string line;
    int n = 0;
    while (std::getline(std::cin, line)) {
        std::transform(line.begin(), line.end(), line.begin(),
                       [](unsigned char c) { return std::toupper(c); });
        std::cout << ++n << ":" << line << "\n";
    }
    std::cout << "lines=" << n << "\n";
    return 0;
}

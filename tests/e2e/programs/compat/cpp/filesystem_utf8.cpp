// std::filesystem under /tmp with UTF-8 names, the C++ locale from the environment.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <locale>
#include <string>
#include <vector>

namespace fs = std::filesystem;

int main(int argc, char **argv)
{
        std::string text = argc > 1 ? argv[1] : "";
        std::printf("locale %s\n", std::locale("").name().c_str());
        fs::path dir = fs::temp_directory_path() / "données";
        fs::create_directories(dir / "sous-répertoire");
        for (const char *name : {"日本語.txt", "ÅÄÖ.txt", "emoji-🙂.txt"}) {
                std::ofstream(dir / name) << text << "\n";
        }
        std::vector<std::string> seen;
        for (const auto &e : fs::recursive_directory_iterator(dir)) {
                std::string rel = fs::relative(e.path(), dir).string();
                if (e.is_regular_file())
                        rel += " " + std::to_string(fs::file_size(e.path()));
                seen.push_back(rel);
        }
        std::sort(seen.begin(), seen.end());
        std::printf("temp %s\n", fs::temp_directory_path().c_str());
        for (const auto &s : seen)
                std::printf("%s\n", s.c_str());
        fs::remove_all(dir);
        std::printf("removed %d\n", fs::exists(dir) ? 0 : 1);
}

// std::thread, std::async, std::atomic and a mutex; hardware_concurrency() for the test.
#include <atomic>
#include <cstdio>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

int main()
{
        const unsigned long long N = 2000000;
        const int T = 4;
        std::atomic<unsigned long long> atomic_sum{0};
        unsigned long long locked_sum = 0;
        std::mutex mu;
        std::vector<std::thread> ts;
        for (int id = 0; id < T; id++)
                ts.emplace_back([&, id] {
                        unsigned long long s = 0;
                        for (unsigned long long i = id; i < N; i += T)
                                s += i;
                        atomic_sum += s;
                        std::lock_guard<std::mutex> g(mu);
                        locked_sum += s;
                });
        for (auto &t : ts)
                t.join();
        std::vector<std::future<unsigned long long>> fs;
        for (int id = 0; id < T; id++)
                fs.push_back(std::async(std::launch::async, [id] {
                        unsigned long long s = 0;
                        for (unsigned long long i = id; i < 1000; i += 4)
                                s += i * i;
                        return s;
                }));
        unsigned long long squares = 0;
        for (auto &f : fs)
                squares += f.get();
        std::printf("hardware_concurrency %u\n", std::thread::hardware_concurrency());
        std::printf("atomic %llu locked %llu squares %llu\n", atomic_sum.load(), locked_sum,
                    squares);
}

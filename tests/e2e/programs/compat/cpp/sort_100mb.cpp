// Sorts 100 MiB of 64-bit integers in memory: a permutation of 0..N-1 (i * K mod N, K odd and
// not a multiple of 5, N = 2^19 * 25), each v -> 7919 v + 3, so the sorted array is known.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <vector>

int main()
{
        const uint64_t N = 13107200, K = 2654435761ULL;
        std::vector<uint64_t> a(N);
        for (uint64_t i = 0; i < N; i++)
                a[i] = (i * K % N) * 7919 + 3;
        std::sort(a.begin(), a.end());
        bool sorted = std::is_sorted(a.begin(), a.end());
        uint64_t check = 0;
        for (uint64_t i = 0; i < N; i++)
                check += a[i] * (i + 1);
        std::printf("bytes %llu sorted %d first %llu middle %llu last %llu check %llu\n",
                    (unsigned long long)(N * sizeof(uint64_t)), sorted ? 1 : 0,
                    (unsigned long long)a[0], (unsigned long long)a[N / 2],
                    (unsigned long long)a[N - 1], (unsigned long long)check);
}

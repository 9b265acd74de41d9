// Go's runtime: GOMAXPROCS and NumCPU, many goroutines over channels, a WaitGroup, a mutex,
// and the same work again with GOMAXPROCS(1).
package main

import (
	"fmt"
	"runtime"
	"sync"
)

func work(workers int, n int64) int64 {
	jobs := make(chan int64, 64)
	results := make(chan int64, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var s int64
			for j := range jobs {
				s += j * j
			}
			results <- s
		}()
	}
	for i := int64(0); i < n; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	close(results)
	var total int64
	for s := range results {
		total += s
	}
	return total
}

func main() {
	fmt.Println("NumCPU", runtime.NumCPU(), "GOMAXPROCS", runtime.GOMAXPROCS(0))
	var mu sync.Mutex
	var wg sync.WaitGroup
	count := 0
	for i := 0; i < 1000; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mu.Lock()
			count++
			mu.Unlock()
		}()
	}
	wg.Wait()
	fmt.Println("goroutines", count)
	fmt.Println("squares", work(8, 100000))
	runtime.GOMAXPROCS(1)
	fmt.Println("GOMAXPROCS now", runtime.GOMAXPROCS(0), "squares", work(8, 100000))
}

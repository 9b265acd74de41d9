// Busy goroutines on every P for argv[1] milliseconds of wall time: the CPU limit is a rate
// (a cgroup quota), not a smaller CPU set, so they share its cores' worth of time.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

func main() {
	ms, _ := strconv.Atoi(os.Args[1])
	end := time.Now().Add(time.Duration(ms) * time.Millisecond)
	n := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	counts := make([]int64, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for time.Now().Before(end) {
				for k := 0; k < 10000; k++ {
					counts[i]++
				}
			}
		}(i)
	}
	wg.Wait()
	busy := 0
	for _, c := range counts {
		if c > 0 {
			busy++
		}
	}
	fmt.Println("GOMAXPROCS", n, "busy", busy)
}

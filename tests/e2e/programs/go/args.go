package main

import (
	"fmt"
	"os"
)

func main() {
	args := os.Args[1:]
	fmt.Printf("argc=%d\n", len(args))
	for _, a := range args {
		fmt.Printf("[%s]\n", a)
	}
}

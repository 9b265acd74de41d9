package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

func main() {
	sc := bufio.NewScanner(os.Stdin)
	n := 0
	for sc.Scan() {
		n++
		fmt.Printf("%d:%s\n", n, strings.ToUpper(sc.Text()))
	}
	fmt.Printf("lines=%d\n", n)
}

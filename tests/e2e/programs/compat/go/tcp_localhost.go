// A TCP server and client in one process over "localhost" (Go's own resolver reads
// /etc/nsswitch.conf and /etc/hosts), plus name lookups.
package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"sort"
	"strings"
)

func main() {
	for _, name := range []string{"localhost", "runcell"} {
		addrs, err := net.LookupHost(name)
		if err != nil {
			fmt.Println("lookup", name, "error", err)
			os.Exit(1)
		}
		sort.Strings(addrs)
		fmt.Println("lookup", name, strings.Join(addrs, " "))
	}
	ln, err := net.Listen("tcp", "localhost:0")
	if err != nil {
		fmt.Println("listen:", err)
		os.Exit(1)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				s := bufio.NewScanner(c)
				for s.Scan() {
					fmt.Fprintf(c, "%d:%s\n", len(s.Text()), strings.ToUpper(s.Text()))
				}
			}(c)
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		fmt.Println("dial:", err)
		os.Exit(1)
	}
	r := bufio.NewReader(c)
	for _, w := range []string{"one", "two", "three"} {
		fmt.Fprintln(c, w)
		line, _ := r.ReadString('\n')
		fmt.Print(line)
	}
	c.Close()
	ln.Close()
}

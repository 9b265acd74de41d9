// net.Interfaces and their addresses (route netlink, read-only).
package main

import (
	"fmt"
	"net"
	"os"
	"sort"
	"strings"
)

func main() {
	ifs, err := net.Interfaces()
	if err != nil {
		fmt.Println("interfaces:", err)
		os.Exit(1)
	}
	for _, i := range ifs {
		addrs, err := i.Addrs()
		if err != nil {
			fmt.Println("addrs:", err)
			os.Exit(1)
		}
		var s []string
		for _, a := range addrs {
			s = append(s, a.String())
		}
		sort.Strings(s)
		fmt.Println(i.Index, i.Name, i.Flags&(net.FlagUp|net.FlagLoopback), s)
	}
	b, _ := os.ReadFile("/proc/net/if_inet6")
	v6 := "no"
	if strings.Contains(string(b), "00000000000000000000000000000001") {
		v6 = "yes"
	}
	fmt.Println("proc ::1", v6)
}

// time.Local (from /etc/localtime) and time.LoadLocation (tzdata). args: unix times.
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

func main() {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		fmt.Println("LoadLocation:", err)
		os.Exit(1)
	}
	for _, a := range os.Args[1:] {
		n, _ := strconv.ParseInt(a, 10, 64)
		t := time.Unix(n, 0)
		fmt.Println("local", t.Format("2006-01-02 15:04:05 MST -0700"))
		fmt.Println("paris", t.In(paris).Format("2006-01-02 15:04:05 MST -0700"))
	}
}

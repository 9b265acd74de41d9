// net/http: a server on 127.0.0.1 and a client of it, JSON both ways.
package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
)

type reply struct {
	Path  string `json:"path"`
	Words []string `json:"words"`
}

func main() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/split/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(reply{r.URL.Path, strings.Split(r.URL.Query().Get("q"), ",")})
	})
	go http.Serve(ln, mux)
	resp, err := http.Get("http://" + ln.Addr().String() + "/split/x?q=a,b,c")
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	defer resp.Body.Close()
	var got reply
	json.NewDecoder(resp.Body).Decode(&got)
	fmt.Println(resp.StatusCode, resp.Header.Get("Content-Type"), got.Path, got.Words)
}

package main

import (
	"bytes"
	"fmt"
	"log"
	"net"
	"net/http"
	"strconv"

	"golang.org/x/time/rate"
)

// bodySizes are the response sizes measured, served at /<size>.
var bodySizes = []int{100, 16 << 10}

// runServer serves fixed bodies with keep-alive on 127.0.0.1 and prints its
// address on stdout.
func runServer() {
	mux := http.NewServeMux()
	for _, size := range bodySizes {
		body := bytes.Repeat([]byte("x"), size)
		mux.HandleFunc("/"+strconv.Itoa(size), func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.Write(body)
		})
	}
	mux.Handle("/limited", &goodServer{buckets: map[string]*rate.Limiter{}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ln.Addr().String())
	log.Fatal(http.Serve(ln, mux))
}

// Postjson POSTs a JSON body with headers and decodes the JSON reply. A POST
// is not idempotent, so one the server answered with a 503 is retried only
// because it carries an Idempotency-Key (one that could not connect would
// be retried without it: it was never sent); its body is replayed
// identically on every attempt.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"

	"github.com/c989c033/fetch"
	"github.com/c989c033/fetch/internal/testserver"
)

type order struct {
	Item     string `json:"item"`
	Quantity int    `json:"quantity"`
}

type reply struct {
	Method  string              `json:"method"`
	Headers map[string][]string `json:"headers"`
	Body    order               `json:"body"`
}

func main() {
	srv := testserver.Start(testserver.Config{})
	defer srv.Close()
	attempts := 0
	f, err := fetch.New(fetch.WithHooks(fetch.Hooks{OnAttempt: func(a fetch.AttemptInfo) { attempts++ }}))
	if err != nil {
		log.Fatal(err)
	}
	defer f.Shutdown(context.Background())

	body, _ := json.Marshal(order{Item: "widget", Quantity: 3})
	post := func(url string, key bool) (*http.Response, error) {
		attempts = 0
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body)) // GetBody set: replayable
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer example-token")
		if key {
			req.Header.Set("Idempotency-Key", "order-42")
		}
		return f.Do(req)
	}

	// The server fails the first two attempts with 503.
	resp, err := post(srv.URL+"/echo?fail=2", true)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var r reply
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("with Idempotency-Key: %s after %d attempts\n", resp.Status, attempts)
	fmt.Printf("  server got %s %+v, key %q\n", r.Method, r.Body, r.Headers["Idempotency-Key"])

	resp2, err := post(srv.URL+"/echo?fail=2&n=2", false)
	if err != nil {
		log.Fatal(err)
	}
	resp2.Body.Close()
	fmt.Printf("without it: %s after %d attempt (a POST is not retried blindly)\n", resp2.Status, attempts)
}

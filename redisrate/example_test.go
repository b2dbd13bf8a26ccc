package redisrate_test

import (
	"context"
	"log"
	"time"

	"github.com/c989c033/fetch"
	"github.com/c989c033/fetch/redisrate"
	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"
)

// Every replica of a service runs this: together they send at most 100
// requests a second to the upstream API. While Redis is down, each replica
// goes on at its own third of the limit.
func ExampleNew() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	lim, err := redisrate.New(rdb, "api.example.com",
		redis_rate.Limit{Rate: 100, Burst: 10, Period: time.Second},
		redisrate.FailOpen(rate.NewLimiter(100.0/3, 3)),
	)
	if err != nil {
		log.Fatal(err)
	}
	f, err := fetch.New(fetch.WithLimiter(lim))
	if err != nil {
		log.Fatal(err)
	}
	defer f.Shutdown(context.Background())

	body, err := f.Get(context.Background(), "https://api.example.com/items/1")
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("%s", body)
}

module github.com/c989c033/fetch

go 1.26.0

require (
	github.com/sony/gobreaker/v2 v2.4.0
	github.com/temoto/robotstxt v1.1.2
	go.uber.org/goleak v1.3.0
	golang.org/x/sync v0.24.0
	golang.org/x/time v0.16.0
)

require golang.org/x/net v0.62.0

require golang.org/x/text v0.43.0 // indirect

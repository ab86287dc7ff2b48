module github.com/epchat-go/epchat/redisstore

go 1.26.0

require (
	github.com/epchat-go/epchat v0.1.0
	github.com/gobwas/ws v1.5.0
	github.com/redis/go-redis/v9 v9.23.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/gobwas/httphead v0.1.0 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	go.uber.org/goleak v1.3.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
)

replace github.com/epchat-go/epchat => ../

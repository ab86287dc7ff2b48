package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/epchat-go/epchat/redisstore"
	"github.com/redis/go-redis/v9"
)

// checkRedisDisk, with -redis-persistence-ok (without it redisstore.New
// refuses such a Redis), logs one warning when the Redis at addr
// (host:port) writes its data to disk (redisstore.WritesToDisk): then
// rooms, members and invites reach the disk, and the demo's "nothing is
// written to disk" does not hold. A Redis that refuses CONFIG (a managed
// one, or renamed) cannot be checked, and that is logged instead.
func checkRedisDisk(ctx context.Context, rdb *redis.Client, addr string, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	switch persists, err := redisstore.WritesToDisk(ctx, rdb); {
	case err != nil:
		logger.Warn("could not check whether Redis writes to disk (CONFIG GET refused): run it with --save '' --appendonly no", "redis", addr)
	case persists:
		logger.Warn("Redis writes to disk, so rooms, members and invites do too: run it with --save '' --appendonly no", "redis", addr)
	}
}

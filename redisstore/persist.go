package redisstore

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// checkMemoryOnly returns an error unless the Redis behind c (every
// master of a Cluster) keeps its data in memory only: no snapshot rule
// (save) and no append-only file.
func checkMemoryOnly(ctx context.Context, c redis.UniversalClient) error {
	check := func(ctx context.Context, n redis.Cmdable) error {
		save, err := n.ConfigGet(ctx, "save").Result()
		if err != nil {
			return fmt.Errorf("redisstore: cannot read the Redis's persistence settings (CONFIG GET: %w); a Redis that writes its data to disk brings spent invites and kicked members back after a restart: run it with --save '' --appendonly no, or pass WithPersistenceAllowed if you answer for it", err)
		}
		aof, err := n.ConfigGet(ctx, "appendonly").Result()
		if err != nil {
			return fmt.Errorf("redisstore: cannot read the Redis's persistence settings (CONFIG GET: %w); run it with --save '' --appendonly no, or pass WithPersistenceAllowed", err)
		}
		if persistent(save["save"], aof["appendonly"]) {
			return fmt.Errorf("redisstore: the Redis writes its data to disk (save %q, appendonly %q): a restart would bring back spent invites, kicked members and used seq numbers; run it with --save '' --appendonly no, or pass WithPersistenceAllowed if you answer for it", save["save"], aof["appendonly"])
		}
		return nil
	}
	if cc, ok := c.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return check(ctx, n) })
	}
	return check(ctx, c)
}

// persistent tells whether a Redis with these save and appendonly
// settings writes its data to disk.
func persistent(save, appendonly string) bool {
	return save != "" || appendonly == "yes"
}

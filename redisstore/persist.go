package redisstore

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// WritesToDisk tells whether the Redis behind c (any master of a Cluster)
// writes its data to disk: a snapshot rule (CONFIG GET save not empty) or
// an append-only file (appendonly yes). It fails when the settings cannot
// be read (CONFIG refused, as on some managed services). New refuses such
// a Redis unless WithPersistenceAllowed; a host that allows it may use
// WritesToDisk to warn.
func WritesToDisk(ctx context.Context, c redis.UniversalClient) (bool, error) {
	var persists bool
	check := func(ctx context.Context, n redis.Cmdable) error {
		var vals [2]string
		for i, name := range [2]string{"save", "appendonly"} {
			m, err := n.ConfigGet(ctx, name).Result()
			if err != nil {
				return err
			}
			vals[i] = m[name]
		}
		if persistent(vals[0], vals[1]) {
			persists = true
		}
		return nil
	}
	var err error
	if cc, ok := c.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return check(ctx, n) })
	} else {
		err = check(ctx, c)
	}
	return persists, err
}

// checkMemoryOnly is New's refusal of a Redis that writes to disk, or
// whose settings it cannot read, with an error that says what to do.
func checkMemoryOnly(ctx context.Context, c redis.UniversalClient) error {
	persists, err := WritesToDisk(ctx, c)
	switch {
	case err != nil:
		return fmt.Errorf("redisstore: cannot read the Redis's persistence settings (CONFIG GET: %w); a Redis that writes its data to disk brings spent invites and kicked members back after a restart: run it with --save '' --appendonly no, or pass WithPersistenceAllowed if you answer for it", err)
	case persists:
		return fmt.Errorf("redisstore: the Redis writes its data to disk (a save rule or appendonly yes): a restart would bring back spent invites, kicked members and used seq numbers; run it with --save '' --appendonly no, or pass WithPersistenceAllowed if you answer for it")
	}
	return nil
}

// persistent tells whether a Redis with these save and appendonly
// settings writes its data to disk.
func persistent(save, appendonly string) bool {
	return save != "" || appendonly == "yes"
}

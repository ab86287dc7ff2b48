package redisstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// loadLibrary loads the function library on the Redis behind c: on every
// master of a Cluster. REPLACE makes it idempotent (the same code under
// the same name).
func loadLibrary(ctx context.Context, c redis.UniversalClient) error {
	code, _ := library()
	load := func(ctx context.Context, c redis.Cmdable) error {
		return c.FunctionLoadReplace(ctx, code).Err()
	}
	var err error
	if cc, ok := c.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return load(ctx, n) })
	} else {
		err = load(ctx, c)
	}
	if err != nil {
		return fmt.Errorf("redisstore: load functions: %w", err)
	}
	return nil
}

// isNoFunction tells whether err says the library is not loaded: Redis
// restarted (functions are not persisted without a snapshot) or its
// functions were flushed. The call did not run, so it may be sent again.
func isNoFunction(err error) bool {
	return err != nil && strings.Contains(err.Error(), "Function not found")
}

// fcall calls sc's function, loading the library first if Redis lost it.
func fcall(ctx context.Context, c redis.UniversalClient, sc *script, keys []string, args ...any) *redis.Cmd {
	cmd := c.FCall(ctx, sc.fn(), keys, args...)
	if isNoFunction(cmd.Err()) {
		if err := loadLibrary(ctx, c); err != nil {
			return cmd
		}
		cmd = c.FCall(ctx, sc.fn(), keys, args...)
	}
	return cmd
}

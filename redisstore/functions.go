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

// isLost tells whether err is a call's report that the deployment's epoch
// changed (begin in the library).
func isLost(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "EPCHAT lost")
}

// fcall calls sc's function on c, loading the library first (through
// admin) if Redis lost it.
func fcall(ctx context.Context, c caller, admin redis.UniversalClient, sc *script, keys []string, args ...any) *redis.Cmd {
	cmd := c.FCall(ctx, sc.fn(), keys, args...)
	if isNoFunction(cmd.Err()) {
		if err := loadLibrary(ctx, admin); err != nil {
			return cmd
		}
		cmd = c.FCall(ctx, sc.fn(), keys, args...)
	}
	return cmd
}

// caller is what the hot path sends its commands through: the client, or
// its auto-pipeliner.
type caller interface {
	FCall(ctx context.Context, function string, keys []string, args ...any) *redis.Cmd
	Publish(ctx context.Context, channel string, message any) *redis.IntCmd
	SPublish(ctx context.Context, channel string, message any) *redis.IntCmd
}

// hotPath returns, with WithAutoPipeline, the client's auto-pipeliner
// (go-redis's *Client and *ClusterClient have one, shared by all its
// users), or else the client itself.
// Calls that many goroutines make at once (Message, the publishes) go
// through it: concurrent calls share one write and one read of a
// connection, which is most of what a small call costs Redis (see the
// README's figures). It does not honour each call's context once queued;
// the client's read timeout bounds a call.
func hotPath(c redis.UniversalClient, on bool) caller {
	if !on {
		return c
	}
	if ap, ok := c.(interface {
		AutoPipeline() (*redis.AutoPipeliner, error)
	}); ok {
		if p, err := ap.AutoPipeline(); err == nil {
			return p
		}
	}
	return c
}

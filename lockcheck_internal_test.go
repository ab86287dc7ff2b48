//go:build epchat_lockcheck

package epchat

import (
	"strings"
	"sync"
	"testing"
)

// The checker finds every way of taking the lock order's locks out of
// order, and lets the right orders through, each on a fresh checker.
func TestLockChecker(t *testing.T) {
	type step struct {
		rank lockRank
		key  string
		take bool // else release
	}
	take := func(r lockRank, key string) step { return step{r, key, true} }
	release := func(r lockRank, key string) step { return step{r, key, false} }
	tests := []struct {
		name  string
		steps []step
		want  string // a violation containing this; "" for none
	}{
		{
			name:  "the whole order",
			steps: []step{take(rankRoom, "a"), take(rankRoom, "b"), take(rankHub, ""), take(rankSubs, ""), take(rankConn, ""), take(rankLeaf, "")},
		},
		{
			name:  "fan-out: a shard, then connections one at a time",
			steps: []step{take(rankSubs, ""), take(rankConn, ""), release(rankConn, ""), take(rankConn, ""), release(rankConn, ""), release(rankSubs, ""), take(rankHub, "")},
		},
		{
			name:  "h.mu under a shard",
			steps: []step{take(rankSubs, ""), take(rankHub, "")},
			want:  `took h.mu "" while holding subscription shard`,
		},
		{
			name:  "a room lock under h.mu",
			steps: []step{take(rankHub, ""), take(rankRoom, "a")},
			want:  `took room lock "a" while holding h.mu`,
		},
		{
			name:  "a shard under c.mu",
			steps: []step{take(rankConn, ""), take(rankSubs, "")},
			want:  "took subscription shard",
		},
		{
			name:  "two shards",
			steps: []step{take(rankSubs, ""), take(rankSubs, "")},
			want:  "while holding subscription shard",
		},
		{
			name:  "two connections",
			steps: []step{take(rankConn, ""), take(rankConn, "")},
			want:  "while holding c.mu",
		},
		{
			name:  "rooms against the order of their ids",
			steps: []step{take(rankRoom, "b"), take(rankRoom, "a")},
			want:  `took room lock "a" while holding room lock "b"`,
		},
		{
			name:  "anything under a leaf",
			steps: []step{take(rankLeaf, ""), take(rankConn, "")},
			want:  "while holding roomLocks shard",
		},
		{
			name:  "a release of a lock not held",
			steps: []step{release(rankHub, "")},
			want:  "released h.mu",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var lc lockChecker
			for _, s := range tt.steps {
				if s.take {
					lc.taken(s.rank, s.key)
				} else {
					lc.released(s.rank, s.key)
				}
			}
			got, _ := lc.report()
			switch {
			case tt.want == "" && len(got) > 0:
				t.Fatalf("violation in a right order: %s", got[0])
			case tt.want != "" && (len(got) == 0 || !strings.Contains(got[0], tt.want)):
				t.Fatalf("violations %q, want one with %q", got, tt.want)
			}
		})
	}
}

// Each goroutine's locks are its own: two goroutines that hold locks of
// different ranks at once break no order.
func TestLockCheckerPerGoroutine(t *testing.T) {
	var lc lockChecker
	lc.taken(rankConn, "")
	var wg sync.WaitGroup
	wg.Go(func() {
		lc.taken(rankHub, "")
		lc.released(rankHub, "")
	})
	wg.Wait()
	lc.released(rankConn, "")
	if got, n := lc.report(); len(got) > 0 || n != 2 {
		t.Fatalf("violations %q after %d checks, want none after 2", got, n)
	}
}

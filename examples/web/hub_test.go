package web_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/epchat-go/epchat"
)

// newHub returns a real Hub with its defaults, stopped when the test ends.
func newHub(t *testing.T, opts ...epchat.Option) *epchat.Hub {
	t.Helper()
	hub, err := epchat.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hub.Shutdown(ctx) // an error here means a test shut it down already
	})
	return hub
}

// manualClock is an epchat.Clock that moves only when told, and ticks the
// Hub's sweeper once each time it moves.
type manualClock struct {
	mu   sync.Mutex
	now  time.Time
	tick chan time.Time
}

func newManualClock() *manualClock {
	return &manualClock{now: time.Now(), tick: make(chan time.Time)}
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) NewTicker(time.Duration) (<-chan time.Time, func()) {
	return c.tick, func() {}
}

// Advance moves the clock by d and hands the sweeper one tick, returning
// once the sweeper has taken it.
func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	now := c.now
	c.mu.Unlock()
	c.tick <- now
}

package epchattest

import (
	"sync"
	"sync/atomic"
	"time"
)

// Clock is an epchat.Clock whose time moves only when the test says so,
// for the time rules (invite TTL, idle rooms and users, reconnect grace,
// keepalive) to be tested without sleeping. Several Hubs may share one
// Clock, as the processes of a cluster share the time: each of a Hub's
// two sweepers (connections, then Store) gets a ticker of its own, which
// Advance drives. Its methods may be
// called from several goroutines.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	tickers []*Ticker
}

// Ticker is the ticker of one sweeper of a Hub on a Clock.
type Ticker struct {
	ch   chan time.Time // unbuffered: a send returns once the sweeper took it
	done chan struct{}  // closed when the Hub stops the ticker
	stop sync.Once
	held atomic.Bool
}

// NewClock returns a Clock that reads start until the test moves it.
func NewClock(start time.Time) *Clock {
	return &Clock{now: start}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTicker returns a ticker that ticks only on Advance, whatever d.
func (c *Clock) NewTicker(time.Duration) (<-chan time.Time, func()) {
	tk := &Ticker{ch: make(chan time.Time), done: make(chan struct{})}
	c.mu.Lock()
	c.tickers = append(c.tickers, tk)
	c.mu.Unlock()
	return tk.ch, func() { tk.stop.Do(func() { close(tk.done) }) }
}

// LastTicker returns the ticker made last: the Store sweeper's of the Hub
// made last on this clock (New makes it after the connection sweeper's).
// It panics if there is none.
func (c *Clock) LastTicker() *Ticker {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tickers[len(c.tickers)-1]
}

// Advance moves the clock by d and returns once every Hub on it has swept
// at the new time: it hands each sweeper two ticks, and a sweeper takes
// the second only after it is done with the first. A ticker its Hub
// stopped (Shutdown) or the test held is skipped.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	now, tickers := c.now, c.tickers
	c.mu.Unlock()
	for _, tk := range tickers {
		for range 2 {
			if tk.held.Load() {
				break
			}
			select {
			case tk.ch <- now:
			case <-tk.done:
			}
		}
	}
}

// Hold makes Advance skip this ticker from now on: its sweeper stands
// still, as a dead process's would, while the time the Hub reads goes on
// moving. Held on a Hub's Store sweeper (LastTicker), it stops the Hub's
// Store rules; its connection sweeper goes on, but a dead process's
// connections are gone anyway.
func (t *Ticker) Hold() { t.held.Store(true) }

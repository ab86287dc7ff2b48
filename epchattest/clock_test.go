package epchattest_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/epchat-go/epchat"
	"github.com/epchat-go/epchat/epchattest"
)

var _ epchat.Clock = (*epchattest.Clock)(nil)

var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

// TestClockAdvanceWaitsForTheSweep checks the promise the time tests rest
// on: once Advance returns, every sweeper has done its work at the new time.
func TestClockAdvanceWaitsForTheSweep(t *testing.T) {
	clk := epchattest.NewClock(t0)
	// The second tick starts a second sweep, which may still run after
	// Advance returned: hence the atomic.
	var swept [2]atomic.Int64
	quit := make(chan struct{})
	defer close(quit)
	for i := range swept {
		tick, stop := clk.NewTicker(time.Second)
		go func() {
			defer stop()
			for {
				select {
				case <-quit:
					return
				case <-tick:
					swept[i].Store(clk.Now().UnixNano()) // the work of a sweep
				}
			}
		}()
	}
	for _, d := range []time.Duration{time.Second, time.Hour} {
		clk.Advance(d)
		want := clk.Now()
		for i := range swept {
			if got := time.Unix(0, swept[i].Load()); !got.Equal(want) {
				t.Fatalf("after Advance(%v), sweeper %d last swept at %v, want %v", d, i, got.UTC(), want)
			}
		}
	}
}

// TestClockSkipsStoppedAndHeldTickers checks that Advance does not wait
// for a Hub that was shut down, nor for one the test holds still.
func TestClockSkipsStoppedAndHeldTickers(t *testing.T) {
	clk := epchattest.NewClock(t0)
	hub, err := epchat.New(epchat.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), epchattest.Wait)
	defer cancel()
	if err := hub.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	clk.NewTicker(time.Second) // nobody reads it
	clk.LastTicker().Hold()
	done := make(chan struct{})
	go func() {
		clk.Advance(time.Minute)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(epchattest.Wait):
		t.Fatal("Advance is stuck on a stopped or held ticker")
	}
	if got, want := clk.Now(), t0.Add(time.Minute); !got.Equal(want) {
		t.Errorf("Now() = %v, want %v", got, want)
	}
}

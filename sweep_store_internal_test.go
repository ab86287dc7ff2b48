package epchat

import (
	"testing"
	"time"
)

// TestDueSet: a rule is due at the first sweep at or after an instant
// added, and stays due through the second that instant is in, since a
// sweep early in that second may come before it; the first sweep after
// that second is due too, and forgets it. An instant may be added again
// late.
func TestDueSet(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	var d dueSet
	d.add(at(10500))
	d.add(at(10700)) // the same second: kept once
	d.add(at(30000))
	steps := []struct {
		name string
		now  int // ms after t0
		due  bool
	}{
		{name: "before any", now: 9999, due: false},
		{name: "early in the second", now: 10200, due: true},
		{name: "late in the second", now: 10800, due: true},
		{name: "the first sweep after the second", now: 11000, due: true},
		{name: "the next one", now: 11500, due: false},
		{name: "on the instant", now: 30000, due: true},
		{name: "the second after", now: 31000, due: true},
		{name: "nothing left", now: 31500, due: false},
	}
	for _, s := range steps {
		if got := d.due(at(s.now)); got != s.due {
			t.Errorf("%s: due(%d ms) = %v, want %v", s.name, s.now, got, s.due)
		}
	}
	// An instant added once its second was swept past (a request that read
	// the clock before the sweep) is due at the next sweep.
	d.add(at(30500))
	if !d.due(at(32000)) {
		t.Errorf("instant added late: not due")
	}
	if len(d.secs) != 0 {
		t.Errorf("%d seconds left, want none", len(d.secs))
	}
	// Two seconds added by turns, as a batch that waited out a slow Store
	// and the requests around it do: each is held once.
	for i := range 1000 {
		d.add(at(40000 + i%2*1000))
	}
	if len(d.secs) != 2 || len(d.in) != 2 {
		t.Errorf("two seconds added by turns 1000 times: %d held (%d in the index), want 2", len(d.secs), len(d.in))
	}
	if !d.due(at(42000)) || d.due(at(43000)) || len(d.secs) != 0 || len(d.in) != 0 {
		t.Errorf("after the sweep past them: %d seconds held, %d in the index, want none", len(d.secs), len(d.in))
	}
}

package epchat

import (
	"container/heap"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// storeSweepEvery is how often the Store sweeper applies every Store rule
// whatever this process saw: for the work only the Store knows of (a room
// last active in a process that has stopped, or before this one started),
// and for the idle user rules, which need no second precision (5 days,
// 10 minutes).
const storeSweepEvery = time.Minute

// storeSweeper applies the Store's time rules on the Hub's clock: idle
// rooms close, expired invites are deleted, disconnected users lose their
// seats after the reconnect grace, and idle users are forgotten.
//
// An idle Hub should not ask its Store every second for work that cannot
// be there, so each rule that needs second precision runs when something
// this process saw may have come of age: a room's last message (sent here
// or delivered by the Broker) or its creation, an invite made here, a
// connection that ended here. Those instants are kept in a dueSet per
// rule; a rule runs at the first tick at or after one of them, so it acts
// within a second as a sweep every second would. Every rule also runs
// once every storeSweepEvery, and, with a Broker, vacating runs at every
// tick: the members of a process that died are detached since its last
// heartbeat, which no event here tells.
type storeSweeper struct {
	rooms   dueSet // when a room may have been idle for the room idle timeout
	invites dueSet // when an invite made here expires
	vacate  dueSet // when a user detached here has had the reconnect grace
	// last is when every rule last ran (zero: the first tick runs them).
	last time.Time
}

// sweepStoreLoop runs the Store sweeper on every tick until Shutdown.
func (h *Hub) sweepStoreLoop(tick <-chan time.Time, stop func()) {
	defer h.wg.Done()
	defer stop()
	for {
		select {
		case <-h.done:
			return
		case <-tick:
			h.sweepStore(h.clock.Now())
		}
	}
}

// sweepStore applies the Store rules that are due at now. It is the only
// place where time passing changes the Store, so the rules need no
// goroutine or timer each. Only the Store sweeper calls it.
func (h *Hub) sweepStore(now time.Time) {
	s := &h.storeSweep
	all := now.Sub(s.last) >= storeSweepEvery
	if all {
		s.last = now
	}
	if s.rooms.due(now) || all {
		h.closeIdleRooms(now)
	}
	if s.vacate.due(now) || all || h.broker != nil {
		h.vacateUsers(now)
	}
	if all {
		h.forgetUsers(now)
	}
	if s.invites.due(now) || all {
		h.expireInvites(now)
	}
}

// roomActive notes that room activity at now (a message, the room's
// creation) makes the room idle at now plus the room idle timeout, unless
// more comes.
func (h *Hub) roomActive(now time.Time) { h.storeSweep.rooms.add(now.Add(h.cfg.roomIdle)) }

// closeIdleRooms applies the room idle timeout.
func (h *Hub) closeIdleRooms(now time.Time) {
	closed, err := h.store.CloseIdleRooms(h.ctx, now.Add(-h.cfg.roomIdle))
	if err != nil {
		h.log.Error("sweep idle rooms", "err", err)
		return
	}
	for _, cr := range closed {
		h.announceClosed(cr.Room.ID, ReasonIdle, len(cr.Members))
	}
}

// vacateUsers applies the reconnect grace.
func (h *Hub) vacateUsers(now time.Time) {
	deps, err := h.store.VacateUsers(h.ctx, now.Add(-h.cfg.grace))
	if err != nil {
		h.log.Error("sweep disconnected users", "err", err)
		return
	}
	h.announceDepartures(deps)
}

// forgetUsers applies the user idle and seatless rules: the Store forgets
// the users, the rooms hear of their departures, and the per-address
// counts let go of them.
func (h *Hub) forgetUsers(now time.Time) {
	deps, err := h.store.ForgetUsers(h.ctx, now.Add(-h.cfg.userIdle), now.Add(-h.cfg.seatlessIdle))
	if err != nil {
		h.log.Error("sweep idle users", "err", err)
	} else {
		h.announceDepartures(deps)
		h.stats.usersForgotten.Add(uint64(len(deps)))
		for _, d := range deps {
			h.guard.dropUser(d.User)
		}
		if len(deps) > 0 {
			h.log.Info("users forgotten", "count", len(deps))
		}
	}
	h.guard.expireUsers(now, h.userLife(), func(user string) bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.users.has(user)
	})
}

// expireInvites deletes the expired invites. Redeem refuses an invite
// from its ExpiresAt on, swept or not: this only frees the Store and
// counts them.
func (h *Hub) expireInvites(now time.Time) {
	n, err := h.store.ExpireInvites(h.ctx, now)
	if err != nil {
		h.log.Error("sweep invites", "err", err)
	} else if n > 0 {
		h.stats.invitesExpired.Add(uint64(n))
		h.log.Debug("invites expired", "count", n)
	}
}

// dueSet is a set of instants at which a Store rule may find work, kept to
// the second (sweepInterval): each second is in it once, however many
// times and in whatever order it is added (a batch of sends waiting out a
// slow Store carries an earlier instant than the requests around it), so
// the set holds no more seconds than its rule's duration (the room idle
// timeout, say). It is safe for concurrent use; adding the second added
// last, as every message but one a second does, costs one atomic load.
type dueSet struct {
	last atomic.Int64 // the second added last
	mu   sync.Mutex
	secs secHeap            // the seconds added and not yet swept past
	in   map[int64]struct{} // the same seconds
}

// add notes that the rule may find work at t or later. Call it before the
// Store call that makes the work, so that a sweep that can see the work
// sees the instant too.
func (d *dueSet) add(t time.Time) {
	s := t.Unix()
	if d.last.Load() == s {
		return
	}
	d.mu.Lock()
	if _, ok := d.in[s]; !ok {
		if d.in == nil {
			d.in = make(map[int64]struct{})
		}
		d.in[s] = struct{}{}
		heap.Push(&d.secs, s)
	}
	d.last.Store(s)
	d.mu.Unlock()
}

// due reports whether an instant added is at or before now, and forgets
// those that a sweep at now covers: all of the seconds that ended by now.
// The instants of the current second stay, for the next tick, since some
// of them may be after now.
func (d *dueSet) due(now time.Time) bool {
	n := now.Unix()
	d.mu.Lock()
	defer d.mu.Unlock()
	found := false
	for len(d.secs) > 0 && d.secs[0] <= n {
		found = true
		if d.secs[0] == n {
			break
		}
		s := heap.Pop(&d.secs).(int64)
		delete(d.in, s)
		if s == d.last.Load() {
			d.last.Store(math.MinInt64) // that second may come again, late
		}
	}
	return found
}

// secHeap is a min-heap of Unix seconds (container/heap).
type secHeap []int64

func (h secHeap) Len() int           { return len(h) }
func (h secHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h secHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *secHeap) Push(x any)        { *h = append(*h, x.(int64)) }
func (h *secHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

package epchat

import "fmt"

// Test-only views of the Hub's internals, for the hardening tests that
// check bounds a client cannot see (queue sizes, live connections).

// QueuedBytes returns the bytes queued and not yet handed to the kernel,
// for every live connection.
func (h *Hub) QueuedBytes() []int {
	h.mu.Lock()
	conns := make([]*conn, 0, len(h.conns))
	for _, c := range h.conns {
		conns = append(conns, c)
	}
	h.mu.Unlock()
	out := make([]int, 0, len(conns))
	for _, c := range conns {
		out = append(out, c.Queued())
	}
	return out
}

// LiveConns returns the number of connections the Hub serves, and of
// connection slots taken (admitted, not yet released).
func (h *Hub) LiveConns() (conns, slots int) {
	h.mu.Lock()
	conns = len(h.conns)
	h.mu.Unlock()
	h.guard.mu.Lock()
	slots = h.guard.total
	h.guard.mu.Unlock()
	return conns, slots
}

// StalledWrites returns how many connections have a write waiting for
// their peer.
func (h *Hub) StalledWrites() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, c := range h.conns {
		if c.Waits()%2 == 1 {
			n++
		}
	}
	return n
}

// RoomLocksLive returns how many rooms' locks are held or waited for: an
// entry that outlives its last holder is a leak.
func (h *Hub) RoomLocksLive() int { return h.locks.held() }

// LockOrderChecked reports whether this test binary checks the lock order
// (built with -tags epchat_lockcheck).
func LockOrderChecked() bool { return lockCheck }

// LockOrderChecks returns how many locks this test binary checked so far.
func LockOrderChecks() int64 { return lockChecks() }

// CheckSubscriptions checks that the subscription shards and the
// connections' lists of rooms say the same: a connection is subscribed to
// a room once, exactly when the room is in its list, and only while the
// Hub lists it (finish unsubscribes it as it drops it from the list).
func (h *Hub) CheckSubscriptions() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	listed := 0
	for _, c := range h.conns {
		rooms := c.rooms.list()
		listed += len(rooms)
		for _, room := range rooms {
			s := h.subs.shard(room)
			s.mu.Lock()
			n := 0
			for _, x := range s.m[room] {
				if x == c {
					n++
				}
			}
			s.mu.Unlock()
			if n != 1 {
				return fmt.Errorf("conn %d lists room %s and is subscribed %d times", c.ID, room, n)
			}
		}
	}
	subscribed := 0
	for i := range h.subs.shards {
		s := &h.subs.shards[i]
		s.mu.Lock()
		for room, subs := range s.m {
			subscribed += len(subs)
			for _, c := range subs {
				if int(c.slot) >= len(h.conns) || h.conns[c.slot] != c {
					s.mu.Unlock()
					return fmt.Errorf("conn %d, torn down, is still subscribed to room %s", c.ID, room)
				}
			}
			if len(subs) == 0 {
				s.mu.Unlock()
				return fmt.Errorf("room %s kept with no subscriber", room)
			}
		}
		s.mu.Unlock()
	}
	if listed != subscribed {
		return fmt.Errorf("%d rooms listed by connections, %d subscriptions", listed, subscribed)
	}
	return nil
}

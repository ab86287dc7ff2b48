package epchat

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

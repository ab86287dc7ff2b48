package epchat

import "time"

// sweepInterval is how often the sweepers run: the connection sweeper
// every time, the Store sweeper when one of its rules may find work.
const sweepInterval = time.Second

// connSweeper applies the rules on this process's connections: the
// identify timeout, keepalive and the write timeout, and forgets the
// token guesses of addresses whose window has passed. It makes no Store
// call, so a slow Store never delays a ping or the drop of a stalled
// writer. The identify timeout and keepalive are time rules a client
// sees, on the Hub's clock (WithClock); the write timeout is real time,
// as a socket deadline is (see writeStalled).
type connSweeper struct {
	// buf is the reused chunk of connections (see sweepConns).
	buf []*conn
}

// sweepConnsLoop runs the connection sweeper on every tick until
// Shutdown.
func (h *Hub) sweepConnsLoop(tick <-chan time.Time, stop func()) {
	defer h.wg.Done()
	defer stop()
	for {
		select {
		case <-h.done:
			return
		case <-tick:
			now := h.clock.Now()
			h.sweepConns(now)
			h.guard.sweep(now, h.cfg.guessWindow)
		}
	}
}

// sweepConns applies the identify timeout, the write timeout and
// keepalive: a connection whose write has waited for the peer for the
// write timeout is hung up; one silent for the ping interval is pinged;
// one still silent the pong timeout after that ping is dropped.
// Only the connection sweeper calls it.
func (h *Hub) sweepConns(now time.Time) {
	nowNs := now.UnixNano()
	mono := monoNow()
	// A chunk at a time, so that the Hub's lock is never held for long
	// with many members. A connection that another's removal moves
	// across the chunk boundary is seen twice or not at all this time:
	// the rules run again next second.
	for i := 0; ; i += sweepChunk {
		h.mu.Lock()
		if i >= len(h.conns) {
			h.mu.Unlock()
			break
		}
		chunk := append(h.connSweep.buf[:0], h.conns[i:min(i+sweepChunk, len(h.conns))]...)
		h.mu.Unlock()
		for _, c := range chunk {
			h.sweepConn(c, nowNs, mono)
		}
		clear(chunk) // keep no connection alive through the buffer
		h.connSweep.buf = chunk[:0]
	}
}

// sweepChunk is how many connections the sweeper takes at once.
const sweepChunk = 1024

// sweepConn applies sweepConns' rules to one connection.
func (h *Hub) sweepConn(c *conn, nowNs int64, mono time.Duration) {
	if !c.has(flagIdentified|flagGreeting) && time.Duration(nowNs-c.created) >= h.cfg.identifyTimeout {
		c.CloseWith(closeIdentifyTimeout, "identify timeout")
		return
	}
	if h.writeStalled(c, mono) {
		h.log.Info("write timeout", "conn", c.ID)
		c.noteCause(causeSlow)
		c.Abort()
		return
	}
	last, pinged := c.LastRead(), c.pinged.Load()
	switch {
	case pinged > last && time.Duration(nowNs-pinged) >= h.cfg.pongTimeout:
		h.log.Debug("no pong", "conn", c.ID)
		c.CloseWith(closePingTimeout, "no pong")
	case pinged <= last && time.Duration(nowNs-last) >= h.cfg.pingInterval:
		c.pinged.Store(nowNs)
		c.Ping()
	}
}

// monoBase is the origin of monoNow.
var monoBase = time.Now()

// monoNow is the time elapsed on the monotonic clock since monoBase.
func monoNow() time.Duration { return time.Since(monoBase) }

// writeStalled reports whether a write of c has waited for its peer for
// the write timeout, from the first sweep that saw it waiting. Like a
// socket deadline, the write timeout is real time, not the Hub's clock:
// that clock is for the time rules, and a test that moves it ahead would
// otherwise take a write merely not yet scheduled for a stalled one. Only
// the connection sweeper calls it.
func (h *Hub) writeStalled(c *conn, now time.Duration) bool {
	w := c.Waits()
	switch {
	case w%2 == 0: // no write waits
		c.stallSeen = 0
		return false
	case w != c.stallSeen:
		c.stallSeen, c.stallSince = w, int64(now)
		return false
	case now-time.Duration(c.stallSince) < h.cfg.writeTimeout:
		return false
	}
	c.stallSeen = 0 // act once
	return true
}

package transport

import (
	"time"

	"github.com/gobwas/ws"

	"github.com/epchat-go/epchat/internal/wsframe"
)

// CloseWith starts the closing handshake: what is queued is still written,
// then the close frame with code and reason; then the peer has Env.Drain
// to answer before it is hung up. A connection already closing is left as
// it is.
func (c *Conn) CloseWith(code ws.StatusCode, reason string) {
	c.mu.Lock()
	if c.st != open {
		c.mu.Unlock()
		return
	}
	defer c.mu.Unlock()
	c.setState(closing)
	c.up.Ending(code)
	// The close frame goes after what is queued, and nothing after it.
	c.queue = append(c.queue, wsframe.AppendClose(nil, code, reason))
	c.kick()
	// Bound the wait: for the close frame to get out, then for the
	// peer's answer.
	if c.is(bitShortDrain) {
		c.drainTimer = time.AfterFunc(violationDrain, c.Abort)
	} else {
		n, _ := c.sock().unsent()
		c.armDrain(monoNow(), c.waits.Load(), n)
	}
}

// closeSlow drops what is queued for a peer that does not read (but the
// end of a frame partly written), and closes it with CloseTooSlow. The
// drain timer of CloseWith hangs up if the peer does not take that either.
func (c *Conn) closeSlow() {
	c.mu.Lock()
	keep := 0
	if c.is(bitHeadPartial) {
		keep = 1
	}
	clear(c.queue[keep:])
	c.queue = c.queue[:keep]
	c.queued = 0
	if keep > 0 {
		c.queued = int32(len(c.queue[0]))
	}
	c.mu.Unlock()
	c.CloseWith(CloseTooSlow, "too slow")
}

// armDrain (re)starts the drain timer of a closing connection, with c.mu
// held. When it fires, the connection is dropped, unless its close frame
// is still on the way to a peer that is still reading: then the timer
// starts again, and once the frame is out the peer has the whole drain to
// answer (closeFrameOut). So a slow reader reads its close code
// (PROTOCOL.md), however long the kernel takes to deliver what it held
// before it; a reader that stopped is dropped after one drain. A peer
// still reads when the kernel's unacknowledged bytes for it went down
// since the timer was set, or, in poll mode, when the writer resumed;
// where the kernel's count cannot be read (TLS in blocking mode) it is
// given the benefit of the doubt. Either way the close frame gets at most
// Env.WriteTimeout, from the start of the close, to get out.
func (c *Conn) armDrain(start time.Duration, waits uint32, unsent int) {
	c.drainTimer = time.AfterFunc(c.env.Drain, func() {
		c.mu.Lock()
		w := c.waits.Load()
		n, known := c.sock().unsent()
		reading := !known || n < unsent || c.sock().resumes() && w != waits
		onItsWay := c.st == closing && reading && monoNow()-start < c.env.WriteTimeout
		if onItsWay {
			c.armDrain(start, w, n)
		}
		c.mu.Unlock()
		if !onItsWay {
			c.Abort()
		}
	})
}

// monoBase is the origin of monoNow.
var monoBase = time.Now()

// monoNow is the time elapsed on the monotonic clock since monoBase: the
// write timeout is real time, like a socket deadline, not the layer
// above's clock, which tests move ahead.
func monoNow() time.Duration { return time.Since(monoBase) }

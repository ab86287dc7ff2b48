package transport

import (
	"errors"
	"syscall"
	"time"

	"github.com/gobwas/ws"

	"github.com/epchat-go/epchat/internal/netpoll"
	"github.com/epchat-go/epchat/internal/wsframe"
)

// Send queues an encoded frame. It never blocks: a connection whose queue
// would overflow Env.QueueLimit is too slow, and is closed with
// CloseTooSlow. The frame's bytes may be shared with other connections and
// must not change.
func (c *Conn) Send(frame []byte) { c.enqueue(frame, false) }

// SendAll queues frames[i] for every i where from[i] is not this
// connection's ID (a message is not sent back to its sender), in order,
// with one writer start for all: a burst of a room's messages reaches the
// connection in as few writes as the socket takes. Like Send, it never
// blocks and closes a connection whose queue would overflow. It returns
// how many of the frames are for this connection (queued, or lost with a
// connection that is closing), as a count of deliveries.
func (c *Conn) SendAll(frames [][]byte, from []uint64) (n int) {
	size := 0
	for i, f := range frames {
		if from[i] != c.ID {
			size += len(f)
			n++
		}
	}
	if n == 0 {
		return 0
	}
	c.mu.Lock()
	if c.st != open {
		c.mu.Unlock()
		return n
	}
	if int(c.queued)+size > c.env.QueueLimit {
		c.mu.Unlock()
		c.env.Log.Info("connection too slow", "conn", c.ID)
		c.closeSlow()
		return n
	}
	for i, f := range frames {
		if from[i] != c.ID {
			c.queue = append(c.queue, f)
		}
	}
	c.queued += int32(size)
	c.kick()
	c.mu.Unlock()
	return n
}

// pingFrame is the keepalive ping, shared by every connection.
var pingFrame = wsframe.AppendFrame(nil, ws.OpPing, nil)

// Ping sends a keepalive ping. A sweeper pings every silent connection in
// one pass; a writer goroutine each to write two bytes would leave their
// stacks with the process, so a connection with nothing else to write gets
// its ping in one non-blocking write where the mode allows, and goes
// through the queue only when the socket does not take it.
func (c *Conn) Ping() {
	if !c.writeNow(pingFrame) {
		c.enqueue(pingFrame, true)
	}
}

// writeNow writes a small frame at once, on the caller's goroutine, when
// nothing else is being written: one non-blocking write, never a wait. It
// reports false, having written nothing, when the socket would block or
// another write is under way; the caller then queues the frame.
func (c *Conn) writeNow(frame []byte) bool {
	c.mu.Lock()
	if c.wr != idle || c.st != open || len(c.queue) > 0 {
		c.mu.Unlock()
		return false
	}
	c.setWriter(writing) // the writes are ours until we are done
	c.mu.Unlock()

	n, err := c.sock().tryWrite(frame)
	c.env.BytesOut.Add(uint64(max(n, 0)))
	c.mu.Lock()
	c.setWriter(idle)
	if n > 0 && n < len(frame) && c.st != dead {
		c.queue = append([][]byte{frame[n:]}, c.queue...) // the rest goes first
		c.queued += int32(len(frame) - n)
		c.set(bitHeadPartial, true)
	}
	if len(c.queue) > 0 {
		c.kick() // what came meanwhile, and any rest
	}
	c.releaseLocked()
	c.mu.Unlock()
	switch {
	case n > 0 || err == nil:
		return true
	case err == syscall.EAGAIN:
		return false
	}
	c.up.Ending(PeerGone)
	c.Abort() // the socket is gone; the read side tears down
	return true
}

func (c *Conn) enqueue(frame []byte, control bool) {
	c.mu.Lock()
	if c.st != open {
		c.mu.Unlock()
		return
	}
	if !control && int(c.queued)+len(frame) > c.env.QueueLimit {
		c.mu.Unlock()
		c.env.Log.Info("connection too slow", "conn", c.ID)
		c.closeSlow()
		return
	}
	c.queue = append(c.queue, frame)
	c.queued += int32(len(frame))
	c.kick()
	c.mu.Unlock()
}

// kick starts a writer if none owns the writes. Called with c.mu held.
func (c *Conn) kick() {
	if c.wr != idle || c.st == dead {
		return
	}
	c.setWriter(writing)
	c.env.Writers.Add(1)
	go c.flush()
}

// flush is the writer a kick starts, on a goroutine of its own.
func (c *Conn) flush() {
	defer c.env.Writers.Done()
	c.writeQueue()
}

// writeQueue writes what is queued, then the close frame when one is due,
// until nothing is left; the caller owns the writes. In poll mode no write
// blocks: when the socket is full, writeQueue asks the poller for room and
// returns still owning the writes (waiting), and onWritable calls it
// again.
func (c *Conn) writeQueue() {
	for {
		c.mu.Lock()
		batch, last := c.queue, c.st == closing
		if len(batch) == 0 || c.st == dead {
			// Idle: hold no queue array while nothing is sent.
			c.setWriter(idle)
			c.queue = nil
			c.releaseLocked()
			c.mu.Unlock()
			return
		}
		c.queue, c.queued = nil, 0
		c.set(bitHeadPartial, false)
		c.mu.Unlock()

		n, err := c.sock().writev(batch)
		c.env.BytesOut.Add(uint64(max(n, 0)))
		if err == syscall.EAGAIN {
			c.waitForRoom(batch, int(n))
			return
		}
		clear(batch)
		c.mu.Lock()
		if c.queue == nil {
			c.queue = batch[:0] // reuse the array for what came meanwhile
		}
		c.mu.Unlock()
		if err != nil {
			c.up.Ending(PeerGone)
			c.Abort()
			c.mu.Lock()
			c.setWriter(idle)
			c.releaseLocked()
			c.mu.Unlock()
			return
		}
		if last {
			c.closeFrameOut()
		}
	}
}

// closeFrameOut follows our close frame out. If the peer's close came
// already, the handshake is done; otherwise half-close so the peer reads
// everything, and give it the whole drain to answer. The caller owns the
// writes, so the socket stays open meanwhile.
func (c *Conn) closeFrameOut() {
	c.mu.Lock()
	if c.st == dead { // torn down while the frame went out: nothing to follow
		c.mu.Unlock()
		return
	}
	c.setState(closeSent)
	done := c.is(bitPeerClosed)
	if !done && !c.is(bitShortDrain) && c.drainTimer != nil && c.drainTimer.Stop() {
		c.drainTimer = time.AfterFunc(c.env.Drain, c.Abort)
	}
	c.mu.Unlock()
	if done {
		c.Abort()
		return
	}
	c.sock().halfClose()
}

// waitForRoom puts back what a full socket did not take of batch, ahead of
// what came meanwhile (if our close frame was in batch, nothing came), and
// asks the poller to call when there is room. The writes stay owned: no
// other writer may start, so order is kept.
func (c *Conn) waitForRoom(batch [][]byte, n int) {
	i := 0
	for i < len(batch) && n >= len(batch[i]) {
		n -= len(batch[i])
		i++
	}
	rest := batch[i:]
	rest[0] = rest[0][n:]
	c.mu.Lock()
	for _, b := range rest {
		c.queued += int32(len(b))
	}
	c.set(bitHeadPartial, n > 0)
	c.queue = append(rest, c.queue...)
	if c.st == dead {
		c.setWriter(idle)
		c.releaseLocked()
		c.mu.Unlock()
		return
	}
	c.setWriter(waiting)
	c.waits.Add(1)
	c.mu.Unlock()
	if err := c.poll.WantWrite(); err != nil && !errors.Is(err, netpoll.ErrClosed) {
		c.Abort() // ErrClosed: teardown is under way already
	}
}

// onWritable resumes the writer that waited for room, on the poller's
// worker: the writes do not block.
func (c *Conn) onWritable() {
	c.mu.Lock()
	resume := c.wr == waiting
	if resume {
		c.setWriter(writing)
	}
	c.mu.Unlock()
	if resume {
		c.waits.Add(1)
		c.writeQueue()
	}
}

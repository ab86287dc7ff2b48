package epchat

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gobwas/ws"

	"github.com/epchat-go/epchat/internal/ids"
	"github.com/epchat-go/epchat/internal/netpoll"
	"github.com/epchat-go/epchat/internal/wire"
	"github.com/epchat-go/epchat/internal/wsframe"
)

// Application close codes (PROTOCOL.md).
const (
	closeIdentifyTimeout ws.StatusCode = 4000
	closeTooSlow         ws.StatusCode = 4001
	closePingTimeout     ws.StatusCode = 4002
	closeSessionEnded    ws.StatusCode = 4003
)

// violationDrain is how long a connection closed for a protocol violation
// is kept after our close frame: its stream cannot be parsed for a close
// reply, but closing at once could reset the socket before the peer read
// the close code.
const violationDrain = 250 * time.Millisecond

// readBufSize is the size of the buffer a connection reads into.
const readBufSize = 4096

// touchEvery is how often at most a connection's activity is written to the
// Store: the user idle rule counts in days.
const touchEvery = time.Minute

var connSeq atomic.Uint64

// Flags of a connection (conn.flags).
const (
	flagPolled     uint32 = 1 << iota // the poller watches pd
	flagAborted                       // abort was called
	flagFinished                      // torn down
	flagIdentified                    // hello succeeded: user and nick are set

	causeShift = 8 // conn.flags >> causeShift is a closeCause
)

// has reports whether flag f is set.
func (c *conn) has(f uint32) bool { return c.flags.Load()&f != 0 }

// reqPool holds the scratch requests of handle: a connection keeps none
// while idle.
var reqPool = sync.Pool{New: func() any { return new(wire.Request) }}

// conn is one WebSocket connection. Its read side owns the reading and
// handles the client's requests one at a time, so replies keep the order
// of requests. Writes go through a bounded queue flushed by at most one
// writer at a time; nothing ever blocks on a slow peer but that peer.
//
// A connection runs in one of two modes, fixed when it is made. With the
// Hub's poller (Linux, a plain socket), the socket is taken out of its
// net.Conn as a raw descriptor: the poller reads it when it has bytes, and
// writes never block (a full socket waits for the poller's word), so an
// idle or stalled connection holds no goroutine, no buffer, no timer and no
// net.Conn. Otherwise (TLS, other systems, WithNetpoll(false)) a goroutine
// reads nc in a loop and writes block under the connection sweeper's
// write timeout.
type conn struct {
	h  *Hub
	nc net.Conn // blocking mode; nil in poll mode
	id uint64

	created int64 // clock time, Unix ns

	// addr is the client address the per-address limits count it by.
	addr string

	// Read side, owned by the read loop.
	rd        wsframe.Reader
	lastTouch int64 // clock time of the last TouchUser, Unix ns
	bucket    tokenBucket
	abuse     *abuse // nil until the first violation or failed guess

	// pd is the poller's watch of fd; valid once flagPolled is set.
	pd netpoll.Desc

	lastRead atomic.Int64  // clock time of the last bytes read, Unix ns
	pinged   atomic.Int64  // clock time of the last ping sent, Unix ns
	flags    atomic.Uint32 // flag bits, and from causeShift why it ends (stats.go)
	// waits is odd while a write waits for the peer, and moves on with
	// each wait, so the connection sweeper tells one long wait from
	// several short ones. stallSeen and stallSince are the connection
	// sweeper's: the wait it saw, and when it first saw it (monotonic,
	// see monoNow).
	waits      atomic.Uint32
	stallSeen  uint32
	slot       int32 // index in h.conns; guarded by h.mu
	stallSince int64

	// user and nick are set once by hello, before identified is set; a
	// nickname set by the host (WithAuthorize) is in nick before that.
	user string
	nick string

	// rooms this connection receives the events of; guarded by h.mu.
	rooms []string

	mu         connMutex
	queue      [][]byte
	queued     int
	drainTimer *time.Timer
	fd         int32 // poll mode: the socket; -1 in blocking mode
	flushing   bool  // a writer owns the writes (it may be waiting for room)
	waitingOut bool  // poll mode: the writer waits for the poller to say there is room
	// headPartial: queue[0] is the end of a frame partly written, which
	// must go out before anything else.
	headPartial bool
	closing     bool // a close frame is pending or sent: enqueue nothing more
	closeQueued bool // our close frame ends the queue (or the batch being written)
	closeSent   bool // our close frame is out
	peerClosed  bool // the peer's close frame came in
	dead        bool // torn down: no more writes
	fdClosed    bool // poll mode: closeFDLocked closed fd
	shortDrain  bool // after a protocol violation: see violationDrain

	broken bool // read side: a protocol violation, ignore the rest of the stream
}

// newConn makes a connection of nc, in poll mode when the Hub has a poller
// and nc a socket it can take over.
func newConn(h *Hub, nc net.Conn) *conn {
	now := h.clock.Now()
	if n := h.cfg.sockSendBuf; n > 0 {
		setSendBuffer(nc, n)
	}
	c := &conn{
		h:       h,
		nc:      nc,
		fd:      -1,
		id:      connSeq.Add(1),
		created: now.UnixNano(),
	}
	if h.poller != nil {
		if fd, err := netpoll.Detach(nc); err == nil {
			c.nc, c.fd = nil, int32(fd)
		} else if h.unpolledWarned.CompareAndSwap(false, true) {
			h.log.Info("a connection is served without the poller, with a goroutine of its own: it is not a plain TCP socket (TLS terminated by the http.Server?); Stats.ConnectionsPolled counts the others")
		}
	}
	c.rd.MaxFrame = int32(h.cfg.readLimit())
	c.rd.MaxMessage = int32(h.cfg.readLimit())
	c.lastRead.Store(now.UnixNano())
	return c
}

// setSendBuffer sets the kernel send buffer of nc's socket, under TLS
// too; a connection that is no socket keeps what it has. Set before the
// poller detaches the descriptor, so both read modes get it.
func setSendBuffer(nc net.Conn, n int) {
	for {
		switch c := nc.(type) {
		case interface{ SetWriteBuffer(int) error }:
			c.SetWriteBuffer(n)
			return
		case interface{ NetConn() net.Conn }: // *tls.Conn
			nc = c.NetConn()
		default:
			return
		}
	}
}

// maxReadsPerWake bounds the reads one readiness callback makes, so one
// busy connection cannot hold a worker while others wait.
const maxReadsPerWake = 16

var readBufs = sync.Pool{New: func() any { b := make([]byte, readBufSize); return &b }}

// watch hands a poll-mode connection to the Hub's poller: from then on it
// has no goroutine and no buffer while idle. early bytes are handled first.
func (c *conn) watch(early []byte) {
	if len(early) > 0 {
		c.feed(early)
	}
	if err := c.h.poller.Add(&c.pd, int(c.fd), c); err != nil {
		c.finish()
		return
	}
	c.h.stats.connsPolled.Add(1)
	if c.flags.Or(flagPolled)&flagAborted != 0 {
		c.pd.Wake() // abort came before the watch was known
	}
}

// OnReady implements netpoll.Handler. It runs on a poller worker when the
// socket has room again after a write waited, or has bytes (or was closed):
// it reads without blocking until there is nothing left, then re-arms.
func (c *conn) OnReady(d *netpoll.Desc, ev netpoll.Event) {
	if ev&netpoll.Writable != 0 {
		c.onWritable()
	}
	if c.has(flagFinished) {
		return
	}
	if ev&(netpoll.Readable|netpoll.Woken) == 0 {
		if d.Resume() != nil {
			c.finish()
		}
		return
	}
	bp := readBufs.Get().(*[]byte)
	defer readBufs.Put(bp)
	for range maxReadsPerWake {
		if c.has(flagFinished) {
			return
		}
		n, err := netpoll.Read(int(c.fd), *bp)
		if n > 0 {
			c.lastRead.Store(c.h.clock.Now().UnixNano())
			c.feed((*bp)[:n])
		}
		switch {
		case err == syscall.EAGAIN:
			if d.Resume() != nil {
				c.finish()
			}
			return
		case err != nil || n == 0:
			c.finish()
			return
		}
	}
	if d.Resume() != nil {
		c.finish()
	}
}

// readLoop reads and handles the stream until the connection ends, then
// tears the connection down. It serves blocking-mode connections.
func (c *conn) readLoop(early []byte) {
	defer c.finish()
	if len(early) > 0 {
		c.feed(early)
	}
	buf := make([]byte, readBufSize)
	for {
		n, err := c.nc.Read(buf)
		if n > 0 {
			c.lastRead.Store(c.h.clock.Now().UnixNano())
			c.feed(buf[:n])
		}
		if err != nil {
			return
		}
	}
}

func (c *conn) feed(b []byte) {
	c.h.stats.bytesIn.Add(uint64(len(b)))
	if c.broken {
		return
	}
	if err := c.rd.Feed(b, c); err != nil {
		c.broken = true
		code := ws.StatusProtocolError
		reason := "protocol error"
		var ce *wsframe.CloseError
		if errors.As(err, &ce) {
			code, reason = ce.Code, ce.Reason
		}
		c.h.log.Debug("protocol violation", "conn", c.id, "code", int(code))
		// The rest of the stream cannot be read, the peer's close reply
		// included: give it only a short while to read our close frame.
		c.mu.Lock()
		c.shortDrain = true
		c.mu.Unlock()
		c.closeWith(code, reason)
	}
}

// OnText implements wsframe.Handler: one request.
func (c *conn) OnText(p []byte) {
	if c.isClosing() {
		return
	}
	c.h.handle(c, p)
	if c.h.poller != nil && c.has(flagPolled) {
		c.h.poller.Progress() // handled: this worker is not stuck
	}
}

// OnPing implements wsframe.Handler. The pong counts toward the send
// queue limit like any frame: a peer that pings without reading the
// answers is too slow, not a reason to grow the queue without end.
func (c *conn) OnPing(p []byte) {
	c.enqueue(wsframe.AppendFrame(nil, ws.OpPong, p), false)
}

// OnPong implements wsframe.Handler. Reading it was the proof of life.
func (c *conn) OnPong([]byte) {}

// OnClose implements wsframe.Handler. If the peer started the closing
// handshake, answer in kind; if it answers ours, the handshake is complete
// and the socket closes as soon as our close frame is out.
func (c *conn) OnClose(code ws.StatusCode, _ []byte) {
	c.noteCause(causeClient)
	if code == ws.StatusNoStatusRcvd {
		code = ws.StatusNormalClosure
	}
	c.mu.Lock()
	c.peerClosed = true
	closing, sent := c.closing, c.closeSent
	c.mu.Unlock()
	switch {
	case !closing:
		c.closeWith(code, "")
	case sent:
		// The handshake is complete. Hang up; the next read fails and the
		// read side tears the connection down (not here: this runs inside
		// the frame reader).
		c.abort()
	}
}

// pingFrame is the keepalive ping, shared by every connection.
var pingFrame = wsframe.AppendFrame(nil, ws.OpPing, nil)

// ping sends a keepalive ping. The connection sweeper pings every silent
// connection in one pass; a flush goroutine each to write two bytes would
// leave their stacks with the process, so a poll-mode connection with
// nothing else to write gets its ping in one non-blocking write, and goes
// through the queue only when the socket does not take it.
func (c *conn) ping() {
	if c.nc == nil && c.writeNow(pingFrame) {
		return
	}
	c.enqueue(pingFrame, true)
}

// writeNow writes a small frame at once, on the caller's goroutine, when
// nothing else is being written: one non-blocking write, never a wait. It
// reports false, having written nothing, when the socket would block or
// another write is under way; the caller then queues the frame.
func (c *conn) writeNow(frame []byte) bool {
	c.mu.Lock()
	if c.flushing || c.closing || c.dead || len(c.queue) > 0 {
		c.mu.Unlock()
		return false
	}
	c.flushing = true // the writes are ours until we are done
	c.mu.Unlock()

	n, err := netpoll.Write(int(c.fd), frame)
	c.h.stats.bytesOut.Add(uint64(n))
	c.mu.Lock()
	c.flushing = false
	if n > 0 && n < len(frame) && !c.dead {
		c.queue = append([][]byte{frame[n:]}, c.queue...) // the rest goes first
		c.queued += len(frame) - n
		c.headPartial = true
	}
	if len(c.queue) > 0 {
		c.kick() // what came meanwhile, and any rest
	}
	c.closeFDLocked()
	c.mu.Unlock()
	switch {
	case n > 0 || err == nil:
		return true
	case err == syscall.EAGAIN:
		return false
	}
	c.noteCause(causeClient)
	c.abort() // the socket is gone; the read side tears down
	return true
}

// send queues an encoded frame. It never blocks: a connection whose queue
// overflows is too slow and is closed.
func (c *conn) send(frame []byte) { c.enqueue(frame, false) }

func (c *conn) enqueue(frame []byte, control bool) {
	c.mu.Lock()
	if c.closing || c.dead {
		c.mu.Unlock()
		return
	}
	if !control && c.queued+len(frame) > c.h.cfg.sendQueueLimit {
		c.mu.Unlock()
		c.h.log.Info("connection too slow", "conn", c.id)
		c.closeSlow()
		return
	}
	c.queue = append(c.queue, frame)
	c.queued += len(frame)
	c.kick()
	c.mu.Unlock()
}

// kick starts a writer if none owns the writes. Called with c.mu held.
func (c *conn) kick() {
	if c.flushing || c.dead {
		return
	}
	c.flushing = true
	c.h.wg.Add(1)
	go c.flush()
}

// closeSlow drops what is queued for a peer that does not read (but the
// end of a frame partly written), and closes it with 4001. The drain timer
// of closeWith hangs up if the peer does not take that either.
func (c *conn) closeSlow() {
	c.mu.Lock()
	keep := 0
	if c.headPartial {
		keep = 1
	}
	clear(c.queue[keep:])
	c.queue = c.queue[:keep]
	c.queued = 0
	if keep > 0 {
		c.queued = len(c.queue[0])
	}
	c.mu.Unlock()
	c.closeWith(closeTooSlow, "too slow")
}

// closeWith starts the closing handshake: what is queued is still written,
// then the close frame; then the peer has closeDrain to answer before the
// socket is closed.
func (c *conn) closeWith(code ws.StatusCode, reason string) {
	c.mu.Lock()
	if c.closing || c.dead {
		c.mu.Unlock()
		return
	}
	c.closing = true
	c.noteCause(causeOf(code))
	// The close frame goes after what is queued, and nothing after it.
	c.queue = append(c.queue, wsframe.AppendClose(nil, code, reason))
	c.closeQueued = true
	c.kick()
	// Bound the wait: for the close frame to get out, then for the
	// peer's answer.
	if c.shortDrain {
		c.drainTimer = time.AfterFunc(violationDrain, c.abort)
	} else {
		n, _ := c.unsentLocked()
		c.armDrain(monoNow(), c.waits.Load(), n)
	}
	c.mu.Unlock()
}

// armDrain (re)starts the drain timer of a closing connection, with
// c.mu held. When it fires, the connection is dropped, unless its close
// frame is still on the way to a peer that is still reading: then the
// timer starts again, and once the frame is out the peer has the whole
// drain to answer (writeQueue). So a slow reader reads its close code
// (PROTOCOL.md), however long the kernel takes to deliver what it held
// before it; a reader that stopped is dropped after one drain. A peer
// still reads when the kernel's unacknowledged bytes for it went down
// since the timer was set, or, in poll mode, when the writer resumed;
// where the kernel's count cannot be read (TLS in blocking mode) it is
// given the benefit of the doubt. Either way the close frame gets at most
// the write timeout, from the start of the close, to get out.
func (c *conn) armDrain(start time.Duration, waits uint32, unsent int) {
	c.drainTimer = time.AfterFunc(closeDrain, func() {
		c.mu.Lock()
		w := c.waits.Load()
		n, known := c.unsentLocked()
		reading := !known || n < unsent || c.nc == nil && w != waits
		onItsWay := !c.closeSent && !c.dead && reading && monoNow()-start < c.h.cfg.writeTimeout
		if onItsWay {
			c.armDrain(start, w, n)
		}
		c.mu.Unlock()
		if !onItsWay {
			c.abort()
		}
	})
}

// unsentLocked returns how many bytes the kernel holds for the peer, not
// yet acknowledged; false when that cannot be known. Called with c.mu
// held, so a poll-mode descriptor is not closed meanwhile.
func (c *conn) unsentLocked() (int, bool) {
	if c.nc != nil {
		return netpoll.UnsentConn(c.nc)
	}
	if c.fdClosed {
		return 0, false
	}
	return netpoll.Unsent(int(c.fd))
}

// abort hangs up at once, from any goroutine: it closes nc, or shuts the
// socket down (its descriptor stays ours until teardown, so its number
// cannot be reused meanwhile). The read side then tears the connection
// down: a blocked read fails, and a polled connection is woken so that its
// next read fails. Teardown so never races a request being handled.
func (c *conn) abort() {
	c.flags.Or(flagAborted)
	if c.nc != nil {
		c.nc.Close()
	} else {
		c.mu.Lock()
		if !c.fdClosed {
			netpoll.Shutdown(int(c.fd), true)
		}
		c.mu.Unlock()
	}
	if c.has(flagPolled) {
		c.pd.Wake()
	}
}

func (c *conn) isClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing
}

// flush is the writer a kick starts, on a goroutine of its own.
func (c *conn) flush() {
	defer c.h.wg.Done()
	c.writeQueue()
}

// writeQueue writes what is queued, then the close frame when one is due,
// until nothing is left; the caller owns the writes (c.flushing). In poll
// mode no write blocks: when the socket is full, writeQueue asks the
// poller for room and returns still owning the writes, and onWritable
// calls it again.
func (c *conn) writeQueue() {
	for {
		c.mu.Lock()
		batch, last := c.queue, c.closeQueued
		if len(batch) == 0 || c.dead {
			// Idle: hold no queue array while nothing is sent.
			c.flushing = false
			c.queue = nil
			c.closeFDLocked()
			c.mu.Unlock()
			return
		}
		c.queue, c.queued, c.headPartial = nil, 0, false
		c.mu.Unlock()

		n, err := c.write(batch)
		c.h.stats.bytesOut.Add(uint64(n))
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
			c.noteCause(causeClient)
			c.abort()
			c.mu.Lock()
			c.flushing = false
			c.closeFDLocked()
			c.mu.Unlock()
			return
		}
		if last {
			// Our last frame is out. If the peer's close came already,
			// the handshake is done; otherwise half-close so the peer
			// reads everything, and let the read side drain its answer.
			c.mu.Lock()
			c.closeQueued = false
			c.closeSent = true
			done := c.peerClosed
			if !done && !c.shortDrain && c.drainTimer != nil && c.drainTimer.Stop() {
				c.drainTimer = time.AfterFunc(closeDrain, c.abort) // the whole drain for the answer
			}
			c.mu.Unlock()
			switch {
			case done:
				c.abort()
			case c.nc == nil:
				netpoll.Shutdown(int(c.fd), false) // ours until c.flushing is released
			default:
				if tc, ok := c.nc.(interface{ CloseWrite() error }); ok {
					tc.CloseWrite()
				}
			}
		}
	}
}

// write writes a batch of frames in one writev where the socket allows.
// In blocking mode the connection sweeper hangs up a write that waits
// longer than the write timeout; in poll mode it returns syscall.EAGAIN with what went out
// when the socket is full.
func (c *conn) write(batch [][]byte) (int64, error) {
	if c.nc == nil {
		n, err := netpoll.Writev(int(c.fd), batch)
		return int64(n), err
	}
	c.waits.Add(1)             // it may wait: the sweeper sees how long
	bufs := net.Buffers(batch) // WriteTo consumes the copy, not batch's length
	n, err := bufs.WriteTo(c.nc)
	c.waits.Add(1)
	return n, err
}

// waitForRoom puts back what a full socket did not take of batch, ahead of
// what came meanwhile (if our close frame was in batch, nothing came), and
// asks the poller to call when there is room. The writes stay owned: no
// other writer may start, so order is kept.
func (c *conn) waitForRoom(batch [][]byte, n int) {
	i := 0
	for i < len(batch) && n >= len(batch[i]) {
		n -= len(batch[i])
		i++
	}
	rest := batch[i:]
	rest[0] = rest[0][n:]
	c.mu.Lock()
	for _, b := range rest {
		c.queued += len(b)
	}
	c.headPartial = n > 0
	c.queue = append(rest, c.queue...)
	if c.dead {
		c.flushing = false
		c.closeFDLocked()
		c.mu.Unlock()
		return
	}
	c.waitingOut = true
	c.waits.Add(1)
	c.mu.Unlock()
	if err := c.pd.WantWrite(); err != nil && !errors.Is(err, netpoll.ErrClosed) {
		c.abort() // ErrClosed: teardown is under way already
	}
}

// onWritable resumes the writer that waited for room, on the poller's
// worker: the writes do not block.
func (c *conn) onWritable() {
	c.mu.Lock()
	resume := c.waitingOut
	c.waitingOut = false
	c.mu.Unlock()
	if resume {
		c.waits.Add(1)
		c.writeQueue()
	}
}

// closeFDLocked closes a poll-mode socket once the connection is torn down
// and no writer is inside a write: only then may its number be reused.
// Called with c.mu held.
func (c *conn) closeFDLocked() {
	if c.fd < 0 || !c.dead || c.flushing || c.fdClosed {
		return
	}
	c.fdClosed = true
	netpoll.Close(int(c.fd))
}

// finish tears the connection down, once, on the read side (so never while
// a request of it is being handled): it leaves the Hub's maps, and the
// user's Store record learns a connection went away.
func (c *conn) finish() {
	if c.flags.Or(flagFinished)&flagFinished != 0 {
		return
	}
	if c.has(flagPolled) {
		c.pd.Remove() // before the close: the descriptor number gets reused
		c.h.stats.connsPolled.Add(-1)
	}
	if c.nc != nil {
		c.nc.Close()
	}
	c.rd.Release()
	c.mu.Lock()
	c.dead = true
	if c.waitingOut { // the writer was waiting for room: nobody writes now
		c.waitingOut = false
		c.flushing = false
	}
	clear(c.queue)
	c.queue = nil
	if c.drainTimer != nil {
		c.drainTimer.Stop()
	}
	c.closeFDLocked() // or the writer inside a write does, when it returns
	c.mu.Unlock()

	h := c.h
	h.mu.Lock()
	h.dropConnLocked(c)
	if c.user != "" {
		h.users.remove(c.user, c)
	}
	for _, room := range slices.Clone(c.rooms) {
		h.unsubscribeLocked(room, c)
	}
	h.checkDrainedLocked()
	h.mu.Unlock()
	h.guard.release(c.addr)

	if c.has(flagIdentified) {
		now := h.clock.Now()
		h.storeSweep.vacate.add(now.Add(h.cfg.grace))
		if err := h.store.Detach(h.ctx, c.user, now); err != nil && !errors.Is(err, ErrNotFound) {
			h.log.Error("detach", "conn", c.id, "err", err)
		}
	}
	h.noteConnClosed(c)
	h.wg.Done()
}

// reply sends a reply or error to this connection only.
func (c *conn) reply(payload []byte) { c.send(textFrame(payload)) }

func (c *conn) replyError(id string, code wire.Code, room string) {
	c.h.stats.errorSent(code)
	c.reply(wire.Error(nil, id, code, room))
}

// textFrame wraps an encoded event in a WebSocket text frame.
func textFrame(payload []byte) []byte {
	return wsframe.AppendText(make([]byte, 0, wsframe.TextHeaderLen(len(payload))+len(payload)), payload)
}

// handle decodes and dispatches one request.
func (h *Hub) handle(c *conn, p []byte) {
	req := reqPool.Get().(*wire.Request)
	defer reqPool.Put(req)
	allowed := c.bucket.take(h.clock.Now(), h.cfg.requestRate, h.cfg.requestBurst)
	if err := wire.DecodeRequest(p, req); err != nil {
		c.refuse(req.ID, wire.BadRequest, "")
		return
	}
	if !allowed {
		c.refuse(req.ID, wire.RateLimited, req.Room)
		return
	}
	if !c.has(flagIdentified) && req.Type != "hello" && req.Type != "check_invite" {
		c.refuse(req.ID, wire.NotIdentified, "")
		return
	}
	if need := required(req.Type); need&^carried(req) != 0 {
		c.refuse(req.ID, wire.BadRequest, req.Room)
		return
	}
	if c.has(flagIdentified) {
		c.touch()
	}
	switch req.Type {
	case "hello":
		h.hello(c, req)
	case "create":
		h.create(c, req)
	case "invite":
		h.invite(c, req)
	case "join":
		h.join(c, req)
	case "check_invite":
		h.checkInvite(c, req)
	case "send":
		h.sendMessage(c, req)
	case "members":
		h.members(c, req)
	case "leave":
		h.leave(c, req)
	case "close":
		h.closeByOwner(c, req)
	case "history":
		h.history(c, req)
	case "kick":
		h.kick(c, req)
	case "lock":
		h.lockByOwner(c, req, true)
	case "unlock":
		h.lockByOwner(c, req, false)
	case "end_session":
		h.endSession(c, req)
	default:
		c.refuse(req.ID, wire.UnknownType, req.Room)
	}
}

// required returns the fields a request of type typ must carry
// (PROTOCOL.md lists them); one without them gets bad_request. hello
// needs a nickname or a token, and gets invalid_nickname without either.
func required(typ string) wire.Fields {
	switch typ {
	case "invite", "members", "leave", "close", "lock", "unlock":
		return wire.FieldRoom
	case "kick":
		return wire.FieldRoom | wire.FieldMember
	case "join", "check_invite":
		return wire.FieldToken
	case "send":
		return wire.FieldRoom | wire.FieldText
	case "history":
		return wire.FieldRoom | wire.FieldTo | wire.FieldData
	}
	return 0
}

// carried returns the fields req carried with a value: an id (room,
// token, to, member) that is empty names nothing, and counts as missing; a text
// or data may be empty.
func carried(req *wire.Request) wire.Fields {
	has := req.Has
	if req.Room == "" {
		has &^= wire.FieldRoom
	}
	if req.Token == "" {
		has &^= wire.FieldToken
	}
	if req.To == "" {
		has &^= wire.FieldTo
	}
	if req.Member == "" {
		has &^= wire.FieldMember
	}
	return has
}

// touch records the user's activity, at most once a minute.
func (c *conn) touch() {
	now := c.h.clock.Now()
	if time.Duration(now.UnixNano()-c.lastTouch) < touchEvery {
		return
	}
	c.lastTouch = now.UnixNano()
	if err := c.h.store.TouchUser(c.h.ctx, c.user, now); err != nil && !errors.Is(err, ErrNotFound) {
		c.h.log.Error("touch user", "conn", c.id, "err", err)
	}
}

// hello identifies the connection: a new user, or a returning one with a
// session token.
func (h *Hub) hello(c *conn, req *wire.Request) {
	if c.has(flagIdentified) {
		c.refuse(req.ID, wire.AlreadyIdentified, "")
		return
	}
	ctx := h.ctx
	now := h.clock.Now()
	var (
		u     User
		token string
	)
	if req.Token != "" {
		// Not a guess (see guessBlocked): unknown tokens are what members
		// hold after a restart on a Store that forgot them.
		var err error
		u, err = h.store.UserByToken(ctx, ids.Hash(req.Token))
		if err != nil {
			if !errors.Is(err, ErrNotFound) {
				h.log.Error("find user", "conn", c.id, "err", err)
				c.replyError(req.ID, failedCode(err), "")
				return
			}
			c.replyError(req.ID, wire.SessionInvalid, "")
			return
		}
	} else {
		nick, ok := validNickname(req.Nickname)
		if c.nick != "" { // set by the host
			nick, ok = c.nick, true
		}
		if !ok {
			c.replyError(req.ID, wire.InvalidNickname, "")
			return
		}
		token = ids.Token()
		u = User{ID: ids.Member(), Nickname: nick, Token: ids.Hash(token), SeenAt: now}
		if code := h.createUser(ctx, c, u, now); code != "" {
			c.replyError(req.ID, code, "")
			return
		}
	}
	if err := h.store.Attach(ctx, u.ID, now); err != nil {
		if errors.Is(err, ErrNotFound) { // forgotten in between
			c.replyError(req.ID, wire.SessionInvalid, "")
			return
		}
		h.log.Error("attach", "conn", c.id, "err", err)
		c.replyError(req.ID, failedCode(err), "")
		return
	}
	c.user, c.nick, c.lastTouch = u.ID, u.Nickname, now.UnixNano()
	c.flags.Or(flagIdentified)

	h.addSessionConn(c, token == "", u.Conns)

	roomIDs, err := h.store.UserRooms(ctx, u.ID)
	if err != nil {
		h.log.Error("list rooms", "conn", c.id, "err", err)
	}
	// Hold the rooms' locks until welcome is queued, so that no event of
	// those rooms can overtake it.
	unlock := h.lockRooms(roomIDs)
	rooms := h.resumeRooms(ctx, c, roomIDs)
	if token == "" {
		h.stats.usersResumed.Add(1)
	}
	c.reply(wire.Welcome(nil, req.ID, wire.Member{ID: u.ID, Nickname: u.Nickname}, token, rooms, wire.Limits{MaxMessage: h.cfg.maxMessageSize, MaxMembers: h.cfg.maxMembers, RoomIdle: int(h.cfg.roomIdle / time.Second)}))
	unlock()
	h.log.Debug("identified", "conn", c.id, "user", u.ID, "resumed", token == "", "rooms", len(rooms))
}

// resumeRooms subscribes a returning user's connection to the rooms they
// are still seated in, and returns their states. The caller holds the
// rooms' locks.
func (h *Hub) resumeRooms(ctx context.Context, c *conn, roomIDs []string) []wire.RoomState {
	var states []wire.RoomState
	var ready []<-chan struct{}
	for _, id := range roomIDs {
		r, members, err := h.store.Room(ctx, id)
		if err != nil || !slices.ContainsFunc(members, func(m Member) bool { return m.ID == c.user }) {
			continue
		}
		h.mu.Lock()
		if rd := h.subscribeLocked(id, c); rd != nil {
			ready = append(ready, rd)
		}
		h.mu.Unlock()
		states = append(states, roomState(r, members))
	}
	for _, rd := range ready {
		h.awaitServed(rd)
	}
	return states
}

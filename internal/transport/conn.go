// Package transport is the server side of one WebSocket connection once it
// is upgraded: it reads frames and hands each text message up, writes
// through a bounded queue that never blocks the caller, and runs the
// closing handshake. It knows nothing of chat: the layer above (the Hub)
// implements Upper, and calls Send, CloseWith, Abort and Ping.
//
// A connection runs in one of two modes, fixed by Init (see socket). With a
// poller (Linux, a plain socket), the socket is taken out of its net.Conn
// as a raw descriptor: the poller reads it when it has bytes, and writes
// never block (a full socket waits for the poller's word), so an idle or
// stalled connection holds no goroutine, no buffer, no timer and no
// net.Conn. Otherwise (TLS, other systems, no poller) a goroutine reads the
// net.Conn in a loop and writes block; the layer above bounds a blocked
// write with Waits (the Hub's connection sweeper).
//
// # States
//
// A connection's closing handshake is one state, which only moves forward:
//
//	open ──CloseWith──▶ closing ──close frame written──▶ closeSent
//	  │                    │                                 │
//	  └────────────────────┴───────── teardown ──────────────┴──▶ dead
//
// In open, frames are queued and written. In closing, our close frame ends
// the queue and nothing more is queued; the drain timer bounds the wait
// for the frame to get out. In closeSent, our close frame is out and the
// socket half-closed; the peer has one drain to answer, then it is hung
// up. In dead, the connection is torn down (the read side ended) and
// nothing more is written.
//
// Who owns the writes is a second state, the writer's:
//
//	idle ──Send, Ping, CloseWith──▶ writing ──queue empty, error, dead──▶ idle
//	                                 │  ▲
//	              socket full (poll) ▼  │ socket writable
//	                                waiting ──teardown──▶ idle
//
// At most one writer writes at a time (writing and waiting both own the
// writes), so frames go out in the order they were queued. A poll-mode
// descriptor is closed only when the connection is dead and the writer
// idle: only then may its number be reused.
//
// Facts stand beside the states, as bits: the peer's close frame came in
// (bitPeerClosed); the stream broke the protocol (bitShortDrain: the
// peer's close reply cannot be read, so it gets a short while only); the
// queue starts with the rest of a frame partly written (bitHeadPartial);
// the descriptor is closed (bitFDClosed).
//
// # Locks
//
// Conn.mu guards the queue and both states. It is a leaf: nothing else is
// locked while it is held (Upper.Ending only records), and the layer
// above may call Send and CloseWith under its own locks. Upper's Text and
// Ended are called with no lock of the transport held.
package transport

import (
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"

	"github.com/epchat-go/epchat/internal/netpoll"
	"github.com/epchat-go/epchat/internal/wsframe"
)

// Close codes the transport sends itself, besides those the layer above
// passes to CloseWith.
const (
	// CloseTooSlow closes a connection whose queue overflowed
	// (PROTOCOL.md).
	CloseTooSlow ws.StatusCode = 4001
	// PeerGone is what Upper.Ending gets when the peer closed, answered
	// our close, or went away; it is no close code.
	PeerGone ws.StatusCode = 0
)

// violationDrain is how long a connection closed for a protocol violation
// is kept after our close frame: its stream cannot be parsed for a close
// reply, but closing at once could reset the socket before the peer read
// the close code.
const violationDrain = 250 * time.Millisecond

// Upper is the layer above a connection.
type Upper interface {
	// Text handles one text message, on the read side: one at a time, in
	// the order they came, never once the connection is closing. p is
	// valid only during the call.
	Text(p []byte)
	// Ending tells why the connection is ending, each time a cause shows:
	// the close code being sent, or PeerGone. The first one is the cause.
	// It may be called with the connection's lock held: it records, and
	// calls nothing of the Conn.
	Ending(code ws.StatusCode)
	// Ended is called once, on the read side, when the connection is torn
	// down: nothing more is read or written.
	Ended()
}

// Env is what the connections of one server share. Its fields are set
// before the first Init and not changed afterwards.
type Env struct {
	// Poller serves poll-mode connections; nil makes every connection
	// blocking.
	Poller *netpoll.Poller
	// Clock returns the time of LastRead, as Unix nanoseconds.
	Clock func() int64
	// QueueLimit is how many bytes may wait in a connection's queue; a
	// frame that would overflow it closes the connection with
	// CloseTooSlow.
	QueueLimit int
	// WriteTimeout bounds how long a closing connection's close frame may
	// take to get out to a peer that is still reading.
	WriteTimeout time.Duration
	// Drain is how long a closing connection is given to read our close
	// frame and answer.
	Drain time.Duration
	// Writers counts writer goroutines, so that a server's shutdown can
	// wait for them.
	Writers *sync.WaitGroup
	// Log gets connection ids and counts only, never a payload.
	Log *slog.Logger
	// BytesIn and BytesOut count the bytes read and written; Polled the
	// connections the poller watches.
	BytesIn, BytesOut *atomic.Uint64
	Polled            *atomic.Int64
}

// state is where a connection is in its closing handshake (package doc).
type state uint8

const (
	open state = iota
	closing
	closeSent
	dead
)

// writer is who owns the writes (package doc).
type writer uint8

const (
	idle    writer = iota
	writing        // a writer goroutine, or writeNow's caller
	waiting        // poll mode: for the poller to say there is room
)

// Strict makes an illegal state or writer transition panic. Tests set it.
// In production such a transition is a bug not worth a process: an
// illegal state change is ignored (the handshake never goes back), an
// illegal writer change is made all the same (ignoring it could leave the
// writes owned by nobody, or by two).
var Strict bool

// legalState tells whether the handshake may move from one state to
// another: forward only, and closeSent only from closing.
func legalState(from, to state) bool {
	switch to {
	case closing:
		return from == open
	case closeSent:
		return from == closing
	case dead:
		return from != dead
	}
	return false
}

// legalWriter tells whether the writes may change hands from one writer
// state to another.
func legalWriter(from, to writer) bool {
	switch {
	case from == to:
		return false
	case to == waiting:
		return from == writing
	case to == writing:
		return true // idle: a writer starts; waiting: the socket has room
	}
	return true // to idle: done, failed, or torn down while waiting
}

// Flags (Conn.flags). Bits from UpperShift up belong to the layer above
// (Flags).
const (
	flagPolled   uint32 = 1 << iota // the poller watches the descriptor
	flagAborted                     // Abort was called
	flagFinished                    // torn down

	// UpperShift is the first bit of Flags that the layer above may use.
	UpperShift = 8
)

// Bits of Conn.bits, guarded by Conn.mu.
const (
	bitPeerClosed  uint8 = 1 << iota // the peer's close frame came in
	bitShortDrain                    // a protocol violation: see violationDrain
	bitHeadPartial                   // queue[0] is the end of a frame partly written: it goes first
	bitFDClosed                      // poll mode: the descriptor is closed
)

// Conn is one WebSocket connection's transport. Embed it (Init makes it
// ready); its zero value is not ready for use. Its fields are laid out for
// size: an idle member costs one of these (the Hub's TestConnSize).
type Conn struct {
	env      *Env
	up       Upper
	blocking *blockingSocket // blocking mode's socket; nil in poll mode
	poll     netpoll.Desc    // poll mode's descriptor and watch

	// ID names the connection in logs.
	ID uint64

	rd wsframe.Reader // read side

	lastRead atomic.Int64  // Env.Clock of the last bytes read
	waits    atomic.Uint32 // odd while a write waits for the peer (Waits)
	flags    atomic.Uint32

	// Guarded by mu.
	queued int32 // bytes in queue
	st     state
	wr     writer
	bits   uint8

	broken bool // read side: a protocol violation, ignore the rest

	mu         sync.Mutex
	queue      [][]byte
	drainTimer *time.Timer
}

// Init makes c ready to serve nc, in poll mode when env has a poller and
// nc is a socket it can take over, which it reports. Messages and frames
// longer than maxMessage bytes break the protocol (1009).
func (c *Conn) Init(env *Env, up Upper, nc net.Conn, id uint64, maxMessage int) (polled bool) {
	c.env, c.up, c.ID = env, up, id
	c.rd.MaxFrame = int32(maxMessage)
	c.rd.MaxMessage = int32(maxMessage)
	c.lastRead.Store(env.Clock())
	if env.Poller != nil {
		if fd, err := netpoll.Detach(nc); err == nil {
			c.poll.SetFD(fd)
			return true
		}
	}
	c.blocking = &blockingSocket{nc: nc, waits: &c.waits}
	return false
}

// sock returns the connection's socket: the two modes behind one
// interface.
func (c *Conn) sock() socket {
	if c.blocking != nil {
		return c.blocking
	}
	return (*polledSocket)(c)
}

// Serve serves the connection until it ends: in poll mode it hands it to
// the poller and returns at once; in blocking mode it reads until the
// connection ends. early are bytes read with the upgrade request, the
// start of the stream. Upper.Ended is called once it is torn down.
func (c *Conn) Serve(early []byte) { c.sock().serve(c, early) }

// Refuse writes frame (a close frame) if the socket takes it at once, and
// hangs up, for a connection that is not to be served: Serve must not be
// called, and Upper hears nothing.
func (c *Conn) Refuse(frame []byte) { c.sock().refuse(frame, c.env.Drain) }

// LastRead returns Env.Clock's time of the last bytes read (of Init,
// before any).
func (c *Conn) LastRead() int64 { return c.lastRead.Load() }

// Waits is odd while a write waits for the peer, and moves on with each
// wait, so that a sweeper tells one long wait from several short ones.
func (c *Conn) Waits() uint32 { return c.waits.Load() }

// Queued returns the bytes queued and not yet handed to the kernel.
func (c *Conn) Queued() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return int(c.queued)
}

// Flags is the connection's flag word. The transport's bits are below
// UpperShift; the layer above keeps its own from there up, changing them
// atomically (Or, CompareAndSwap) so as not to clear the transport's.
func (c *Conn) Flags() *atomic.Uint32 { return &c.flags }

func (c *Conn) has(f uint32) bool { return c.flags.Load()&f != 0 }

// is and set read and change bits, with c.mu held.
func (c *Conn) is(b uint8) bool { return c.bits&b != 0 }

func (c *Conn) set(b uint8, on bool) {
	if on {
		c.bits |= b
	} else {
		c.bits &^= b
	}
}

// setState moves the handshake on, with c.mu held; see Strict.
func (c *Conn) setState(to state) {
	if !legalState(c.st, to) {
		if Strict {
			panic("transport: illegal state transition")
		}
		return
	}
	c.st = to
}

// setWriter hands the writes on, with c.mu held; see Strict.
func (c *Conn) setWriter(to writer) {
	if !legalWriter(c.wr, to) && Strict {
		panic("transport: illegal writer transition")
	}
	c.wr = to
}

// MayBlock tells the poller that the message being handled is about to
// wait on something other than the CPU (a Store's network round trip): in
// poll mode the pool then keeps its share of workers for the other
// connections (netpoll's Desc.Blocking). Call it on the read side only:
// from Upper.Text or Upper.Ended.
func (c *Conn) MayBlock() {
	if c.has(flagPolled) {
		c.poll.Blocking()
	}
}

// Abort hangs up at once, from any goroutine: it closes the net.Conn, or
// shuts the socket down (its descriptor stays ours until teardown, so its
// number cannot be reused meanwhile). The read side then tears the
// connection down: a blocked read fails, and a polled connection is woken
// so that its next read fails. Teardown so never races a message being
// handled.
func (c *Conn) Abort() {
	c.flags.Or(flagAborted)
	c.mu.Lock()
	c.sock().hangUp()
	c.mu.Unlock()
	if c.has(flagPolled) {
		c.poll.Wake()
	}
}

// finish tears the connection down, once, on the read side (so never while
// a message of it is being handled).
func (c *Conn) finish() {
	if c.flags.Or(flagFinished)&flagFinished != 0 {
		return
	}
	if c.has(flagPolled) {
		c.poll.Remove() // before the close: the descriptor number gets reused
		c.env.Polled.Add(-1)
	}
	c.sock().stop()
	c.rd.Release()
	c.mu.Lock()
	c.setState(dead)
	if c.wr == waiting { // nobody writes now
		c.setWriter(idle)
	}
	clear(c.queue)
	c.queue = nil
	if c.drainTimer != nil {
		c.drainTimer.Stop()
	}
	c.releaseLocked() // or the writer inside a write does, when it returns
	c.mu.Unlock()
	c.up.Ended()
}

// releaseLocked frees the socket once the connection is dead and no writer
// is inside a write. Called with c.mu held.
func (c *Conn) releaseLocked() {
	if c.st == dead && c.wr == idle {
		c.sock().release()
	}
}

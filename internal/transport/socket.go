package transport

import (
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/epchat-go/epchat/internal/netpoll"
)

// socket is what the two modes do differently; the rest of the transport
// is the same for both. Methods said to run with c.mu held are called so,
// which keeps a poll-mode descriptor from being closed under them.
type socket interface {
	// serve reads the stream into c until it ends, then tears c down:
	// from the poller's workers (poll mode, serve returns at once), or in
	// a loop on the caller's goroutine (blocking mode).
	serve(c *Conn, early []byte)
	// writev writes a batch of frames in one system call where the
	// socket allows. In poll mode it never blocks: when the socket is
	// full it returns syscall.EAGAIN with what went out.
	writev(batch [][]byte) (int64, error)
	// tryWrite writes a small frame without blocking, or returns
	// syscall.EAGAIN having written nothing; blocking mode always does.
	tryWrite(frame []byte) (int, error)
	// halfClose tells the peer nothing more comes (a FIN after our close
	// frame), so that it reads everything; the read side stays open for
	// its answer.
	halfClose()
	// hangUp cuts the connection both ways at once, from any goroutine,
	// with c.mu held; the read side then fails and tears down.
	hangUp()
	// unsent returns how many bytes the kernel holds for the peer, not
	// yet acknowledged; false when that cannot be known. With c.mu held.
	unsent() (int, bool)
	// resumes tells whether Waits moving on means the peer read: in poll
	// mode a waiting writer resumes only when the peer made room.
	resumes() bool
	// stop, at teardown, ends any write still blocked on the socket.
	stop()
	// release frees the socket once nothing reads or writes it: the
	// connection is dead and the writer idle. With c.mu held; once only
	// in effect.
	release()
	// refuse writes frame if the socket takes it at once, and closes the
	// socket, for a connection never served.
	refuse(frame []byte, drain time.Duration)
}

// polledSocket is the Conn in poll mode: a raw descriptor taken out of its
// net.Conn (Conn.poll), read by the poller when it has bytes and written
// without blocking. It is a type of its own for its methods only.
type polledSocket Conn

func (s *polledSocket) fd() int { return s.poll.FD() }

// maxReadsPerWake bounds the reads one readiness callback makes, so one
// busy connection cannot hold a worker while others wait.
const maxReadsPerWake = 16

// readBufSize is the size of the buffer a connection reads into.
const readBufSize = 4096

// readBufs holds the buffers polled connections read into, for the length
// of one readiness callback: an idle connection keeps none.
var readBufs = sync.Pool{New: func() any { b := make([]byte, readBufSize); return &b }}

func (s *polledSocket) serve(c *Conn, early []byte) {
	if len(early) > 0 {
		c.feed(early)
	}
	if err := c.env.Poller.Add(&c.poll, c); err != nil {
		c.finish()
		return
	}
	c.env.Polled.Add(1)
	if c.flags.Or(flagPolled)&flagAborted != 0 {
		c.poll.Wake() // Abort came before the watch was known
	}
}

// OnReady implements netpoll.Handler. It runs on a poller worker when the
// socket has room again after a write waited, or has bytes (or was
// closed): it reads without blocking until there is nothing left, then
// re-arms.
func (c *Conn) OnReady(d *netpoll.Desc, ev netpoll.Event) {
	if ev&netpoll.Writable != 0 {
		c.onWritable()
	}
	if c.has(flagFinished) {
		return
	}
	if ev&(netpoll.Readable|netpoll.Woken) != 0 && !c.readReady() {
		return
	}
	if d.Resume() != nil {
		c.finish()
	}
}

// readReady reads a polled socket until it has nothing more for now, and
// reports whether the connection is still up.
func (c *Conn) readReady() bool {
	bp := readBufs.Get().(*[]byte)
	defer readBufs.Put(bp)
	for range maxReadsPerWake {
		if c.has(flagFinished) {
			return false
		}
		n, err := netpoll.Read(c.poll.FD(), *bp)
		if n > 0 {
			c.read((*bp)[:n])
		}
		switch {
		case err == syscall.EAGAIN:
			return true
		case err != nil || n == 0:
			c.finish()
			return false
		}
	}
	return true
}

func (s *polledSocket) writev(batch [][]byte) (int64, error) {
	n, err := netpoll.Writev(s.fd(), batch)
	return int64(n), err
}

func (s *polledSocket) tryWrite(frame []byte) (int, error) {
	return netpoll.Write(s.fd(), frame)
}

func (s *polledSocket) halfClose() { netpoll.Shutdown(s.fd(), false) }

func (s *polledSocket) closed() bool { return (*Conn)(s).is(bitFDClosed) }

func (s *polledSocket) hangUp() {
	if !s.closed() {
		netpoll.Shutdown(s.fd(), true)
	}
}

func (s *polledSocket) unsent() (int, bool) {
	if s.closed() {
		return 0, false
	}
	return netpoll.Unsent(s.fd())
}

func (s *polledSocket) resumes() bool { return true }

func (s *polledSocket) stop() {} // its writes never block

func (s *polledSocket) release() {
	if !s.closed() {
		(*Conn)(s).set(bitFDClosed, true)
		netpoll.Close(s.fd())
	}
}

func (s *polledSocket) refuse(frame []byte, _ time.Duration) {
	netpoll.Write(s.fd(), frame) // a fresh socket takes it, or the peer goes without
	(*Conn)(s).set(bitFDClosed, true)
	netpoll.Close(s.fd())
}

// blockingSocket is a net.Conn read by a goroutine of its own, written with
// blocking writes.
type blockingSocket struct {
	nc    net.Conn
	waits *atomic.Uint32 // the Conn's
}

func (s *blockingSocket) serve(c *Conn, early []byte) {
	defer c.finish()
	if len(early) > 0 {
		c.feed(early)
	}
	buf := make([]byte, readBufSize)
	for {
		n, err := s.nc.Read(buf)
		if n > 0 {
			c.read(buf[:n])
		}
		if err != nil {
			return
		}
	}
}

// writev blocks until the peer took the batch; the layer above hangs up a
// write that waits too long (Waits is odd meanwhile).
func (s *blockingSocket) writev(batch [][]byte) (int64, error) {
	s.waits.Add(1)
	bufs := net.Buffers(batch) // WriteTo consumes the copy, not batch's length
	n, err := bufs.WriteTo(s.nc)
	s.waits.Add(1)
	return n, err
}

func (s *blockingSocket) tryWrite([]byte) (int, error) { return 0, syscall.EAGAIN }

func (s *blockingSocket) halfClose() {
	if tc, ok := s.nc.(interface{ CloseWrite() error }); ok {
		tc.CloseWrite()
	}
}

func (s *blockingSocket) hangUp() { s.nc.Close() }

func (s *blockingSocket) unsent() (int, bool) { return netpoll.UnsentConn(s.nc) }

func (s *blockingSocket) resumes() bool { return false }

func (s *blockingSocket) stop() { s.nc.Close() }

func (s *blockingSocket) release() {} // stop closed it

func (s *blockingSocket) refuse(frame []byte, drain time.Duration) {
	s.nc.SetWriteDeadline(time.Now().Add(drain))
	s.nc.Write(frame)
	s.nc.Close()
}

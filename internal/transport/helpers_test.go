package transport

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/epchat-go/epchat/internal/netpoll"
	"github.com/epchat-go/epchat/internal/wsframe"
)

func init() { Strict = true } // an illegal transition panics in every test

// upper records what the transport tells the layer above; echo makes it
// send each text back.
type upper struct {
	c    *Conn
	echo bool

	mu     sync.Mutex
	texts  []string
	codes  []ws.StatusCode
	ended  chan struct{}
	nEnded atomic.Int32
}

func (u *upper) Text(p []byte) {
	u.mu.Lock()
	u.texts = append(u.texts, string(p))
	u.mu.Unlock()
	if u.echo {
		u.c.Send(wsframe.AppendText(nil, p))
	}
}

func (u *upper) Ending(code ws.StatusCode) {
	u.mu.Lock()
	u.codes = append(u.codes, code)
	u.mu.Unlock()
}

func (u *upper) Ended() {
	if u.nEnded.Add(1) == 1 {
		close(u.ended)
	}
}

// cause is the first Ending the transport told.
func (u *upper) cause() (ws.StatusCode, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.codes) == 0 {
		return 0, false
	}
	return u.codes[0], true
}

func (u *upper) waitEnded(t *testing.T, within time.Duration) {
	t.Helper()
	select {
	case <-u.ended:
	case <-time.After(within):
		t.Fatalf("not torn down within %v", within)
	}
}

// modes runs f once per mode: through a poller, and blocking.
func modes(t *testing.T, f func(t *testing.T, polled bool)) {
	t.Run("polled", func(t *testing.T) { f(t, true) })
	t.Run("blocking", func(t *testing.T) { f(t, false) })
}

// pair is a served connection and the raw client socket at its other end,
// over loopback TCP.
type pair struct {
	c    *Conn
	u    *upper
	peer net.Conn
	env  *Env
}

// testDrain is the drain the tests give a closing connection.
const testDrain = 300 * time.Millisecond

// newPair serves a fresh loopback connection. limit is the queue limit;
// sndbuf, when positive, shrinks the server's socket send buffer and the
// peer's receive buffer, so that a peer that does not read fills them.
func newPair(t *testing.T, polled bool, limit, sndbuf int) *pair {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- nc
	}()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	nc := <-accepted
	if nc == nil {
		t.Fatal("accept failed")
	}
	if sndbuf > 0 {
		nc.(*net.TCPConn).SetWriteBuffer(sndbuf)
		peer.(*net.TCPConn).SetReadBuffer(sndbuf)
	}
	var wg sync.WaitGroup
	env := &Env{
		Clock:        func() int64 { return time.Now().UnixNano() },
		QueueLimit:   limit,
		WriteTimeout: 5 * time.Second,
		Drain:        testDrain,
		Writers:      &wg,
		Log:          slog.New(slog.DiscardHandler),
		BytesIn:      new(atomic.Uint64),
		BytesOut:     new(atomic.Uint64),
		Polled:       new(atomic.Int64),
	}
	if polled {
		p, err := netpoll.New(2)
		if err != nil {
			t.Skipf("no poller here: %v", err)
		}
		env.Poller = p
	}
	u := &upper{ended: make(chan struct{})}
	p := &pair{c: new(Conn), u: u, peer: peer, env: env}
	u.c = p.c
	if got := p.c.Init(env, u, nc, 1, 1<<20); got != polled {
		t.Fatalf("Init polled = %v, want %v", got, polled)
	}
	go p.c.Serve(nil)
	t.Cleanup(func() {
		peer.Close()
		select {
		case <-u.ended:
		case <-time.After(5 * time.Second):
			t.Error("connection not torn down after the peer left")
		}
		wg.Wait() // no writer left behind
		if env.Poller != nil {
			env.Poller.Close()
		}
		if n := u.nEnded.Load(); n != 1 {
			t.Errorf("Ended called %d times", n)
		}
	})
	return p
}

// send writes one masked client frame.
func (p *pair) send(t *testing.T, op ws.OpCode, payload []byte) {
	t.Helper()
	f := ws.MaskFrameInPlace(ws.NewFrame(op, true, append([]byte(nil), payload...)))
	if err := ws.WriteFrame(p.peer, f); err != nil {
		t.Fatal(err)
	}
}

// frame is one server frame as the peer read it.
type frame struct {
	op      ws.OpCode
	payload []byte
}

// read reads the server's frames until EOF or within, checking each is a
// valid server frame (final, unmasked) and nothing follows a close frame.
func (p *pair) read(t *testing.T, within time.Duration) []frame {
	t.Helper()
	p.peer.SetReadDeadline(time.Now().Add(within))
	var out []frame
	closed := false
	for {
		f, err := ws.ReadFrame(p.peer)
		if err != nil {
			var ne net.Error
			if errors.Is(err, io.EOF) || errors.As(err, &ne) && !ne.Timeout() || errors.Is(err, net.ErrClosed) || isReset(err) {
				return out
			}
			if errors.As(err, &ne) && ne.Timeout() {
				return out
			}
			t.Fatalf("bad server frame after %d: %v", len(out), err)
		}
		if closed {
			t.Fatalf("a %v frame after the close frame", f.Header.OpCode)
		}
		if !f.Header.Fin || f.Header.Masked {
			t.Fatalf("server frame fin=%v masked=%v", f.Header.Fin, f.Header.Masked)
		}
		closed = f.Header.OpCode == ws.OpClose
		out = append(out, frame{f.Header.OpCode, f.Payload})
	}
}

func isReset(err error) bool {
	return err != nil && bytes.Contains([]byte(err.Error()), []byte("reset by peer"))
}

// closeCode returns the code and reason of a close frame's payload.
func closeCode(f frame) (ws.StatusCode, string) {
	if f.op != ws.OpClose || len(f.payload) < 2 {
		return 0, ""
	}
	return ws.StatusCode(int(f.payload[0])<<8 | int(f.payload[1])), string(f.payload[2:])
}

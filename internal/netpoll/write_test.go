//go:build linux

package netpoll

import (
	"bytes"
	"io"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// source is a watched server-side connection that writes a fixed stream
// through Writev, waiting with WantWrite whenever the socket is full.
type source struct {
	fd       int
	desc     Desc
	mu       sync.Mutex
	bufs     [][]byte // what is left to write
	waits    atomic.Int32
	writable atomic.Int32
	done     chan error
}

// pump writes what it can; it reports whether the stream is done.
func (s *source) pump() {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := Writev(s.fd, s.bufs)
	for n > 0 { // drop what went out
		if n < len(s.bufs[0]) {
			s.bufs[0] = s.bufs[0][n:]
			break
		}
		n -= len(s.bufs[0])
		s.bufs = s.bufs[1:]
	}
	switch {
	case err == syscall.EAGAIN:
		s.waits.Add(1)
		if err := s.desc.WantWrite(); err != nil {
			s.done <- err
		}
	case err != nil:
		s.done <- err
	default:
		s.done <- Shutdown(s.fd, false)
	}
}

func (s *source) OnReady(d *Desc, ev Event) {
	if ev&Writable != 0 {
		s.writable.Add(1)
		s.pump()
	}
	d.Resume()
}

// A stream larger than the socket buffers goes out whole and in order:
// Writev stops at EAGAIN with an exact count, and WantWrite brings a
// Writable callback once the peer reads.
func TestWritevWaitsForRoom(t *testing.T) {
	p := newPoller(t, 2)
	ln := listen(t)
	cc, sc := connect(t, ln)
	fd := detach(t, sc)
	// A small send buffer makes the socket fill up early.
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_SNDBUF, 4096); err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	s := &source{fd: fd, done: make(chan error, 1)}
	for i := range 3000 { // odd sizes, so writes end inside buffers
		b := bytes.Repeat([]byte{byte(i)}, 1+i%997)
		want.Write(b)
		s.bufs = append(s.bufs, b)
	}
	t.Cleanup(func() { s.desc.Remove() })
	s.desc.SetFD(fd)
	if err := p.Add(&s.desc, s); err != nil {
		t.Fatal(err)
	}
	s.pump() // the client reads nothing yet: the socket fills
	if s.waits.Load() == 0 {
		t.Fatalf("%d bytes went out with no EAGAIN; the test needs a full socket", want.Len())
	}
	cc.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(cc)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-s.done; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("read %d bytes, want %d, or not in order", len(got), want.Len())
	}
	if s.writable.Load() == 0 {
		t.Fatal("no Writable callback")
	}
}

// Writev skips empty buffers and reports every byte of a short stream.
func TestWritevSmall(t *testing.T) {
	ln := listen(t)
	cc, sc := connect(t, ln)
	fd := detach(t, sc)
	bufs := [][]byte{[]byte("ab"), nil, []byte("c"), {}, []byte("def")}
	n, err := Writev(fd, bufs)
	if err != nil || n != 6 {
		t.Fatalf("Writev = %d, %v; want 6, nil", n, err)
	}
	got := make([]byte, 6)
	cc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(cc, got); err != nil || string(got) != "abcdef" {
		t.Fatalf("read %q, %v", got, err)
	}
}

// A writer may meet EAGAIN before its socket is watched: WantWrite before
// Add still brings the Writable callback.
func TestWantWriteBeforeAdd(t *testing.T) {
	p := newPoller(t, 1)
	ln := listen(t)
	cc, sc := connect(t, ln)
	fd := detach(t, sc)
	s := &source{fd: fd, done: make(chan error, 1), bufs: [][]byte{[]byte("hello")}}
	t.Cleanup(func() { s.desc.Remove() })
	if err := s.desc.WantWrite(); err != nil {
		t.Fatal(err)
	}
	s.desc.SetFD(fd)
	if err := p.Add(&s.desc, s); err != nil {
		t.Fatal(err)
	}
	// The socket has room: the Writable callback comes at once and writes.
	if err := <-s.done; err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 5)
	cc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(cc, got); err != nil || string(got) != "hello" {
		t.Fatalf("read %q, %v", got, err)
	}
}

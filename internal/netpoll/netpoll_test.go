//go:build linux

package netpoll

import (
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// sink is a watched server-side connection that counts what it reads.
type sink struct {
	fd      int
	desc    Desc
	busy    atomic.Bool
	overlap atomic.Bool
	n       atomic.Int64
	eof     chan struct{}
	ended   bool // callbacks may come after the end (Wake, a spent event)
}

func (s *sink) OnReady(*Desc, Event) {
	if !s.busy.CompareAndSwap(false, true) {
		s.overlap.Store(true)
	}
	defer s.busy.Store(false)
	if s.ended {
		return
	}
	buf := make([]byte, 512)
	for {
		n, err := Read(s.fd, buf)
		s.n.Add(int64(n))
		switch {
		case err == syscall.EAGAIN:
			s.desc.Resume()
			return
		case err != nil || n == 0:
			s.ended = true
			close(s.eof)
			return
		}
	}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// newPoller starts a Poller that the test's cleanup closes.
func newPoller(t *testing.T, workers int) *Poller {
	t.Helper()
	p, err := New(workers)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// connect opens a loopback TCP connection through ln and returns its two
// ends; the test's cleanup closes the client's.
func connect(t *testing.T, ln net.Listener) (client, server net.Conn) {
	t.Helper()
	cc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	return cc, sc
}

// detach takes the socket out of c; the test's cleanup closes it, after
// the cleanups registered later (a watch's Remove).
func detach(t *testing.T, c net.Conn) int {
	t.Helper()
	fd, err := Detach(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { Close(fd) })
	return fd
}

// watch detaches c's socket and watches it; the test's cleanup removes
// the watch and closes the descriptor.
func watch(t *testing.T, p *Poller, c net.Conn) *sink {
	t.Helper()
	fd := detach(t, c)
	s := &sink{fd: fd, eof: make(chan struct{})}
	t.Cleanup(func() { s.desc.Remove() })
	s.desc.SetFD(fd)
	if err := p.Add(&s.desc, s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPollerDeliversEveryByte(t *testing.T) {
	p := newPoller(t, 2)
	ln := listen(t)
	const conns, writes, size = 20, 200, 100
	var wg sync.WaitGroup
	sinks := make([]*sink, conns)
	for i := range conns {
		cc, sc := connect(t, ln)
		sinks[i] = watch(t, p, sc)
		wg.Go(func() {
			defer cc.Close()
			msg := make([]byte, size)
			for range writes {
				if _, err := cc.Write(msg); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	for i, s := range sinks {
		select {
		case <-s.eof:
		case <-time.After(5 * time.Second):
			t.Fatalf("conn %d: no end of stream seen", i)
		}
		if got := s.n.Load(); got != writes*size {
			t.Errorf("conn %d: read %d bytes, want %d", i, got, writes*size)
		}
		if s.overlap.Load() {
			t.Errorf("conn %d: callbacks overlapped", i)
		}
	}
}

// Idle watched connections cost no goroutine.
func TestIdleConnectionsHaveNoGoroutine(t *testing.T) {
	p := newPoller(t, 2)
	ln := listen(t)
	before := runtime.NumGoroutine()
	const n = 500
	for range n {
		_, sc := connect(t, ln)
		watch(t, p, sc)
	}
	if grown := runtime.NumGoroutine() - before; grown > 10 {
		t.Fatalf("%d goroutines for %d idle connections", grown, n)
	}
}

func TestCloseStopsEverything(t *testing.T) {
	before := runtime.NumGoroutine()
	p, err := New(4)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != ErrClosed {
		t.Fatalf("second Close: %v", err)
	}
	ln := listen(t)
	_, sc := connect(t, ln)
	fd := detach(t, sc)
	s := &sink{fd: fd}
	s.desc.SetFD(fd)
	if err := p.Add(&s.desc, s); err != ErrClosed {
		t.Fatalf("Add after Close: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond) // goroutines unwinding, not a time rule
	}
	if runtime.NumGoroutine() > before {
		t.Fatalf("goroutines: %d before, %d after Close", before, runtime.NumGoroutine())
	}
}

// Wake makes the callback run without readiness; after Shutdown from
// another goroutine, the read there sees the end of the stream.
func TestWakeAfterClose(t *testing.T) {
	p := newPoller(t, 1)
	ln := listen(t)
	const n = 50
	for range n { // more wakes than the work queue holds
		_, sc := connect(t, ln)
		s := watch(t, p, sc)
		if err := Shutdown(s.fd, true); err != nil {
			t.Fatal(err)
		}
		s.desc.Wake()
		select {
		case <-s.eof:
		case <-time.After(5 * time.Second):
			t.Fatal("no callback after Wake on a shut down connection")
		}
	}
}

//go:build linux

package netpoll

import (
	"net"
	"testing"
	"time"
)

// blocker is a watched connection whose callback blocks until release is
// closed, as a request waiting on a paused remote Store does.
type blocker struct {
	entered chan struct{}
	release chan struct{}
}

func (b *blocker) OnReady(*Desc, Event) {
	b.entered <- struct{}{}
	<-b.release
}

// waitEntered waits until n callbacks are inside OnReady.
func (b *blocker) waitEntered(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		select {
		case <-b.entered:
		case <-time.After(5 * time.Second):
			t.Fatalf("%d of %d blocking callbacks started; the others wait for a worker", i, n)
		}
	}
}

// addHandler connects to ln and watches the server side with h; it
// returns the client side.
func addHandler(t *testing.T, p *Poller, ln net.Listener, h Handler) net.Conn {
	t.Helper()
	c, s := connect(t, ln)
	d := new(Desc)
	fd := detach(t, s)
	t.Cleanup(d.Remove)
	d.SetFD(fd)
	if err := p.Add(d, h); err != nil {
		t.Fatal(err)
	}
	return c
}

// readWhileBlocked checks that one more connection is read.
func readWhileBlocked(t *testing.T, p *Poller, ln net.Listener) {
	t.Helper()
	c, s := connect(t, ln)
	w := watch(t, p, s)
	c.Write([]byte("hello"))
	deadline := time.Now().Add(5 * time.Second)
	for w.n.Load() < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("read %d of 5 bytes while the callbacks blocked", w.n.Load())
		}
		time.Sleep(time.Millisecond)
	}
}

// TestStuckWorkersReplaced: with every worker of the pool blocked in a
// callback, a connection that becomes readable is still served: the pool
// starts extra workers, which end once idle. Without them its bytes wait
// for as long as the callbacks block.
func TestStuckWorkersReplaced(t *testing.T) {
	const workers = 2
	p := newPoller(t, workers)
	ln := listen(t)
	b := &blocker{entered: make(chan struct{}, 16), release: make(chan struct{})}
	defer close(b.release)
	var clients []net.Conn
	for range 2 * workers {
		clients = append(clients, addHandler(t, p, ln, b))
	}
	for _, c := range clients {
		c.Write([]byte("x"))
	}
	// Every blocked callback gets a worker: the pool's two, then extras.
	b.waitEntered(t, len(clients))
	// And one more connection is read while all of them block.
	readWhileBlocked(t, p, ln)
	if got := p.Workers(); got <= workers {
		t.Fatalf("pool has %d workers, want more than %d", got, workers)
	}
}

// sayer is a blocker whose callback says Blocking before it waits.
type sayer struct{ blocker }

func (s *sayer) OnReady(d *Desc, ev Event) {
	d.Blocking()
	d.Blocking() // a second call in one callback counts once
	s.blocker.OnReady(d, ev)
}

// TestBlockingCallbacksHoldNoWorker: callbacks that say Blocking before
// they wait each get a worker of their own at once, beyond the cap on the
// extra workers that are started for stuck ones (here 0), and a socket
// that becomes readable meanwhile is read. Without Blocking, the pool's
// one worker would sit in the first callback and nothing else would run.
func TestBlockingCallbacksHoldNoWorker(t *testing.T) {
	old := maxExtra
	maxExtra = 0
	t.Cleanup(func() { maxExtra = old })
	p := newPoller(t, 1)
	ln := listen(t)
	b := &sayer{blocker{entered: make(chan struct{}, 16), release: make(chan struct{})}}
	released := false
	release := func() {
		if !released {
			released = true
			close(b.release)
		}
	}
	defer release()
	const blocking = 4
	for range blocking {
		addHandler(t, p, ln, b).Write([]byte("x"))
	}
	b.waitEntered(t, blocking)
	if got, want := p.Workers(), 1+blocking; got != want {
		t.Fatalf("pool has %d workers with %d callbacks blocked, want %d", got, blocking, want)
	}
	readWhileBlocked(t, p, ln)
	release()
	// Once they return, nothing counts as blocked: the extras may go.
	for deadline := time.Now().Add(5 * time.Second); p.blocked.Load() != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d callbacks still count as blocked after returning", p.blocked.Load())
		}
	}
}

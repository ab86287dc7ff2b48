//go:build linux

package netpoll

import (
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Poller watches sockets with epoll.
type Poller struct {
	epfd     int
	wakeR    int // read end of the pipe that wakes the wait loop
	wakeW    int
	work     chan *Desc
	mu       sync.RWMutex
	descs    []*Desc // by descriptor number: they are small and dense
	closed   bool
	woken    []*Desc       // for the wait loop to hand to the workers
	spare    []*Desc       // the wait loop's other woken array, reused
	waitDone chan struct{} // closed when the wait loop has returned
	wg       sync.WaitGroup

	// The pool grows when its workers are stuck: see watchStuck.
	workers  int32        // the pool's size, without the extra workers
	busy     atomic.Int32 // workers inside a callback
	done     atomic.Uint64
	extra    atomic.Int32 // extra workers alive
	blocked  atomic.Int32 // callbacks that said Blocking
	watching atomic.Bool  // watchStuck runs
}

// Extra workers. A callback may block (a request waiting on a remote
// Store): when every worker is inside one and none has returned or made
// Progress for stuckAfter while descriptors wait, the pool starts one more worker for
// each of them, up to maxExtra in all, each ending after extraIdle without
// work. Workers that only
// keep the CPU busy return from callbacks all the time, so a saturated
// pool does not grow.
//
// A callback that knows it is about to wait says so with Desc.Blocking,
// and the pool starts an extra worker at once, without waiting for
// stuckAfter and beyond maxExtra: the workers that are not blocked stay
// at least as many as the pool was made with. Each socket has at most one
// callback under way, so these extras are bounded by the sockets.
const (
	stuckAfter = 20 * time.Millisecond
	extraIdle  = time.Second
)

// maxExtra bounds the extra workers started for callbacks that block
// without saying so. A variable for the tests.
var maxExtra int32 = 4096

// Desc is a watched socket. The caller owns it, usually as a field of its
// connection, so that watching allocates nothing; its zero value is ready
// for Poller.Add. It must not be copied.
type Desc struct {
	p  *Poller
	h  Handler
	fd int32
	// mu is held around each callback. One-shot arming already keeps them
	// apart; the lock makes each callback see the previous one's writes in
	// the memory model's terms, which epoll alone does not.
	mu sync.Mutex
	// st guards the fields below, and orders epoll_ctl calls with Remove.
	st    sync.Mutex
	ready Event // what the next callback is told
	state uint8 // descArmed | descArmedOut | descWantOut | descRemoved

	blocking bool // the callback under way said Blocking; guarded by mu, not st
}

const readEvents = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT

// Desc states, bits of Desc.state.
const (
	descArmed    uint8 = 1 << iota // the kernel may report an event (one-shot not spent)
	descArmedOut                   // and that arming includes writing
	descWantOut                    // a writer waits for room: arm for writing too
	descRemoved
)

// SetFD names d's descriptor, before Add.
func (d *Desc) SetFD(fd int) { d.fd = int32(fd) }

// FD returns the descriptor set by SetFD.
func (d *Desc) FD() int { return int(d.fd) }

func (d *Desc) is(b uint8) bool { return d.state&b != 0 }

func (d *Desc) set(b uint8, on bool) {
	if on {
		d.state |= b
	} else {
		d.state &^= b
	}
}

// New starts a Poller with the given number of workers running callbacks.
func New(workers int) (*Poller, error) {
	if workers < 1 {
		workers = 1
	}
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	var pipe [2]int
	if err := syscall.Pipe2(pipe[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		syscall.Close(epfd)
		return nil, err
	}
	p := &Poller{
		epfd:     epfd,
		wakeR:    pipe[0],
		wakeW:    pipe[1],
		work:     make(chan *Desc, 4*workers),
		waitDone: make(chan struct{}),
		workers:  int32(workers),
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(p.wakeR)}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, p.wakeR, &ev); err != nil {
		p.closeFDs()
		return nil, err
	}
	p.wg.Add(workers)
	go p.wait()
	for range workers {
		go p.worker()
	}
	return p, nil
}

// Add watches d's socket, a non-blocking descriptor (see Detach) set by
// SetFD, and calls h.OnReady with d, on a worker, when it has bytes to
// read or was closed. The watch is one-shot: call Resume to get the next
// callback.
func (p *Poller) Add(d *Desc, h Handler) error {
	d.p, d.h = p, h
	fd := int(d.fd)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	if fd >= len(p.descs) {
		p.descs = append(p.descs, make([]*Desc, max(fd+1, 2*len(p.descs))-len(p.descs))...)
	}
	d.st.Lock()
	defer d.st.Unlock()
	d.set(descArmed, true)
	d.set(descArmedOut, d.is(descWantOut)) // WantWrite may come before Add
	events := uint32(readEvents)
	if d.is(descWantOut) {
		events |= syscall.EPOLLOUT
	}
	ev := syscall.EpollEvent{Events: events, Fd: d.fd}
	if err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return err
	}
	p.descs[fd] = d
	return nil
}

// Resume re-arms the watch after a callback: for reading, and for writing
// too if WantWrite asked and its callback has not come yet. After a
// callback that no readiness caused (Wake), the watch may be armed
// still; then Resume costs no system call.
func (d *Desc) Resume() error {
	d.st.Lock()
	defer d.st.Unlock()
	if d.is(descRemoved) {
		return ErrClosed
	}
	if d.is(descArmed) && d.is(descArmedOut) == d.is(descWantOut) {
		return nil
	}
	d.set(descArmed, true)
	return d.arm()
}

// WantWrite asks for a callback with Writable once the socket takes bytes
// again: call it after a write returned EAGAIN. It may be called from any
// goroutine, during a callback or not.
func (d *Desc) WantWrite() error {
	d.st.Lock()
	defer d.st.Unlock()
	if d.is(descRemoved) {
		return ErrClosed
	}
	d.set(descWantOut, true)
	if !d.is(descArmed) {
		return nil // the callback under way re-arms with it on Resume
	}
	return d.arm()
}

// arm sets the interest of the one-shot watch. Called with d.st held.
func (d *Desc) arm() error {
	events := uint32(readEvents)
	if d.is(descWantOut) {
		events |= syscall.EPOLLOUT
	}
	d.set(descArmedOut, d.is(descWantOut))
	ev := syscall.EpollEvent{Events: events, Fd: d.fd}
	return syscall.EpollCtl(d.p.epfd, syscall.EPOLL_CTL_MOD, int(d.fd), &ev)
}

// Wake runs the callback soon, with Woken, even without readiness: for
// example after the socket was shut down from another goroutine. Callbacks
// stay serialised. Wake never blocks.
func (d *Desc) Wake() {
	p := d.p
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	d.st.Lock()
	d.ready |= Woken
	d.st.Unlock()
	p.woken = append(p.woken, d)
	first := len(p.woken) == 1
	p.mu.Unlock()
	if first {
		syscall.Write(p.wakeW, []byte{1}) // EAGAIN: a wake-up is pending anyway
	}
}

// Remove stops watching. Call it before closing the descriptor, which the
// next socket may get: after Remove, Resume and WantWrite touch nothing.
func (d *Desc) Remove() {
	p := d.p
	p.mu.Lock()
	defer p.mu.Unlock()
	d.st.Lock()
	defer d.st.Unlock()
	if d.is(descRemoved) {
		return
	}
	d.set(descRemoved, true)
	if int(d.fd) < len(p.descs) && p.descs[d.fd] == d {
		p.descs[d.fd] = nil
		syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, int(d.fd), nil)
	}
}

// note records what epoll reported: the one-shot watch is spent.
func (d *Desc) note(events uint32) {
	d.st.Lock()
	d.set(descArmed, false)
	if events&(syscall.EPOLLIN|syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
		d.ready |= Readable
	}
	if d.is(descWantOut) && events&(syscall.EPOLLOUT|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
		d.ready |= Writable
		d.set(descWantOut, false)
	}
	d.st.Unlock()
}

// take returns what the callback is told, and forgets it.
func (d *Desc) take() Event {
	d.st.Lock()
	ev := d.ready
	d.ready = 0
	d.st.Unlock()
	return ev
}

func (p *Poller) wait() {
	defer close(p.waitDone)
	evs := make([]syscall.EpollEvent, 256)
	for {
		n, err := syscall.EpollWait(p.epfd, evs, -1)
		if err != nil {
			if err == syscall.EINTR {
				continue
			}
			return
		}
		for _, ev := range evs[:n] {
			if int(ev.Fd) == p.wakeR {
				if !p.takeWoken() {
					return
				}
				continue
			}
			var d *Desc
			p.mu.RLock()
			if int(ev.Fd) < len(p.descs) {
				d = p.descs[ev.Fd]
			}
			p.mu.RUnlock()
			if d != nil {
				d.note(ev.Events)
				p.hand(d)
			}
		}
	}
}

// takeWoken drains the wake pipe and hands the woken descriptors to the
// workers; it reports false once the Poller is closing. The wait loop is
// the only sender on the work channel, and sends holding no lock.
func (p *Poller) takeWoken() bool {
	var buf [64]byte
	for {
		if n, _ := syscall.Read(p.wakeR, buf[:]); n < len(buf) {
			break
		}
	}
	p.mu.Lock()
	woken, closed := p.woken, p.closed
	p.woken = p.spare[:0]
	p.mu.Unlock()
	if closed {
		return false
	}
	for _, d := range woken {
		p.hand(d)
	}
	clear(woken)
	p.spare = woken[:0]
	return true
}

// hand gives d to the workers. Called by the wait loop only.
func (p *Poller) hand(d *Desc) {
	p.watchIfStuck()
	p.work <- d
}

// watchIfStuck starts watchStuck if every worker is inside a callback
// and it does not run yet.
func (p *Poller) watchIfStuck() {
	if p.busy.Load() >= p.workers+p.extra.Load() && p.watching.CompareAndSwap(false, true) {
		p.wg.Add(1)
		go p.watchStuck()
	}
}

func (p *Poller) worker() {
	defer p.wg.Done()
	for d := range p.work {
		p.run(d)
	}
}

// run makes one callback.
func (p *Poller) run(d *Desc) {
	p.busy.Add(1)
	if len(p.work) > 0 {
		p.watchIfStuck() // the last idle worker: what waits needs a watch
	}
	d.mu.Lock()
	ev := d.take()
	if ev == 0 {
		ev = Readable // a second hand-over of one event: reading tells
	}
	d.h.OnReady(d, ev)
	if d.blocking {
		d.blocking = false
		p.blocked.Add(-1)
	}
	d.mu.Unlock()
	p.done.Add(1)
	p.busy.Add(-1)
}

// watchStuck runs while descriptors wait for a worker: every stuckAfter
// in which no callback returned, it starts an extra worker. It ends once
// nothing waits.
func (p *Poller) watchStuck() {
	defer p.wg.Done()
	last := p.done.Load()
	for {
		time.Sleep(stuckAfter)
		now := p.done.Load()
		if len(p.work) == 0 {
			p.watching.Store(false)
			if len(p.work) == 0 || !p.watching.CompareAndSwap(false, true) {
				return
			}
		}
		if now == last {
			// One more worker for each descriptor that waits.
			p.mu.RLock()
			for n := len(p.work); n > 0 && !p.closed && p.extra.Load()-p.blocked.Load() < maxExtra; n-- {
				p.extra.Add(1)
				p.wg.Add(1)
				go p.extraWorker()
			}
			p.mu.RUnlock()
		}
		last = now
	}
}

// extraWorker is a worker that ends after extraIdle without work.
func (p *Poller) extraWorker() {
	defer p.wg.Done()
	defer p.extra.Add(-1)
	idle := time.NewTimer(extraIdle)
	defer idle.Stop()
	for {
		select {
		case d, ok := <-p.work:
			if !ok {
				return
			}
			p.run(d)
			idle.Reset(extraIdle)
		case <-idle.C:
			if p.blocked.Load() >= p.extra.Load() {
				// Needed for a blocked callback's share of the pool.
				idle.Reset(extraIdle)
				continue
			}
			return
		}
	}
}

// Blocking tells the pool that d's callback, under way, is about to wait
// for something other than the CPU (a Store's round trip to Redis). If
// the pool then has fewer workers outside blocked callbacks than it was
// made with, it starts an extra worker at once, so that other sockets do
// not wait behind this one. Call it from d's callback only; calls after
// the first in one callback do nothing.
func (d *Desc) Blocking() {
	if d.blocking {
		return
	}
	d.blocking = true
	p := d.p
	if p.blocked.Add(1) <= p.extra.Load() {
		return
	}
	p.mu.RLock()
	if !p.closed {
		p.extra.Add(1)
		p.wg.Add(1)
		go p.extraWorker()
	}
	p.mu.RUnlock()
}

// Progress tells the pool that a callback under way got something done
// (a request handled): a callback that handles many is not stuck.
func (p *Poller) Progress() { p.done.Add(1) }

// Workers returns how many workers the pool has now, extra ones included.
func (p *Poller) Workers() int { return int(p.workers + p.extra.Load()) }

// Close stops the wait loop and the workers, after the callbacks under way
// return; callbacks that Wake asked for and no worker took yet do not run. Watched sockets are not closed.
func (p *Poller) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	p.closed = true
	p.mu.Unlock()
	syscall.Write(p.wakeW, []byte{1})
	<-p.waitDone
	close(p.work) // the wait loop, its only sender, has returned
	p.wg.Wait()
	p.closeFDs()
	return nil
}

func (p *Poller) closeFDs() {
	syscall.Close(p.epfd)
	syscall.Close(p.wakeR)
	syscall.Close(p.wakeW)
}

// SetStuckExtraLimit sets how many extra workers the pool starts, in all,
// for callbacks stuck without saying Blocking (4096 by default), and
// returns what restores the old limit. For tests, which set it to 0 to
// show that Blocking alone keeps workers free; it changes every Poller.
func SetStuckExtraLimit(n int32) (restore func()) {
	old := maxExtra
	maxExtra = n
	return func() { maxExtra = old }
}

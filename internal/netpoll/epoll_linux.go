//go:build linux

package netpoll

import (
	"sync"
	"syscall"
)

// Poller watches sockets with epoll.
type Poller struct {
	epfd     int
	wakeR    int // read end of the pipe that wakes the wait loop on Close
	wakeW    int
	work     chan *Desc
	mu       sync.RWMutex
	descs    map[int32]*Desc
	closed   bool
	woken    []*Desc       // for the wait loop to hand to the workers
	waitDone chan struct{} // closed when the wait loop has returned
	wg       sync.WaitGroup
}

// Desc is a watched connection.
type Desc struct {
	p       *Poller
	fd      int32
	onReady func(*Desc)
	// mu is held around each callback. One-shot arming already keeps them
	// apart; the lock makes each callback see the previous one's writes in
	// the memory model's terms, which epoll alone does not.
	mu sync.Mutex
}

const events = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT

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
		descs:    make(map[int32]*Desc),
		waitDone: make(chan struct{}),
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

// Add watches c and calls onReady, on a worker, when it has bytes to read
// or was closed by the peer. The watch is one-shot: call Resume to get the
// next callback.
func (p *Poller) Add(c syscall.RawConn, onReady func(*Desc)) (*Desc, error) {
	d := &Desc{p: p, onReady: onReady}
	var cerr error
	err := c.Control(func(fd uintptr) {
		d.fd = int32(fd)
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.closed {
			cerr = ErrClosed
			return
		}
		p.descs[d.fd] = d
		ev := syscall.EpollEvent{Events: events, Fd: d.fd}
		if cerr = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev); cerr != nil {
			delete(p.descs, d.fd)
		}
	})
	if err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return d, nil
}

// Resume re-arms the watch after a callback.
func (d *Desc) Resume() error {
	ev := syscall.EpollEvent{Events: events, Fd: d.fd}
	return syscall.EpollCtl(d.p.epfd, syscall.EPOLL_CTL_MOD, int(d.fd), &ev)
}

// Wake runs the callback soon even without readiness, for example after
// the connection was closed from another goroutine (a closed socket yields
// no event). Callbacks stay serialised. Wake never blocks.
func (d *Desc) Wake() {
	p := d.p
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.woken = append(p.woken, d)
	first := len(p.woken) == 1
	p.mu.Unlock()
	if first {
		syscall.Write(p.wakeW, []byte{1}) // EAGAIN: a wake-up is pending anyway
	}
}

// Remove stops watching. Call it before closing the connection: a closed
// descriptor number may be reused by the next connection.
func (d *Desc) Remove() {
	p := d.p
	p.mu.Lock()
	if p.descs[d.fd] == d {
		delete(p.descs, d.fd)
		syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, int(d.fd), nil)
	}
	p.mu.Unlock()
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
			p.mu.RLock()
			d := p.descs[ev.Fd]
			p.mu.RUnlock()
			if d != nil {
				p.work <- d
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
	p.woken = nil
	p.mu.Unlock()
	if closed {
		return false
	}
	for _, d := range woken {
		p.work <- d
	}
	return true
}

func (p *Poller) worker() {
	defer p.wg.Done()
	for d := range p.work {
		d.mu.Lock()
		d.onReady(d)
		d.mu.Unlock()
	}
}

// Close stops the wait loop and the workers, after the callbacks under way
// return. Watched connections are not closed.
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

package redisstore

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestBrokerSilentConnection: the subscription's connection goes silent
// without failing, as through a network that drops packets without a
// reset (a proxy between the Broker and Redis stops forwarding, both ways,
// and keeps both sockets open). The Broker finds out from its unanswered
// pings, connects again, subscribes again, and the room's events arrive
// again. A Broker that waited for the connection to fail would wait for
// TCP's own timeouts, many minutes, delivering nothing meanwhile.
func TestBrokerSilentConnection(t *testing.T) {
	addr, _ := ownRedis(t)
	px := newSilentProxy(t, addr)
	admin := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { admin.Close() })
	pub, ch := roomSubscriber(t, admin, px.addr(), func(b *Broker) {
		b.health = 50 * time.Millisecond // pings after 50 ms of quiet, dead after 150 ms
	})
	before := px.count()
	px.silence() // every connection open now: the subscription's among them
	publishUntilDelivered(t, pub, ch, "room", "the silence")
	if px.count() <= before {
		t.Fatalf("delivered after the silence on the old connection (%d connections)", px.count())
	}
}

// silentProxy forwards TCP connections to a Redis until silence: from
// then on the connections open at that moment forward nothing either way
// and stay open; new connections forward as before.
type silentProxy struct {
	ln    net.Listener
	to    string
	mu    sync.Mutex
	pairs []*silentPair
	wg    sync.WaitGroup
	done  chan struct{}
}

type silentPair struct {
	quiet atomic.Bool
	a, b  net.Conn
}

func newSilentProxy(t *testing.T, to string) *silentProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &silentProxy{ln: ln, to: to, done: make(chan struct{})}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		close(p.done)
		ln.Close()
		p.mu.Lock()
		for _, pr := range p.pairs {
			pr.a.Close()
			pr.b.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *silentProxy) addr() string { return p.ln.Addr().String() }

func (p *silentProxy) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.pairs)
}

func (p *silentProxy) silence() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pr := range p.pairs {
		pr.quiet.Store(true)
	}
}

func (p *silentProxy) accept() {
	defer p.wg.Done()
	for {
		a, err := p.ln.Accept()
		if err != nil {
			return
		}
		b, err := net.Dial("tcp", p.to)
		if err != nil {
			a.Close()
			continue
		}
		pr := &silentPair{a: a, b: b}
		p.mu.Lock()
		p.pairs = append(p.pairs, pr)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pump(pr, a, b)
		go p.pump(pr, b, a)
	}
}

// pump copies src to dst until an error, or until the pair goes quiet:
// then it stops reading and holds both sockets open until the test ends.
func (p *silentProxy) pump(pr *silentPair, dst, src net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			dst.Close()
			return
		}
		if pr.quiet.Load() {
			<-p.done
			return
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			src.Close()
			return
		}
	}
}

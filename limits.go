package epchat

import (
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/gobwas/ws"

	"github.com/epchat-go/epchat/internal/wire"
)

// closePolicy is the close code of a connection that broke the Hub's
// rules once too often: too many malformed or rate-limited requests, or
// too many failed token guesses (PROTOCOL.md).
const closePolicy = ws.StatusPolicyViolation // 1008

// tokenBucket is a per-connection request budget: it holds up to burst
// tokens and gains rate tokens per second of the Hub's clock. The zero
// value starts full on its first use. It is owned by one read loop.
type tokenBucket struct {
	tokens float64
	last   int64 // clock time, Unix ns; 0 before the first use
}

// take spends one token at now, or reports false when none is left.
func (b *tokenBucket) take(now time.Time, rate float64, burst int) bool {
	t := now.UnixNano()
	if b.last == 0 {
		b.tokens, b.last = float64(burst), t
	}
	if d := time.Duration(t - b.last); d > 0 {
		b.tokens = min(float64(burst), b.tokens+d.Seconds()*rate)
		b.last = t
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// window counts events in fixed windows of the Hub's clock: the count
// starts again at zero once window has passed since the first event of
// the current one.
type window struct {
	start int64 // clock time, Unix ns
	n     int
}

// count returns the events counted in the window running at now.
func (w *window) count(now time.Time, d time.Duration) int {
	if w.n > 0 && time.Duration(now.UnixNano()-w.start) >= d {
		w.n = 0
	}
	return w.n
}

// add counts one event at now and returns the count in its window.
func (w *window) add(now time.Time, d time.Duration) int {
	if w.count(now, d) == 0 {
		w.start = now.UnixNano()
	}
	w.n++
	return w.n
}

// guard holds the Hub's per-address state: live connections, admitted
// before the upgrade, failed invite guesses, and the users each address
// created. It has its own lock, so that admission and guessing never
// contend with fan-out. An address has an entry only while it holds a
// connection, its guesses are counted or a user it created is
// remembered: with one member per address, that is a few small map
// entries per member. Addresses live here, in memory, and never in the
// Store.
type guard struct {
	mu      sync.Mutex
	total   int
	conns   map[string]int32   // live connections by address; none at zero
	guesses map[string]*window // failed invite guesses by address
	users   map[string]int32   // users created and remembered, by address; none at zero
	made    map[string]madeBy  // user id -> the address that created it
}

// madeBy is where a user counted in guard.users came from, and when this
// process last saw it connected (clock time, Unix ns).
type madeBy struct {
	addr string
	seen int64
}

// takeUser counts a new user id created by addr at now, or reports false
// when addr has created max users that are still remembered.
func (g *guard) takeUser(addr, id string, now time.Time, max int) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := g.users[addr]
	if int(n) >= max {
		return false
	}
	if g.users == nil {
		g.users = make(map[string]int32)
		g.made = make(map[string]madeBy)
	}
	g.users[addr] = n + 1
	g.made[id] = madeBy{addr: addr, seen: now.UnixNano()}
	return true
}

// dropUser stops counting the user id: it was forgotten, ended its
// session, or was never created. Unknown ids are ignored.
func (g *guard) dropUser(id string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.dropUserLocked(id)
}

func (g *guard) dropUserLocked(id string) {
	m, ok := g.made[id]
	if !ok {
		return
	}
	delete(g.made, id)
	if n := g.users[m.addr] - 1; n > 0 {
		g.users[m.addr] = n
	} else {
		delete(g.users, m.addr)
	}
}

// expireUsers stops counting the users not seen connected to this process
// for life: the Store has forgotten them by then (another process's sweep
// did, which this one never hears of), or a live connection elsewhere
// keeps them. connected reports whether this process holds a connection
// of a user; those are seen now. It is called without the Hub's lock.
func (g *guard) expireUsers(now time.Time, life time.Duration, connected func(user string) bool) {
	cut := now.Add(-life).UnixNano()
	g.mu.Lock()
	var old []string
	for id, m := range g.made {
		if m.seen < cut {
			old = append(old, id)
		}
	}
	g.mu.Unlock()
	if len(old) == 0 {
		return
	}
	live := make([]bool, len(old))
	for i, id := range old {
		live[i] = connected(id)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for i, id := range old {
		m, ok := g.made[id]
		switch {
		case !ok:
		case live[i]:
			m.seen = now.UnixNano()
			g.made[id] = m
		default:
			g.dropUserLocked(id)
		}
	}
}

// admit takes a connection slot for addr, or reports false when the Hub
// or that address holds as many connections as allowed.
func (g *guard) admit(addr string, maxTotal, maxPerAddr int) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := g.conns[addr]
	if g.total >= maxTotal || int(n) >= maxPerAddr {
		return false
	}
	if g.conns == nil {
		g.conns = make(map[string]int32)
	}
	g.conns[addr] = n + 1
	g.total++
	return true
}

// release gives back a slot taken by admit.
func (g *guard) release(addr string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.total--
	if n := g.conns[addr] - 1; n > 0 {
		g.conns[addr] = n
	} else {
		delete(g.conns, addr)
	}
}

// guessesBlocked reports whether addr made the allowed number of failed
// invite guesses in the window running at now.
func (g *guard) guessesBlocked(addr string, now time.Time, limit int, d time.Duration) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	w := g.guesses[addr]
	return w != nil && w.count(now, d) >= limit
}

// guessFailed counts a failed invite guess from addr.
func (g *guard) guessFailed(addr string, now time.Time, d time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	w := g.guesses[addr]
	if w == nil {
		if g.guesses == nil {
			g.guesses = make(map[string]*window)
		}
		w = new(window)
		g.guesses[addr] = w
	}
	w.add(now, d)
}

// sweep forgets the guesses of addresses whose window has passed, so the
// sweeper walks only the addresses that guessed lately.
func (g *guard) sweep(now time.Time, d time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for a, w := range g.guesses {
		if w.count(now, d) == 0 {
			delete(g.guesses, a)
		}
	}
}

// remoteAddr is the default client address: the IP of the peer, with an
// IPv6 address cut to its /64 prefix, which one host or home often holds
// whole.
func remoteAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// abuse is what a connection has done against the rules, counted on its
// read side. Most connections never break one, and have none: an idle
// member's connection is the memory budget's largest item.
type abuse struct {
	violations window
	guesses    window
}

// abused returns c's abuse counts, made on first use. Read side only.
func (c *conn) abused() *abuse {
	if c.abuse == nil {
		c.abuse = new(abuse)
	}
	return c.abuse
}

// refuse answers a request that broke the protocol's rules with an error,
// and counts a violation: at the limit the connection is closed with 1008,
// right after the error.
func (c *conn) refuse(id string, code wire.Code, room string) {
	h := c.h
	// Counted before the reply goes out: the violation happened now, not
	// whenever the client has read the error.
	n := c.abused().violations.add(h.clock.Now(), h.cfg.violationWindow)
	c.replyError(id, code, room)
	if n >= h.cfg.violationLimit {
		h.log.Info("connection closed: too many violations", "conn", c.ID)
		c.CloseWith(closePolicy, "policy violation")
	}
}

// guessBlocked reports whether c, or its client address, has made as many
// failed invite guesses as allowed in the current window. Only join asks:
// a hello with a session token is never refused by it, so that members
// behind one address reconnecting with tokens a restart made unknown all
// get session_invalid at once, and a neighbour's bad joins block no
// resume. A session token holds 256 bits: guessing one is hopeless, and
// the request rate bounds the Store lookups it costs.
func (h *Hub) guessBlocked(c *conn) bool {
	now := h.clock.Now()
	return c.abuse != nil && c.abuse.guesses.count(now, h.cfg.guessWindow) >= h.cfg.guessLimit ||
		h.guard.guessesBlocked(c.addr, now, h.cfg.guessLimit, h.cfg.guessWindow)
}

// guessFailed counts a failed invite redemption by c and by its address.
func (h *Hub) guessFailed(c *conn) {
	now := h.clock.Now()
	c.abused().guesses.add(now, h.cfg.guessWindow)
	h.guard.guessFailed(c.addr, now, h.cfg.guessWindow)
	h.log.Debug("token guess failed", "conn", c.ID)
}

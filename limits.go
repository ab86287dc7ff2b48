package epchat

import (
	"math"
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
// remembered: with one member per address, that is a few small entries
// per member. Addresses live here, in memory, and never in the Store.
//
// An idle member costs the guard an entry in made (24 bytes a slot: the
// user id and 8 bytes) and, unless it shares its address, an address
// entry (24 bytes in addrs, 24 a slot in addrAt). The connections of one
// address share one copy of its string, the one admit returns.
type guard struct {
	mu    sync.Mutex
	total int
	// addrAt indexes addrs by address; free lists the indexes of addrs
	// that no address holds.
	addrAt  map[string]int32
	addrs   []addrState
	free    []int32
	guesses map[string]*window // failed invite guesses by address
	made    map[string]madeBy  // user id -> the address that created it
	epoch   int64              // Unix seconds that madeBy.seen counts from
}

// addrState is what the guard counts of one address.
type addrState struct {
	addr  string
	conns int32 // live connections
	users int32 // users created and remembered
}

// madeBy is where a user counted in guard.addrs came from (an index of
// addrs), and when this process last saw it connected, in whole seconds
// from guard.epoch (rounded down: a user is never dropped early).
type madeBy struct {
	at   int32
	seen int32
}

// secs returns now in seconds from g.epoch, within the range of madeBy.seen.
func (g *guard) secs(now time.Time) int32 {
	return int32(min(max(now.Unix()-g.epoch, 0), math.MaxInt32))
}

// addr returns the index of addr in g.addrs, adding it if new.
func (g *guard) addr(addr string) int32 {
	if i, ok := g.addrAt[addr]; ok {
		return i
	}
	if g.addrAt == nil {
		g.addrAt = make(map[string]int32)
	}
	var i int32
	if n := len(g.free); n > 0 {
		i, g.free = g.free[n-1], g.free[:n-1]
	} else {
		i = int32(len(g.addrs))
		g.addrs = append(g.addrs, addrState{})
	}
	g.addrs[i] = addrState{addr: addr}
	g.addrAt[addr] = i
	return i
}

// dropAddr forgets the address at index i once it holds nothing.
func (g *guard) dropAddr(i int32) {
	a := &g.addrs[i]
	if a.conns > 0 || a.users > 0 {
		return
	}
	delete(g.addrAt, a.addr)
	*a = addrState{}
	g.free = append(g.free, i)
	if len(g.addrAt) == 0 {
		// A Go map and a slice keep the memory of their largest size: a
		// guard that holds nothing starts again from nothing.
		g.addrAt, g.addrs, g.free = nil, nil, nil
	}
}

// takeUser counts a new user id created by addr at now, or reports false
// when addr has created max users that are still remembered.
func (g *guard) takeUser(addr, id string, now time.Time, max int) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	i, ok := g.addrAt[addr]
	if ok && int(g.addrs[i].users) >= max || !ok && max <= 0 {
		return false
	}
	if !ok {
		i = g.addr(addr)
	}
	if g.made == nil {
		g.made = make(map[string]madeBy)
		g.epoch = now.Unix()
	}
	g.addrs[i].users++
	g.made[id] = madeBy{at: i, seen: g.secs(now)}
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
	g.addrs[m.at].users--
	g.dropAddr(m.at)
}

// seenUser notes that the user id, if this process created it, was
// connected to this process until now: a connection of it ended. Its life
// starts again from there, as the Store's does (Detach refreshes the
// user's seen time): a user kept alive by short connections that no sweep
// finds goes on counting. (A connection still open is seen by
// expireUsers.) Unknown ids are ignored.
func (g *guard) seenUser(id string, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if m, ok := g.made[id]; ok {
		m.seen = g.secs(now)
		g.made[id] = m
	}
}

// expireUsers stops counting the users not seen connected to this process
// for life: the Store has forgotten them by then (another process's sweep
// did, which this one never hears of), or a live connection elsewhere
// keeps them. connected reports whether this process holds a connection
// of a user; those are seen now. It is called without the Hub's lock.
func (g *guard) expireUsers(now time.Time, life time.Duration, connected func(user string) bool) {
	g.mu.Lock()
	cut := g.secs(now.Add(-life))
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
		case m.seen >= cut: // seen (seenUser) while the lock was let go
		case live[i]:
			m.seen = g.secs(now)
			g.made[id] = m
		default:
			g.dropUserLocked(id)
		}
	}
}

// admit takes a connection slot for addr, or reports false when the Hub
// or that address holds as many connections as allowed. It returns the
// guard's copy of addr, which the connection keeps in place of its own.
func (g *guard) admit(addr string, maxTotal, maxPerAddr int) (string, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	i, ok := g.addrAt[addr]
	if g.total >= maxTotal || ok && int(g.addrs[i].conns) >= maxPerAddr || !ok && maxPerAddr <= 0 {
		return "", false
	}
	if !ok {
		i = g.addr(addr)
	}
	g.addrs[i].conns++
	g.total++
	return g.addrs[i].addr, true
}

// release gives back a slot taken by admit.
func (g *guard) release(addr string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.total--
	if i, ok := g.addrAt[addr]; ok {
		g.addrs[i].conns--
		g.dropAddr(i)
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

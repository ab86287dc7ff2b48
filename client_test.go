package epchat_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"

	"github.com/epchat-go/epchat"
)

// waitFor bounds how long a test waits for an event that should come. It
// is a deadline for failure, never a sleep: tests move on as soon as the
// event arrives.
const waitFor = 5 * time.Second

// event is one server event, decoded.
type event map[string]any

func (e event) str(k string) string {
	s, _ := e[k].(string)
	return s
}

func (e event) num(k string) int64 {
	f, _ := e[k].(float64)
	return int64(f)
}

func (e event) typ() string { return e.str("type") }

// memberIDs returns the ids of the members field, in order.
func (e event) memberIDs() []string {
	var out []string
	list, _ := e["members"].([]any)
	for _, m := range list {
		mm, _ := m.(map[string]any)
		id, _ := mm["id"].(string)
		out = append(out, id)
	}
	return out
}

// client is a test client of the epchat protocol, written from PROTOCOL.md.
// It answers pings (as browsers do) unless told not to, and records the
// close code it receives.
type client struct {
	t      testing.TB
	nc     net.Conn
	wmu    sync.Mutex
	noPong atomic.Bool

	readerDone chan struct{} // closed when readLoop returns

	mu     sync.Mutex
	cond   *sync.Cond
	events []event
	pongs  []string // payloads of the pongs received
	closed bool
	code   ws.StatusCode
	reqSeq int
	id     string // member id after hello
	token  string // session token after hello

	// resume is not nil while the client is paused: its read loop stops
	// reading the socket, like a peer that stopped reading, until closed.
	pauseMu sync.Mutex
	resume  chan struct{}
}

// pause stops the client reading and answering, after the frame being
// read, if any.
func (c *client) pause() {
	c.pauseMu.Lock()
	defer c.pauseMu.Unlock()
	if c.resume == nil {
		c.resume = make(chan struct{})
	}
}

// unpause lets a paused client read again.
func (c *client) unpause() {
	c.pauseMu.Lock()
	defer c.pauseMu.Unlock()
	if c.resume != nil {
		close(c.resume)
		c.resume = nil
	}
}

// dial opens a WebSocket to url (ws://...).
func dial(t testing.TB, url string) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	nc, br, _, err := ws.Dial(ctx, url)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	c := &client{t: t, nc: nc, readerDone: make(chan struct{})}
	c.cond = sync.NewCond(&c.mu)
	var r io.Reader = nc
	if br != nil {
		r = io.MultiReader(br, nc)
	}
	go c.readLoop(bufio.NewReader(r))
	t.Cleanup(func() {
		nc.Close()
		c.unpause()
	})
	return c
}

func (c *client) readLoop(r io.Reader) {
	if c.readerDone != nil {
		defer close(c.readerDone)
	}
	defer func() {
		c.mu.Lock()
		c.closed = true
		c.cond.Broadcast()
		c.mu.Unlock()
	}()
	for {
		h, err := ws.ReadHeader(r)
		if err != nil {
			return
		}
		// A server frame is final, unmasked, with no reserved bit, and
		// control or text: the Hub never fragments and speaks text only.
		if !h.Fin || h.Masked || h.Rsv != 0 || h.Length > 1<<24 ||
			!(h.OpCode.IsControl() || h.OpCode == ws.OpText) {
			c.t.Errorf("server sent an invalid frame header %+v", h)
			return
		}
		p := make([]byte, h.Length)
		if _, err := io.ReadFull(r, p); err != nil {
			return
		}
		// A paused client reads at most this frame and what its buffer
		// holds, and acts on nothing until it is unpaused.
		c.pauseMu.Lock()
		resume := c.resume
		c.pauseMu.Unlock()
		if resume != nil {
			<-resume
		}
		switch h.OpCode {
		case ws.OpPong:
			c.mu.Lock()
			c.pongs = append(c.pongs, string(p))
			c.cond.Broadcast()
			c.mu.Unlock()
		case ws.OpPing:
			if !c.noPong.Load() {
				c.writeFrame(ws.OpPong, p)
			}
		case ws.OpClose:
			code, _ := ws.ParseCloseFrameData(p)
			c.mu.Lock()
			c.code = code
			c.mu.Unlock()
			c.writeFrame(ws.OpClose, p)
			return
		case ws.OpText:
			if !utf8.Valid(p) {
				c.t.Errorf("server sent invalid UTF-8 %q", p)
				return
			}
			var e event
			if err := json.Unmarshal(p, &e); err != nil {
				c.t.Errorf("server sent invalid JSON %q: %v", p, err)
				return
			}
			c.mu.Lock()
			c.events = append(c.events, e)
			c.cond.Broadcast()
			c.mu.Unlock()
		}
	}
}

func (c *client) writeFrame(op ws.OpCode, p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return ws.WriteFrame(c.nc, ws.MaskFrame(ws.NewFrame(op, true, p)))
}

// writeRaw writes bytes as they are: frames built by hand, valid or not.
func (c *client) writeRaw(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.nc.Write(b)
	return err
}

// sendRaw sends one text message as is.
func (c *client) sendRaw(p string) {
	if err := c.writeFrame(ws.OpText, []byte(p)); err != nil {
		c.t.Fatalf("write %.40s: %v", p, err)
	}
}

// send sends a request; it adds an id when there is none and returns it.
func (c *client) send(req map[string]any) string {
	c.mu.Lock()
	c.reqSeq++
	id := fmt.Sprintf("r%d", c.reqSeq)
	c.mu.Unlock()
	if _, ok := req["id"]; !ok {
		req["id"] = id
	}
	b, _ := json.Marshal(req)
	c.sendRaw(string(b))
	s, _ := req["id"].(string)
	return s
}

// take waits for the first queued event matching match and removes it.
func (c *client) take(what string, match func(event) bool) event {
	c.t.Helper()
	deadline := time.Now().Add(waitFor)
	timer := time.AfterFunc(waitFor, func() {
		c.mu.Lock()
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	defer timer.Stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		for i, e := range c.events {
			if match(e) {
				c.events = append(c.events[:i], c.events[i+1:]...)
				return e
			}
		}
		if c.closed || time.Now().After(deadline) {
			c.t.Fatalf("no %s (closed=%v code=%d); queued: %v", what, c.closed, c.code, c.events)
		}
		c.cond.Wait()
	}
}

// call sends a request and returns its reply (or error event).
func (c *client) call(req map[string]any) event {
	c.t.Helper()
	id := c.send(req)
	return c.take("reply to "+id, func(e event) bool { return e.str("id") == id })
}

// mustCall is call that fails the test on an error reply or another type.
func (c *client) mustCall(want string, req map[string]any) event {
	c.t.Helper()
	e := c.call(req)
	if e.typ() != want {
		c.t.Fatalf("%v: got %v, want a %s", req, e, want)
	}
	return e
}

// expect waits for the next event of type typ (about room, when not "").
func (c *client) expect(typ, room string) event {
	c.t.Helper()
	return c.take(typ, func(e event) bool {
		return e.typ() == typ && e.str("id") == "" && (room == "" || e.str("room") == room)
	})
}

// next returns the next event, whatever it is.
func (c *client) next() event {
	c.t.Helper()
	return c.take("any event", func(event) bool { return true })
}

// none checks that no event is queued now. Use after a synchronizing call.
func (c *client) none() {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.events) > 0 {
		c.t.Fatalf("unexpected events: %v", c.events)
	}
}

// closeCode waits for the connection to end and returns the close code it
// received (0 if none).
func (c *client) closeCode() ws.StatusCode {
	c.t.Helper()
	timer := time.AfterFunc(waitFor, func() {
		c.mu.Lock()
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	defer timer.Stop()
	deadline := time.Now().Add(waitFor)
	c.mu.Lock()
	defer c.mu.Unlock()
	for !c.closed {
		if time.Now().After(deadline) {
			c.t.Fatal("connection not closed")
		}
		c.cond.Wait()
	}
	return c.code
}

// hello identifies the client with a new nickname.
func (c *client) hello(nick string) event {
	c.t.Helper()
	e := c.mustCall("welcome", map[string]any{"type": "hello", "nickname": nick})
	you, _ := e["you"].(map[string]any)
	c.id, _ = you["id"].(string)
	c.token = e.str("token")
	return e
}

// fakeClock is a Clock whose time moves only when the test says so.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	tickers []chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) NewTicker(time.Duration) (<-chan time.Time, func()) {
	ch := make(chan time.Time)
	f.mu.Lock()
	f.tickers = append(f.tickers, ch)
	f.mu.Unlock()
	return ch, func() {}
}

// advance moves the clock by d and runs one sweep at the new time. It
// returns once that sweep is done: the second tick is only taken by the
// sweeper after it finished the first.
func (f *fakeClock) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	now := f.now
	tickers := f.tickers
	f.mu.Unlock()
	for _, ch := range tickers {
		ch <- now
		ch <- now
	}
}

// testHub is a Hub mounted under /chat/ on an httptest server.
type testHub struct {
	*epchat.Hub
	srv   *httptest.Server
	url   string // ws:// URL of the hub
	clock *fakeClock
	store *epchat.MemoryStore
}

func newTestHub(t testing.TB, opts ...epchat.Option) *testHub {
	t.Helper()
	return newTestHubListener(t, nil, opts...)
}

// newTestHubListener is newTestHub whose server accepts connections
// through wrap, when not nil.
func newTestHubListener(t testing.TB, wrap func(net.Listener) net.Listener, opts ...epchat.Option) *testHub {
	t.Helper()
	clk := newFakeClock()
	store := epchat.NewMemoryStore()
	opts = append([]epchat.Option{epchat.WithClock(clk), epchat.WithStore(store), epchat.WithNetpoll(!blockingReads())}, opts...)
	hub, err := epchat.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/chat/", http.StripPrefix("/chat", hub))
	srv := httptest.NewUnstartedServer(mux)
	if wrap != nil {
		srv.Listener = wrap(srv.Listener)
	}
	srv.Start()
	th := &testHub{Hub: hub, srv: srv, url: "ws" + strings.TrimPrefix(srv.URL, "http") + "/chat/", clock: clk, store: store}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		hub.Shutdown(ctx)
		srv.Close()
		checkNoHubGoroutines(t)
	})
	return th
}

// client dials the hub and identifies with nick.
func (th *testHub) client(t testing.TB, nick string) *client {
	t.Helper()
	c := dial(t, th.url)
	c.hello(nick)
	return c
}

// room creates a room owned by owner and seats the others in it.
func (th *testHub) room(t testing.TB, owner *client, others ...*client) string {
	t.Helper()
	room := owner.mustCall("joined", map[string]any{"type": "create"}).str("room")
	for _, o := range others {
		tok := owner.mustCall("invite", map[string]any{"type": "invite", "room": room}).str("token")
		o.mustCall("joined", map[string]any{"type": "join", "token": tok})
		for _, prev := range append([]*client{owner}, others...) {
			if prev == o {
				break
			}
			prev.expect("member_joined", room)
		}
	}
	return room
}

// checkNoHubGoroutines fails if any goroutine is still running Hub code.
// The Hub's goroutines end with Shutdown, but a connection's read loop may
// still be unwinding, so this waits a little for them to go.
func checkNoHubGoroutines(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		var b strings.Builder
		pprof.Lookup("goroutine").WriteTo(&b, 2)
		var leaked []string
		for g := range strings.SplitSeq(b.String(), "\n\n") {
			if strings.Contains(g, "github.com/epchat-go/epchat.(*") && !strings.Contains(g, "_test.") {
				leaked = append(leaked, g)
			}
		}
		if len(leaked) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines of the Hub still running:\n%s", len(leaked), strings.Join(leaked, "\n\n"))
		}
		time.Sleep(10 * time.Millisecond) // polling for goroutines to unwind, not a time rule
	}
}

// waitDetached waits until the Hub has seen every connection of the user
// holding token go away: the server learns of a dropped socket on its own
// time.
func (th *testHub) waitDetached(t testing.TB, token string) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		u, err := th.store.UserByToken(context.Background(), sha256.Sum256([]byte(token)))
		if err == nil && u.Conns == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("user still attached: %+v, %v", u, err)
		}
		time.Sleep(5 * time.Millisecond) // polling real state, not a time rule
	}
}

// blockingReads tells whether this run tests the blocking read loop
// (EPCHAT_NETPOLL=off) instead of the poller: scripts/test.sh runs the
// package both ways, which must behave the same.
func blockingReads() bool { return os.Getenv("EPCHAT_NETPOLL") == "off" }

// hubGoroutines counts the goroutines running Hub code.
func hubGoroutines() int {
	var b strings.Builder
	pprof.Lookup("goroutine").WriteTo(&b, 2)
	n := 0
	for g := range strings.SplitSeq(b.String(), "\n\n") {
		if strings.Contains(g, "github.com/epchat-go/epchat.") && !strings.Contains(g, "_test.") {
			n++
		}
	}
	return n
}

var (
	pastDeadline = time.Unix(1, 0)
	noDeadline   time.Time
)

// waitClosedReader waits for the client's read loop to stop, after a read
// deadline in the past made its read fail, so a benchmark can take the
// socket over.
func (c *client) waitClosedReader() { <-c.readerDone }

// waitABit yields while a benchmark waits for its readers.
func waitABit() { time.Sleep(50 * time.Microsecond) }

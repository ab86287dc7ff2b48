package epchat_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/epchat-go/epchat"
	"github.com/epchat-go/epchat/epchattest"
)

// waitFor bounds how long a test waits for what should come: a dial, a
// Shutdown, a state the Hub reaches on its own time (the client's waits
// for events are bounded by epchattest.Wait). It is a deadline for failure,
// never a sleep: tests move on as soon as it comes.
const waitFor = 5 * time.Second

// newClock returns a clock that only the test moves, for the Hub's time
// rules to be tested without sleeping.
func newClock() *epchattest.Clock {
	return epchattest.NewClock(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
}

// testHub is a Hub mounted under /chat/ on an httptest server, the one
// fixture of this package's tests. Its log is kept at debug level and
// checked, when the test ends, for every secret the test registered (the
// nicknames and tokens of its clients, the texts it sent) and anything
// shaped like a token. The Hub's store is a MemoryStore unless the test
// gives another (store is then unused).
type testHub struct {
	*epchat.Hub
	srv   *httptest.Server
	url   string // ws:// URL of the hub
	clock *epchattest.Clock
	store *epchat.MemoryStore
	logs  *logSink

	mu      sync.Mutex
	secrets []string
}

func newTestHub(t testing.TB, opts ...epchat.Option) *testHub {
	t.Helper()
	return newTestHubListener(t, nil, opts...)
}

// newTestHubListener is newTestHub whose server accepts connections
// through wrap, when not nil.
func newTestHubListener(t testing.TB, wrap func(net.Listener) net.Listener, opts ...epchat.Option) *testHub {
	t.Helper()
	clk := newClock()
	store := epchat.NewMemoryStore()
	th := &testHub{clock: clk, store: store, logs: &logSink{}}
	// Registered first, so it runs last: after Shutdown has logged too.
	t.Cleanup(func() {
		th.mu.Lock()
		defer th.mu.Unlock()
		th.logs.checkClean(t, th.secrets)
	})
	opts = append([]epchat.Option{
		epchat.WithClock(clk),
		epchat.WithStore(store),
		epchat.WithNetpoll(!blockingReads()),
		epchat.WithLogger(slog.New(th.logs.handler())),
	}, opts...)
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
	th.Hub, th.srv, th.url = hub, srv, "ws"+strings.TrimPrefix(srv.URL, "http")+"/chat/"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		hub.Shutdown(ctx)
		srv.Close()
		checkNoHubGoroutines(t)
	})
	return th
}

// client dials the hub and identifies with nick; its session token is a
// secret, and so is its nickname if it has six characters or more
// (shorter ones turn up in random ids by chance).
func (th *testHub) client(t testing.TB, nick string) *epchattest.Client {
	t.Helper()
	if len(nick) >= 6 {
		th.secret(nick)
	}
	c := epchattest.Dial(t, th.url)
	c.Hello(nick)
	th.secret(c.Token)
	return c
}

// secret registers strings that must never reach the log.
func (th *testHub) secret(s ...string) {
	th.mu.Lock()
	th.secrets = append(th.secrets, s...)
	th.mu.Unlock()
}

// room creates a room owned by owner and seats the others in it.
func (th *testHub) room(t testing.TB, owner *epchattest.Client, others ...*epchattest.Client) string {
	t.Helper()
	room := owner.MustCall("joined", map[string]any{"type": "create"}).Str("room")
	for _, o := range others {
		tok := owner.MustCall("invite", map[string]any{"type": "invite", "room": room}).Str("token")
		o.MustCall("joined", map[string]any{"type": "join", "token": tok})
		for _, prev := range append([]*epchattest.Client{owner}, others...) {
			if prev == o {
				break
			}
			prev.Expect("member_joined", room)
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
			if runsHubCode(g) {
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

// runsHubCode tells whether the goroutine stack g runs the Hub's code:
// its own, or a connection's transport (a writer, a blocking reader),
// which names no function of the Hub's package.
func runsHubCode(g string) bool {
	return (strings.Contains(g, "github.com/epchat-go/epchat.(*") ||
		strings.Contains(g, "github.com/epchat-go/epchat/internal/transport.")) &&
		!strings.Contains(g, "_test.")
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

// waitConns waits until the Store counts n connections of the user
// holding token: a Hub takes a closed connection out of its own index
// before it tells the Store.
func (th *testHub) waitConns(t testing.TB, token string, n int) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		u, err := th.store.UserByToken(context.Background(), sha256.Sum256([]byte(token)))
		if err == nil && u.Conns == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("user has %+v, %v; want %d connections", u, err, n)
		}
		time.Sleep(5 * time.Millisecond) // polling real state, not a time rule
	}
}

// blockingReads tells whether this run tests the blocking read loop
// (EPCHAT_NETPOLL=off) instead of the poller: scripts/test.sh runs the
// package both ways, which must behave the same.
func blockingReads() bool { return os.Getenv("EPCHAT_NETPOLL") == "off" }

// hubGoroutines returns the stacks of the goroutines running Hub code,
// so that a test that finds too many can name them.
func hubGoroutines() []string {
	var b strings.Builder
	pprof.Lookup("goroutine").WriteTo(&b, 2)
	var out []string
	for g := range strings.SplitSeq(b.String(), "\n\n") {
		if runsHubCode(g) {
			out = append(out, g)
		}
	}
	return out
}

var (
	pastDeadline = time.Unix(1, 0)
	noDeadline   time.Time
)

// waitABit yields while a benchmark waits for its readers.
func waitABit() { time.Sleep(50 * time.Microsecond) }

// logSink is a slog.Handler that keeps every record as text, so a test can
// check that no content reached the log.
type logSink struct {
	mu    sync.Mutex
	lines []string
}

type sinkHandler struct {
	s      *logSink
	prefix string // attributes and groups from With
}

func (s *logSink) handler() slog.Handler { return &sinkHandler{s: s} }

func (h *sinkHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *sinkHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message + h.prefix)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value.Resolve())
		return true
	})
	h.s.mu.Lock()
	h.s.lines = append(h.s.lines, b.String())
	h.s.mu.Unlock()
	return nil
}

func (h *sinkHandler) WithAttrs(as []slog.Attr) slog.Handler {
	p := h.prefix
	for _, a := range as {
		p += fmt.Sprintf(" %s=%v", a.Key, a.Value.Resolve())
	}
	return &sinkHandler{s: h.s, prefix: p}
}

func (h *sinkHandler) WithGroup(name string) slog.Handler {
	return &sinkHandler{s: h.s, prefix: h.prefix + " " + name + ":"}
}

// tokenLike matches what looks like a 32-byte secret in base64url (43
// characters): session and invite tokens. Room and member ids are shorter.
var tokenLike = regexp.MustCompile(`[A-Za-z0-9_-]{43}`)

// checkClean fails if a record holds a secret or anything shaped like a
// token.
func (s *logSink) checkClean(t testing.TB, secrets []string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.lines {
		if tokenLike.MatchString(l) {
			t.Errorf("a token reached the log: %q", l)
		}
		for _, sec := range secrets {
			if sec != "" && strings.Contains(l, sec) {
				t.Errorf("%q reached the log: %q", sec, l)
			}
		}
	}
}

// count returns how many records contain substr.
func (s *logSink) count(substr string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, l := range s.lines {
		if strings.Contains(l, substr) {
			n++
		}
	}
	return n
}

// invite makes an invite in room as owner and returns its token.
func (th *testHub) invite(t testing.TB, owner *epchattest.Client, room string) string {
	t.Helper()
	tok := owner.MustCall("invite", map[string]any{"type": "invite", "room": room}).Str("token")
	th.secret(tok)
	return tok
}

// say sends text to room from c and checks it was sent; text is a secret.
func (th *testHub) say(t testing.TB, c *epchattest.Client, room, text string) {
	t.Helper()
	th.secret(text)
	c.MustCall("sent", map[string]any{"type": "send", "room": room, "text": text})
}

// expectText waits for the next event of c, which must be a message in
// room with text.
func expectText(t testing.TB, c *epchattest.Client, room, text string) {
	t.Helper()
	e := c.Next()
	if e.Type() != "message" || e.Str("room") != room || e.Str("text") != text {
		t.Fatalf("next event %v, want the message %q in %s", e, text, room)
	}
}

// waitUntil polls cond until it holds; what it waits for is real state the
// Hub reaches on its own time (a socket noticed closed), never a time rule.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

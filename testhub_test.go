package epchat_test

import (
	"context"
	"crypto/sha256"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/epchat-go/epchat"
	"github.com/epchat-go/epchat/internal/wstest"
)

// waitFor bounds how long a test waits for what should come: a dial, a
// Shutdown, a state the Hub reaches on its own time (the client's waits
// for events are bounded by wstest.Wait). It is a deadline for failure,
// never a sleep: tests move on as soon as it comes.
const waitFor = 5 * time.Second

// newClock returns a clock that only the test moves, for the Hub's time
// rules to be tested without sleeping.
func newClock() *wstest.Clock {
	return wstest.NewClock(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
}

// testHub is a Hub mounted under /chat/ on an httptest server.
type testHub struct {
	*epchat.Hub
	srv   *httptest.Server
	url   string // ws:// URL of the hub
	clock *wstest.Clock
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
	clk := newClock()
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
func (th *testHub) client(t testing.TB, nick string) *wstest.Client {
	t.Helper()
	c := wstest.Dial(t, th.url)
	c.Hello(nick)
	return c
}

// room creates a room owned by owner and seats the others in it.
func (th *testHub) room(t testing.TB, owner *wstest.Client, others ...*wstest.Client) string {
	t.Helper()
	room := owner.MustCall("joined", map[string]any{"type": "create"}).Str("room")
	for _, o := range others {
		tok := owner.MustCall("invite", map[string]any{"type": "invite", "room": room}).Str("token")
		o.MustCall("joined", map[string]any{"type": "join", "token": tok})
		for _, prev := range append([]*wstest.Client{owner}, others...) {
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

// waitABit yields while a benchmark waits for its readers.
func waitABit() { time.Sleep(50 * time.Microsecond) }

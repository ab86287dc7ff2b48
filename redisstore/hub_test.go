package redisstore

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/epchat-go/epchat"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// The tests in this file run real Hubs over real WebSockets on the Store:
// two Hub processes of one deployment, each with its own Store value (its
// own node) on the test Redis, and a clock each that only the test moves.
// There is no Broker yet, so each Hub delivers events to its own
// connections only; what is checked is that the rules, kept in Redis, hold
// across the two.

// waitFor bounds every wait for the network; it is not a timed assertion.
const waitFor = 10 * time.Second

type testClock struct {
	mu      sync.Mutex
	now     time.Time
	tickers []chan time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) NewTicker(time.Duration) (<-chan time.Time, func()) {
	ch := make(chan time.Time)
	c.mu.Lock()
	c.tickers = append(c.tickers, ch)
	c.mu.Unlock()
	return ch, func() {}
}

// advance moves the clock by d and waits until the Hub's sweeper has swept
// at the new time (it takes the second tick only after the first sweep).
func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	now, tickers := c.now, c.tickers
	c.mu.Unlock()
	for _, ch := range tickers {
		ch <- now
		ch <- now
	}
}

type process struct {
	hub   *epchat.Hub
	store *Store
	clock *testClock
	url   string
}

func startProcess(t *testing.T, prefix string) *process {
	t.Helper()
	p := &process{
		store: newStoreOn(t, newClient(t), prefix),
		clock: &testClock{now: t0},
	}
	hub, err := epchat.New(
		epchat.WithStore(p.store),
		epchat.WithClock(p.clock),
		epchat.WithPingInterval(time.Hour), // the test clients do not answer pings
	)
	if err != nil {
		t.Fatal(err)
	}
	p.hub = hub
	srv := httptest.NewServer(http.StripPrefix("/chat", hub))
	p.url = "ws" + strings.TrimPrefix(srv.URL, "http") + "/chat/"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		hub.Shutdown(ctx)
		srv.Close()
	})
	return p
}

// heartbeat beats the process's node at its clock's time.
func (p *process) heartbeat(t *testing.T) {
	t.Helper()
	if err := p.store.Heartbeat(bg, p.clock.Now()); err != nil {
		t.Fatal(err)
	}
}

type wsClient struct {
	t      *testing.T
	nc     net.Conn
	events chan map[string]any
	you    string
}

// connect dials p and identifies as nick.
func connect(t *testing.T, p *process, nick string) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	nc, _, _, err := ws.Dial(ctx, p.url)
	if err != nil {
		t.Fatal(err)
	}
	c := &wsClient{t: t, nc: nc, events: make(chan map[string]any, 64)}
	t.Cleanup(func() { nc.Close() })
	go func() {
		defer close(c.events)
		for {
			data, err := wsutil.ReadServerText(nc)
			if err != nil {
				return
			}
			var ev map[string]any
			if json.Unmarshal(data, &ev) == nil {
				c.events <- ev
			}
		}
	}()
	w := c.call("welcome", map[string]any{"type": "hello", "nickname": nick})
	c.you = w["you"].(map[string]any)["id"].(string)
	return c
}

// next returns the next event of type typ, skipping others.
func (c *wsClient) next(typ string) map[string]any {
	c.t.Helper()
	timeout := time.After(waitFor)
	for {
		select {
		case ev, ok := <-c.events:
			if !ok {
				c.t.Fatalf("connection closed while waiting for %s", typ)
			}
			if ev["type"] == typ {
				return ev
			}
		case <-timeout:
			c.t.Fatalf("no %s event", typ)
		}
	}
}

// call sends req and returns its reply, failing unless it is of type want.
func (c *wsClient) call(want string, req map[string]any) map[string]any {
	c.t.Helper()
	req["id"] = "r"
	b, _ := json.Marshal(req)
	if err := wsutil.WriteClientText(c.nc, b); err != nil {
		c.t.Fatal(err)
	}
	timeout := time.After(waitFor)
	for {
		select {
		case ev, ok := <-c.events:
			if !ok {
				c.t.Fatalf("connection closed while waiting for the reply to %v", req["type"])
			}
			if ev["id"] != "r" {
				continue
			}
			if ev["type"] != want {
				c.t.Fatalf("%v: got %v, want %s", req["type"], ev, want)
			}
			return ev
		case <-timeout:
			c.t.Fatalf("no reply to %v", req["type"])
		}
	}
}

// TestHubsShareRules: a room made on process a is joined through process
// b with an invite from a; the invite then fails on a; and when b dies
// (its heartbeat stops, its connections stay open), a frees b's member one
// reconnect grace after b's last heartbeat and tells its own members.
func TestHubsShareRules(t *testing.T) {
	prefix := freshPrefix()
	a, b := startProcess(t, prefix), startProcess(t, prefix)
	a.heartbeat(t)
	b.heartbeat(t)

	ann := connect(t, a, "Ann")
	room := ann.call("joined", map[string]any{"type": "create"})["room"].(string)
	token := ann.call("invite", map[string]any{"type": "invite", "room": room})["token"].(string)

	bob := connect(t, b, "Bob")
	joined := bob.call("joined", map[string]any{"type": "join", "token": token})
	if ms := joined["members"].([]any); len(ms) != 2 || joined["owner"] != ann.you {
		t.Fatalf("bob joined through b: %v; want ann's room with ann and bob", joined)
	}
	cat := connect(t, a, "Cat")
	if e := cat.call("error", map[string]any{"type": "join", "token": token}); e["code"] != "invite_invalid" {
		t.Fatalf("second use of the invite on a: %v, want invite_invalid", e)
	}
	// Message sequence numbers are the room's, whichever process sends.
	bob.call("sent", map[string]any{"type": "send", "room": room, "text": "x"})
	sent := ann.call("sent", map[string]any{"type": "send", "room": room, "text": "y"})
	if sent["seq"] != 2.0 {
		t.Fatalf("ann's message after bob's: %v, want seq 2", sent)
	}

	// b dies: no more heartbeats, and its clock and sweeper stand still.
	a.clock.advance(20 * time.Second)
	a.heartbeat(t) // b's heartbeat is 20 s old: reaped
	a.clock.advance(grace - 20*time.Second + time.Millisecond)
	left := ann.next("member_left")
	if left["member"] != bob.you || left["reason"] != "disconnected" {
		t.Fatalf("ann saw %v; want bob leaving, disconnected", left)
	}
	_, ms, err := a.store.Room(bg, room)
	if err != nil || memberIDs(ms) != ann.you {
		t.Fatalf("room after b's death: %v, %v; want ann alone", ms, err)
	}
}

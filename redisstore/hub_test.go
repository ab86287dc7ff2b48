package redisstore

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/epchat-go/epchat"
	"github.com/epchat-go/epchat/epchattest"
)

// The tests in this file run real Hubs over real WebSockets on the Store:
// two Hub processes of one deployment, each with its own Store value (its
// own node) on the test Redis, and a clock each that only the test moves.
// There is no Broker yet, so each Hub delivers events to its own
// connections only; what is checked is that the rules, kept in Redis, hold
// across the two.

// waitFor bounds every wait for the network; it is not a timed assertion.
const waitFor = 10 * time.Second

type process struct {
	hub   *epchat.Hub
	store *Store
	clock *epchattest.Clock
	url   string
}

// startProcess starts a process of the deployment prefix, with a Broker
// as processes sharing a Store have: a Hub without one takes itself for
// the Store's only user (its Store sweeper vacates, at every tick, only
// with a Broker).
func startProcess(t *testing.T, prefix string) *process {
	t.Helper()
	rdb := newClient(t)
	p := &process{
		store: newStoreOn(t, rdb, prefix),
		clock: epchattest.NewClock(t0),
	}
	broker, err := NewBroker(rdb, WithPrefix(prefix))
	if err != nil {
		t.Fatal(err)
	}
	hub, err := epchat.New(
		epchat.WithStore(p.store),
		epchat.WithBroker(broker),
		epchat.WithClock(p.clock),
		epchat.WithPingInterval(time.Hour), // keepalive is not under test
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

// connect dials p and identifies as nick.
func (p *process) connect(t *testing.T, nick string) *epchattest.Client {
	t.Helper()
	c := epchattest.Dial(t, p.url)
	c.Hello(nick)
	return c
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

	ann := a.connect(t, "Ann")
	room := ann.MustCall("joined", map[string]any{"type": "create"}).Str("room")
	token := ann.MustCall("invite", map[string]any{"type": "invite", "room": room}).Str("token")

	bob := b.connect(t, "Bob")
	joined := bob.MustCall("joined", map[string]any{"type": "join", "token": token})
	if ms := joined["members"].([]any); len(ms) != 2 || joined["owner"] != ann.ID {
		t.Fatalf("bob joined through b: %v; want ann's room with ann and bob", joined)
	}
	cat := a.connect(t, "Cat")
	if e := cat.MustCall("error", map[string]any{"type": "join", "token": token}); e["code"] != "invite_invalid" {
		t.Fatalf("second use of the invite on a: %v, want invite_invalid", e)
	}
	// Message sequence numbers are the room's, whichever process sends.
	bob.MustCall("sent", map[string]any{"type": "send", "room": room, "text": "x"})
	sent := ann.MustCall("sent", map[string]any{"type": "send", "room": room, "text": "y"})
	if sent["seq"] != 2.0 {
		t.Fatalf("ann's message after bob's: %v, want seq 2", sent)
	}

	// b dies: no more heartbeats, and its clock and sweeper stand still.
	for range 4 { // a beats every 5 s; at 20 s, b's last heartbeat is too old
		a.clock.Advance(5 * time.Second)
		a.heartbeat(t)
	}
	a.clock.Advance(grace - 20*time.Second + time.Millisecond)
	left := ann.Expect("member_left", room)
	if left["member"] != bob.ID || left["reason"] != "disconnected" {
		t.Fatalf("ann saw %v; want bob leaving, disconnected", left)
	}
	_, ms, err := a.store.Room(bg, room)
	if err != nil || memberIDs(ms) != ann.ID {
		t.Fatalf("room after b's death: %v, %v; want ann alone", ms, err)
	}
}

package redisstore

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/epchat-go/epchat"
	"github.com/epchat-go/epchat/epchattest"
	"github.com/redis/go-redis/v9"
)

// The tests in this file run a deployment of two Hub processes, a and b,
// each with its own Redis client, Store (its own node) and Broker, on two
// httptest servers sharing the test's redis-server, and clients speaking
// the protocol over real WebSockets. Both Hubs run on one clock that only
// the test moves, and the test beats the Stores' heartbeats with it.

// hubProc is one Hub process of the deployment.
type hubProc struct {
	name   string
	hub    *epchat.Hub
	rdb    redis.UniversalClient
	store  *Store
	srv    *httptest.Server
	url    string
	ticker *epchattest.Ticker
	clock  *epchattest.Clock
	dead   bool
}

// startCluster starts n Hub processes of one deployment on one clock; each
// has beaten its heartbeat once.
func startCluster(t testing.TB, n int, opts ...epchat.Option) ([]*hubProc, *epchattest.Clock) {
	t.Helper()
	prefix := freshPrefix()
	clk := epchattest.NewClock(t0)
	procs := make([]*hubProc, n)
	for i := range procs {
		procs[i] = startHubProc(t, string(rune('a'+i)), prefix, clk, true, opts...)
	}
	return procs, clk
}

// startHubProc starts a process of the deployment prefix; without a
// broker it takes itself for the only one.
func startHubProc(t testing.TB, name, prefix string, clk *epchattest.Clock, withBroker bool, opts ...epchat.Option) *hubProc {
	t.Helper()
	return startHubProcOn(t, newClient(t), nil, name, prefix, clk, withBroker, opts...)
}

// startHubProcOn is startHubProc on a client of the test's choosing;
// sopts are options of its Store and Broker.
func startHubProcOn(t testing.TB, rdb redis.UniversalClient, sopts []Option, name, prefix string, clk *epchattest.Clock, withBroker bool, opts ...epchat.Option) *hubProc {
	t.Helper()
	store := newStoreOn(t, rdb, prefix, sopts...)
	opts = append([]epchat.Option{
		epchat.WithStore(store),
		epchat.WithClock(clk),
		epchat.WithPingInterval(time.Hour), // keepalive is not under test
		// The tests send 100 messages at one instant of the injected
		// clock; the request rate limit is not under test here.
		epchat.WithRequestRate(1000, 1000),
	}, opts...)
	if withBroker {
		broker, err := NewBroker(rdb, append([]Option{WithPrefix(prefix)}, sopts...)...)
		if err != nil {
			t.Fatal(err)
		}
		opts = append(opts, epchat.WithBroker(broker))
	}
	hub, err := epchat.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	p := &hubProc{name: name, hub: hub, rdb: rdb, store: store, ticker: clk.LastTicker(), clock: clk}
	p.srv = httptest.NewServer(http.StripPrefix("/chat", hub))
	p.url = "ws" + strings.TrimPrefix(p.srv.URL, "http") + "/chat/"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		hub.Shutdown(ctx)
		p.srv.Close()
	})
	if err := store.Heartbeat(bg, clk.Now()); err != nil {
		t.Fatal(err)
	}
	return p
}

// beat records p's heartbeat at the clock's time, reaping dead processes.
func (p *hubProc) beat(t testing.TB) {
	t.Helper()
	if err := p.store.Heartbeat(bg, p.clock.Now()); err != nil {
		t.Fatal(err)
	}
}

// kill makes p die as a process does, abruptly: no Shutdown, no Detach of
// its connections, no more heartbeats or sweeps. Its Redis client is
// closed first, so nothing it does afterwards reaches Redis; then its
// listener and its clients' sockets close, as the kernel does for a dead
// process.
func (p *hubProc) kill(clients ...*epchattest.Client) {
	p.dead = true
	p.ticker.Hold()
	p.rdb.Close()
	p.srv.Listener.Close()
	for _, c := range clients {
		c.Conn.Close()
	}
}

// join connects a new user named nick to p.
func (p *hubProc) join(t testing.TB, nick string) *epchattest.Client {
	t.Helper()
	c := epchattest.Dial(t, p.url)
	c.Hello(nick)
	return c
}

// invite has owner make an invite to room and returns its token.
func invite(t testing.TB, owner *epchattest.Client, room string) string {
	t.Helper()
	return owner.MustCall("invite", map[string]any{"type": "invite", "room": room}).Str("token")
}

// seat has c join with token, and every member in seated see it.
func seat(t testing.TB, c *epchattest.Client, token, room string, seated ...*epchattest.Client) {
	t.Helper()
	c.MustCall("joined", map[string]any{"type": "join", "token": token})
	for _, m := range seated {
		e := m.Expect("member_joined", room)
		if who, _ := e["member"].(map[string]any); who["id"] != c.ID {
			t.Fatalf("member_joined %v; want %s", e, c.ID)
		}
	}
}

// TestClusterChat: an invite made on a is redeemed on b, and 100 messages
// from each side cross to the other, each sender's in order, with the
// room's seqs; the owner's history reaches b.
func TestClusterChat(t *testing.T) {
	procs, _ := startCluster(t, 2)
	chatAcross(t, procs[0], procs[1])
}

// newClockForCluster is the injected clock of a deployment's processes.
func newClockForCluster() *epchattest.Clock { return epchattest.NewClock(t0) }

// chatAcross: an invite made on a is redeemed on b, 100 messages cross
// each way in order with the room's seqs, and the owner's history reaches
// b.
func chatAcross(t *testing.T, a, b *hubProc) {
	t.Helper()
	ann, ben := a.join(t, "Ann"), b.join(t, "Ben")
	room := ann.MustCall("joined", map[string]any{"type": "create"}).Str("room")
	seat(t, ben, invite(t, ann, room), room, ann)

	const n = 100
	sends := map[*epchattest.Client][]string{}
	for i := range n {
		for _, c := range []*epchattest.Client{ann, ben} {
			sends[c] = append(sends[c], c.Send(map[string]any{"type": "send", "room": room, "text": fmt.Sprintf("%s %d", c.ID, i)}))
		}
	}
	for _, tc := range []struct {
		name     string
		from, to *epchattest.Client
	}{
		{
			name: "a to b",
			from: ann,
			to:   ben,
		},
		{
			name: "b to a",
			from: ben,
			to:   ann,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var last int64
			for i := range n {
				sent := tc.from.Reply(sends[tc.from][i])
				if sent.Str("type") != "sent" || sent.Num("seq") <= last {
					t.Fatalf("reply to message %d: %v; want sent with a seq above %d", i, sent, last)
				}
				last = sent.Num("seq")
				msg := tc.to.Expect("message", room)
				if want := fmt.Sprintf("%s %d", tc.from.ID, i); msg.Str("text") != want || msg.Str("from") != tc.from.ID || msg.Num("seq") != last {
					t.Fatalf("message %d: %v; want %q from %s with seq %d", i, msg, want, tc.from.ID, last)
				}
			}
		})
	}
	ann.MustCall("ok", map[string]any{"type": "history", "room": room, "to": ben.ID, "data": "so far"})
	if e := ben.Expect("history", room); e.Str("data") != "so far" {
		t.Fatalf("history on b: %v", e)
	}
}

// TestClusterLastSeat: 20 users, half on a and half on b, race for the last
// seat of a room with an invite each: exactly one gets it, the others get
// room_full, and the room has its limit of members.
func TestClusterLastSeat(t *testing.T) {
	const limit = 20
	procs, _ := startCluster(t, 2, epchat.WithMaxMembers(limit))
	ann := procs[0].join(t, "Ann")
	room := ann.MustCall("joined", map[string]any{"type": "create"}).Str("room")
	for i := range limit - 2 {
		c := procs[i%2].join(t, fmt.Sprint("filler", i))
		c.MustCall("joined", map[string]any{"type": "join", "token": invite(t, ann, room)})
	}
	racers := make([]*epchattest.Client, 20)
	tokens := make([]string, len(racers))
	for i := range racers {
		racers[i] = procs[i%2].join(t, fmt.Sprint("racer", i))
		tokens[i] = invite(t, ann, room)
	}
	ids := make([]string, len(racers))
	var start sync.WaitGroup
	start.Add(1)
	var wg sync.WaitGroup
	for i, c := range racers {
		wg.Go(func() {
			start.Wait()
			ids[i] = c.Send(map[string]any{"type": "join", "token": tokens[i]})
		})
	}
	start.Done()
	wg.Wait()
	seated := 0
	for i, c := range racers {
		switch e := c.Reply(ids[i]); {
		case e.Str("type") == "joined":
			seated++
		case e.Str("code") != "room_full":
			t.Fatalf("racer %d on %s: %v; want joined or room_full", i, procs[i%2].name, e)
		}
	}
	if seated != 1 {
		t.Fatalf("%d racers seated for the last seat, want 1", seated)
	}
	if ms := ann.MustCall("members", map[string]any{"type": "members", "room": room})["members"].([]any); len(ms) != limit {
		t.Fatalf("%d members, want %d", len(ms), limit)
	}
}

// TestClusterOwnerClose: the owner closes the room on a; the member on b
// gets room_closed with reason owner, and the room is gone for b too.
func TestClusterOwnerClose(t *testing.T) {
	procs, _ := startCluster(t, 2)
	ann, ben := procs[0].join(t, "Ann"), procs[1].join(t, "Ben")
	room := ann.MustCall("joined", map[string]any{"type": "create"}).Str("room")
	seat(t, ben, invite(t, ann, room), room, ann)
	ann.MustCall("ok", map[string]any{"type": "close", "room": room})
	for _, c := range []*epchattest.Client{ann, ben} {
		if e := c.Expect("room_closed", room); e.Str("reason") != "owner" {
			t.Fatalf("room_closed: %v; want reason owner", e)
		}
	}
	if e := ben.Call(map[string]any{"type": "send", "room": room, "text": "anyone?"}); e.Str("type") != "error" {
		t.Fatalf("send to the closed room on b: %v; want an error", e)
	}
}

// TestClusterIdleClose: a room idle for the room idle timeout is closed by
// the sweep of one process, and the member on the other sees room_closed
// with reason idle exactly once, though both processes sweep.
func TestClusterIdleClose(t *testing.T) {
	procs, clk := startCluster(t, 2)
	a, b := procs[0], procs[1]
	ann, ben := a.join(t, "Ann"), b.join(t, "Ben")
	room := ann.MustCall("joined", map[string]any{"type": "create"}).Str("room")
	seat(t, ben, invite(t, ann, room), room, ann)

	clk.Advance(10*time.Minute - time.Second)
	ben.None()
	clk.Advance(2 * time.Second)
	for _, c := range []*epchattest.Client{ann, ben} {
		if e := c.Expect("room_closed", room); e.Str("reason") != "idle" {
			t.Fatalf("room_closed: %v; want reason idle", e)
		}
	}
	// Both sweeps are done and what they published reached Redis. An event
	// a publishes now reaches ben after anything they published: Redis
	// handles one command at a time and b's subscription reads in order.
	flush := ben.MustCall("joined", map[string]any{"type": "create"}).Str("room")
	seat(t, ann, invite(t, ben, flush), flush, ben)
	ben.None()
}

// TestClusterIdleCloseByAnother: a room whose messages all came through
// b is closed on time by a's sweep while b's stands still: a keeps the
// time a room it serves may come idle from the messages the Broker
// delivers, not only from its own.
func TestClusterIdleCloseByAnother(t *testing.T) {
	procs, clk := startCluster(t, 2)
	a, b := procs[0], procs[1]
	ann, ben := a.join(t, "Ann"), b.join(t, "Ben")
	room := ann.MustCall("joined", map[string]any{"type": "create"}).Str("room")
	seat(t, ben, invite(t, ann, room), room, ann)
	clk.Advance(5 * time.Minute)
	ben.MustCall("sent", map[string]any{"type": "send", "room": room, "text": "still here"})
	ann.Expect("message", room)
	b.ticker.Hold() // b's Store sweeper stands still

	clk.Advance(10*time.Minute - time.Second)
	ann.None()
	clk.Advance(2 * time.Second)
	if e := ann.Expect("room_closed", room); e.Str("reason") != epchat.ReasonIdle {
		t.Fatalf("room_closed: %v; want reason idle", e)
	}
}

// TestClusterProcessDeath: b dies abruptly with ben's only connection.
// Once a's heartbeat takes b for dead, ben keeps his seat for the
// reconnect grace from b's last heartbeat, then a frees it: ann sees
// member_left with reason disconnected, and the seat can be taken again.
func TestClusterProcessDeath(t *testing.T) {
	procs, clk := startCluster(t, 2, epchat.WithMaxMembers(2))
	a, b := procs[0], procs[1]
	ann, ben := a.join(t, "Ann"), b.join(t, "Ben")
	room := ann.MustCall("joined", map[string]any{"type": "create"}).Str("room")
	seat(t, ben, invite(t, ann, room), room, ann)
	if e := ann.Call(map[string]any{"type": "invite", "room": room}); e.Str("code") != "room_full" {
		t.Fatalf("invite to the full room: %v; want room_full", e)
	}

	b.kill(ben)
	// a beats every 5 s; b's last heartbeat was at t0.
	for range 4 {
		clk.Advance(5 * time.Second)
		a.beat(t)
	}
	clk.Advance(grace - 20*time.Second - time.Millisecond)
	if e := ann.Call(map[string]any{"type": "invite", "room": room}); e.Str("code") != "room_full" {
		t.Fatalf("invite within the grace after b died: %v; want room_full (ben keeps his seat)", e)
	}
	clk.Advance(2 * time.Millisecond)
	if e := ann.Expect("member_left", room); e.Str("member") != ben.ID || e.Str("reason") != "disconnected" {
		t.Fatalf("ann saw %v; want ben leaving, disconnected", e)
	}
	cat := a.join(t, "Cat")
	seat(t, cat, invite(t, ann, room), room, ann)
}

package redisstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/epchat-go/epchat"
	"github.com/epchat-go/epchat/epchattest"
)

// brokerMsg is one delivery seen by a test subscriber.
type brokerMsg struct {
	room string
	msg  []byte
}

// subscribe subscribes b with a deliver func that queues copies, and stops
// the subscription at the end of the test.
func subscribe(t *testing.T, b *Broker) (<-chan brokerMsg, func()) {
	t.Helper()
	ch := make(chan brokerMsg, 4096)
	stop, err := b.Subscribe(func(room string, msg []byte) {
		ch <- brokerMsg{room, bytes.Clone(msg)}
	})
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stopOnce := func() { once.Do(stop) }
	t.Cleanup(stopOnce)
	return ch, stopOnce
}

func newBroker(t *testing.T, prefix string) *Broker {
	t.Helper()
	b, err := NewBroker(newClient(t), WithPrefix(prefix))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// serve has b subscribe to the rooms' channels, as a Hub does when it
// gains a room's first member, and waits for Redis to confirm.
func serve(t *testing.T, b *Broker, rooms ...string) {
	t.Helper()
	for _, r := range rooms {
		select {
		case <-b.Serve(r):
		case <-time.After(waitFor):
			t.Fatalf("subscription to room %q not confirmed", r)
		}
	}
}

// waitClosed waits for a subscription's confirmation.
func waitClosed(t *testing.T, ready <-chan struct{}) {
	t.Helper()
	select {
	case <-ready:
	case <-time.After(waitFor):
		t.Fatal("subscription not confirmed")
	}
}

func recv(t *testing.T, ch <-chan brokerMsg) brokerMsg {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(waitFor):
		t.Fatal("no message delivered")
		return brokerMsg{}
	}
}

// TestBrokerDelivers: every subscriber of the deployment serving the
// rooms, the publisher's own included, gets the rooms' messages, bytes as published (all 256
// byte values), and one publisher's messages in order.
func TestBrokerDelivers(t *testing.T) {
	prefix := freshPrefix()
	pub := newBroker(t, prefix)
	own, _ := subscribe(t, pub)
	ob := newBroker(t, prefix)
	other, _ := subscribe(t, ob)
	serve(t, pub, "roomA", "room0", "room1", "room2")
	serve(t, ob, "roomA", "room0", "room1", "room2")

	binary := make([]byte, 256)
	for i := range binary {
		binary[i] = byte(i)
	}
	if err := pub.Publish(bg, "roomA", binary); err != nil {
		t.Fatal(err)
	}
	const n = 500
	for i := range n {
		if err := pub.Publish(bg, fmt.Sprint("room", i%3), fmt.Appendf(nil, "m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for name, ch := range map[string]<-chan brokerMsg{"publisher": own, "other process": other} {
		if m := recv(t, ch); m.room != "roomA" || !bytes.Equal(m.msg, binary) {
			t.Fatalf("%s got %q in %q; want the 256 bytes in roomA", name, m.msg, m.room)
		}
		for i := range n {
			m := recv(t, ch)
			if want := fmt.Sprintf("m%d", i); string(m.msg) != want || m.room != fmt.Sprint("room", i%3) {
				t.Fatalf("%s got %q in %q; want %q in room%d (publish order)", name, m.msg, m.room, want, i%3)
			}
		}
	}
}

// TestBrokerNoRoom: an event about a user rather than a room (as the Hub
// publishes a session's end) reaches every process serving the user, as
// an event of room ""; Publish refuses an event of no room, which would
// reach nobody.
func TestBrokerNoRoom(t *testing.T) {
	prefix := freshPrefix()
	pub := newBroker(t, prefix)
	sub := newBroker(t, prefix)
	ch, _ := subscribe(t, sub)
	waitClosed(t, sub.ServeUser("u1"))
	if err := pub.PublishUser(bg, "u1", []byte("ended")); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, ch); m.room != "" || string(m.msg) != "ended" {
		t.Fatalf("delivered %q in room %q, want \"ended\" in room \"\"", m.msg, m.room)
	}
	if err := pub.Publish(bg, "", []byte("no room")); err == nil {
		t.Fatal("Publish of an event of no room succeeded")
	}
}

// TestBrokerPrefixes: deployments sharing a Redis do not hear each other,
// even when one's name is a Redis pattern matching the other's.
func TestBrokerPrefixes(t *testing.T) {
	base := freshPrefix()
	starB := newBroker(t, base+"*")
	star, _ := subscribe(t, starB)
	serve(t, starB, "r")
	plain := newBroker(t, base+"x")
	if err := plain.Publish(bg, "r", []byte("to x")); err != nil {
		t.Fatal(err)
	}
	// Redis handles one command at a time: had the first message matched
	// the pattern, it would reach the subscriber before the second.
	if err := starB.Publish(bg, "r", []byte("to star")); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, star); string(m.msg) != "to star" {
		t.Fatalf("deployment %q heard %q, published in deployment %q", base+"*", m.msg, base+"x")
	}
}

// TestBrokerStop: after stop returns, deliver is not called again, and
// the subscription is gone from Redis.
func TestBrokerStop(t *testing.T) {
	prefix := freshPrefix()
	b := newBroker(t, prefix)
	ch, stop := subscribe(t, b)
	serve(t, b, "r")
	if err := b.Publish(bg, "r", []byte("before")); err != nil {
		t.Fatal(err)
	}
	recv(t, ch)
	stop()
	if err := b.Publish(bg, "r", []byte("after")); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-ch:
		t.Fatalf("delivered %q after stop", m.msg)
	default:
	}
	if g := goroutinesWith("(*Broker).Subscribe") + goroutinesWith("(*Broker).subscribing"); g != "" {
		t.Fatalf("a delivering goroutine is left after stop:\n%s", g)
	}
	// The client's own goroutines for the subscription see it closed and
	// return shortly after.
	deadline := time.Now().Add(waitFor)
	for goroutinesWith("(*channel).init") != "" {
		if time.Now().After(deadline) {
			t.Fatalf("the client's subscription goroutines are left after stop:\n%s", goroutinesWith("(*channel).init"))
		}
		time.Sleep(time.Millisecond) // polling for goroutines to exit, not a time rule
	}
}

// TestBrokerOnlyServedRooms: a process receives the events of the rooms
// and users it serves and nothing of the others, from the confirmation of
// Serve (ServeUser) to Unserve (UnserveUser): not even the joins of users
// it has no connection of.
func TestBrokerOnlyServedRooms(t *testing.T) {
	prefix := freshPrefix()
	a, b := newBroker(t, prefix), newBroker(t, prefix)
	cha, _ := subscribe(t, a)
	chb, _ := subscribe(t, b)
	serve(t, a, "ra")
	serve(t, b, "rb")
	const n = 100
	for i := range n {
		for _, r := range []string{"ra", "rb", "nobody"} {
			if err := a.Publish(bg, r, fmt.Appendf(nil, "%s%d", r, i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitClosed(t, b.ServeUser("ub"))
	for _, u := range []string{"ub", "nobody"} {
		if err := a.PublishUser(bg, u, []byte("join of "+u)); err != nil {
			t.Fatal(err)
		}
	}
	for name, c := range map[string]struct {
		ch   <-chan brokerMsg
		room string
	}{"a": {cha, "ra"}, "b": {chb, "rb"}} {
		for i := range n {
			if m := recv(t, c.ch); m.room != c.room || string(m.msg) != fmt.Sprint(c.room, i) {
				t.Fatalf("process %s got %q of room %q; want %s%d: only its room's events", name, m.msg, m.room, c.room, i)
			}
		}
		if name == "b" {
			if m := recv(t, c.ch); string(m.msg) != "join of ub" || m.room != "" {
				t.Fatalf("process b got %q of room %q; want the join of the user it serves", m.msg, m.room)
			}
		}
	}
	b.UnserveUser("ub")
	serve(t, b, "marker-b") // the unsubscribe is sent before this subscribe
	if err := a.PublishUser(bg, "ub", []byte("late join")); err != nil {
		t.Fatal(err)
	}
	if err := a.Publish(bg, "marker-b", []byte("marker-b")); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, chb); string(m.msg) != "marker-b" {
		t.Fatalf("after UnserveUser b got %q of room %q", m.msg, m.room)
	}

	a.Unserve("ra")
	serve(t, a, "marker") // the unsubscribe is sent before this subscribe
	if err := b.Publish(bg, "ra", []byte("late")); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(bg, "marker", []byte("marker")); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, cha); string(m.msg) != "marker" {
		t.Fatalf("after Unserve got %q of room %q", m.msg, m.room)
	}
	if a.Served() != 1 || b.Served() != 2 || b.ServedUsers() != 0 {
		t.Fatalf("served %d and %d rooms, b %d users; want 1, 2 and 0", a.Served(), b.Served(), b.ServedUsers())
	}
}

// goroutinesWith returns the stacks of the goroutines with fn in them.
func goroutinesWith(fn string) string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if strings.Contains(g, fn) {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}

// TestBrokerErrors: bad options fail NewBroker; an unreachable Redis fails
// Subscribe and Publish.
func TestBrokerErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
	}{
		{
			name: "empty prefix",
			opts: []Option{WithPrefix("")},
		},
		{
			name: "braces",
			opts: []Option{WithPrefix("a{b}")},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewBroker(redis.NewClient(&redis.Options{}), tc.opts...); err == nil {
				t.Fatal("NewBroker accepted it")
			}
		})
	}
	if _, err := NewBroker(nil); err == nil {
		t.Fatal("NewBroker accepted a nil client")
	}

	t.Run("unreachable", func(t *testing.T) {
		c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
		defer c.Close()
		b, err := NewBroker(c)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Subscribe(func(string, []byte) {}); err == nil {
			t.Fatal("Subscribe to an unreachable Redis succeeded")
		}
		ctx, cancel := context.WithTimeout(bg, waitFor)
		defer cancel()
		if err := b.Publish(ctx, "r", nil); err == nil || errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Publish to an unreachable Redis: %v; want a connection error", err)
		}
	})
}

// TestClusterTabsFollowJoins: a user with a tab on each process joins a
// room through a, which serves it; the tab on b, which serves no room,
// learns of the join (the user's channel) and from then on gets the
// room's messages (it subscribed to the room's channel). Then the user
// ends the session on a and the tab on b is closed.
func TestClusterTabsFollowJoins(t *testing.T) {
	procs, _ := startCluster(t, 2)
	a, b := procs[0], procs[1]
	ann := a.join(t, "Ann")
	room := ann.MustCall("joined", map[string]any{"type": "create"}).Str("room")
	token := invite(t, ann, room)

	ben := a.join(t, "Ben")
	benTab := epchattest.Dial(t, b.url)
	benTab.MustCall("welcome", map[string]any{"type": "hello", "token": ben.Token})
	ben.Expect("session_connected", "")
	ben.MustCall("joined", map[string]any{"type": "join", "token": token})
	if e := benTab.Expect("member_joined", room); e["member"].(map[string]any)["id"] != ben.ID {
		t.Fatalf("ben's tab on b: %v; want ben's own join", e)
	}
	ann.Expect("member_joined", room)
	// b subscribes to the room as it learns of the join, and what Ann
	// sends before Redis has that SUBSCRIBE is lost for b (the members
	// see it by seq): she sends until a message reaches the tab.
	deadline := time.Now().Add(waitFor)
	for !slices.ContainsFunc(benTab.Events(), func(e epchattest.Event) bool { return e.Type() == "message" }) {
		if time.Now().After(deadline) {
			t.Fatal("no message reached ben's tab on b")
		}
		ann.MustCall("sent", map[string]any{"type": "send", "room": room, "text": "to both tabs"})
		if e := ben.Expect("message", room); e.Str("text") != "to both tabs" {
			t.Fatalf("%v", e)
		}
		time.Sleep(20 * time.Millisecond)
	}
	ben.MustCall("ok", map[string]any{"type": "end_session"})
	benTab.Expect("session_ended", "")
	benTab.WaitReaderDone()
	if code := benTab.CloseCode(); code != 4003 {
		t.Fatalf("ben's tab on b closed with %d; want 4003", code)
	}
}

// countingBroker is a Broker that counts what it delivers to its Hub.
type countingBroker struct {
	*Broker
	n atomic.Int64
}

func (c *countingBroker) Subscribe(deliver func(room string, msg []byte)) (func(), error) {
	return c.Broker.Subscribe(func(room string, msg []byte) {
		c.n.Add(1)
		deliver(room, msg)
	})
}

// TestClusterIdleProcessHearsNothing: a process with no connection of a
// room or of a user receives nothing of them: rooms made, joins (those of
// users it does not serve included), messages, leaves, closes and a
// session's end elsewhere reach it not once. Once one of the members opens
// a tab on it, it receives that member's rooms' events (the counter
// counts).
func TestClusterIdleProcessHearsNothing(t *testing.T) {
	prefix := freshPrefix()
	clk := epchattest.NewClock(t0)
	a := startHubProc(t, "a", prefix, clk, true)
	rdb := newClient(t)
	nb, err := NewBroker(rdb, WithPrefix(prefix))
	if err != nil {
		t.Fatal(err)
	}
	counting := &countingBroker{Broker: nb}
	b := startHubProcOn(t, rdb, nil, "b", prefix, clk, false, epchat.WithBroker(counting))

	ann := a.join(t, "Ann")
	room := ann.MustCall("joined", map[string]any{"type": "create"}).Str("room")
	ben := a.join(t, "Ben")
	ben.MustCall("joined", map[string]any{"type": "join", "token": invite(t, ann, room)})
	ann.Expect("member_joined", room)
	for i := range 10 {
		ann.MustCall("sent", map[string]any{"type": "send", "room": room, "text": fmt.Sprint("m", i)})
		ben.Expect("message", room)
	}
	cid := a.join(t, "Cid")
	other := cid.MustCall("joined", map[string]any{"type": "create"}).Str("room")
	cid.MustCall("ok", map[string]any{"type": "close", "room": other})
	cid.MustCall("ok", map[string]any{"type": "end_session"})
	if n := counting.n.Load(); n != 0 {
		t.Fatalf("process b, serving no room and no user, received %d events", n)
	}

	benTab := epchattest.Dial(t, b.url)
	benTab.MustCall("welcome", map[string]any{"type": "hello", "token": ben.Token})
	ben.Expect("session_connected", "")
	ann.MustCall("sent", map[string]any{"type": "send", "room": room, "text": "to b too"})
	if e := benTab.Expect("message", room); e.Str("text") != "to b too" {
		t.Fatalf("ben's tab on b: %v", e)
	}
	if counting.n.Load() == 0 {
		t.Fatal("b delivered a message without counting it: the counter is broken")
	}
}

// TestBrokerResubscribes: when Redis drops the subscription's connection
// (CLIENT KILL), the Broker's receiving goroutine carries on: the client
// reconnects and subscribes again to the rooms served, and their events
// arrive again.
func TestBrokerResubscribes(t *testing.T) {
	addr, _ := ownRedis(t)
	admin := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { admin.Close() })
	pub, ch := roomSubscriber(t, admin, addr, nil)
	if err := admin.ClientKillByFilter(bg, "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	publishUntilDelivered(t, pub, ch, "room", "the kill")
}

// publishUntilDelivered publishes "after 0", "after 1", ... to room until
// one reaches ch, after a fault (named by what) cut the subscriber off, and
// returns it: what goes out while the subscriber reconnects is lost
// (pub/sub is at most once). This waits on the fault, not on a time rule.
func publishUntilDelivered(t *testing.T, pub *Broker, ch <-chan brokerMsg, room, what string) brokerMsg {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for i := 0; ; i++ {
		if err := pub.Publish(bg, room, fmt.Appendf(nil, "after %d", i)); err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-ch:
			if !strings.HasPrefix(string(m.msg), "after ") || m.room != room {
				t.Fatalf("delivered %q in %q after %s", m.msg, m.room, what)
			}
			return m
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no event delivered in %v after %s", waitFor, what)
		}
	}
}

// roomSubscriber makes a Broker on admin to publish with and another on a
// client of its own for subAddr (Redis, or a proxy to it), tuned by tune
// before it subscribes, serving "room"; it checks that an event reaches
// the subscriber, and returns the publisher and what the subscriber
// receives.
func roomSubscriber(t *testing.T, admin *redis.Client, subAddr string, tune func(*Broker)) (*Broker, <-chan brokerMsg) {
	t.Helper()
	prefix := freshPrefix()
	pub, err := NewBroker(admin, WithPrefix(prefix))
	if err != nil {
		t.Fatal(err)
	}
	subc := redis.NewClient(&redis.Options{Addr: subAddr, MaxRetries: -1})
	t.Cleanup(func() { subc.Close() })
	sub, err := NewBroker(subc, WithPrefix(prefix))
	if err != nil {
		t.Fatal(err)
	}
	if tune != nil {
		tune(sub)
	}
	ch, _ := subscribe(t, sub)
	serve(t, sub, "room")
	if err := pub.Publish(bg, "room", []byte("before")); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, ch); string(m.msg) != "before" {
		t.Fatalf("delivered %q; want \"before\"", m.msg)
	}
	return pub, ch
}

// TestBrokerServeAfterLostSubscribe: a room's SUBSCRIBE is lost with the
// subscription's connection (a relay holds it, then breaks the
// connection), and the room is unserved before the client reconnects, so
// its resubscription leaves the room out and Redis never confirms that
// SUBSCRIBE. The room's next Serve is confirmed, and its events arrive.
// Before, the lost SUBSCRIBE's wait stayed pending and took the next
// Serve's confirmation, whose own wait then never ended: every later join
// of the room on the process waited for the Hub's 5 s bound. And the next
// SUBSCRIBE, when its write was the one to find the connection broken,
// was never sent at all: the client reconnects within the failed call and
// adds the channel to the set it resubscribes only afterwards, so the room
// heard nothing until the next reconnect.
func TestBrokerServeAfterLostSubscribe(t *testing.T) {
	prefix := freshPrefix()
	g := newGate(t, redisAddr)
	subc := redis.NewClient(&redis.Options{Addr: g.addr(), MaxRetries: -1})
	t.Cleanup(func() { subc.Close() })
	sub, err := NewBroker(subc, WithPrefix(prefix))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := NewBroker(newClient(t), WithPrefix(prefix))
	if err != nil {
		t.Fatal(err)
	}
	ch, _ := subscribe(t, sub)

	g.hold([]byte("room:lost"))
	first := sub.Serve("lost")
	g.waitHeld(t)
	sub.Unserve("lost")
	g.cut()
	again := sub.Serve("lost")
	select {
	case <-again:
	case <-time.After(waitFor):
		t.Fatal("the Serve after a lost SUBSCRIBE was never confirmed")
	}
	select {
	case <-first:
	default:
		t.Fatal("the wait of a SUBSCRIBE lost with its connection, for a room unserved since, never ended")
	}
	if m := publishUntilDelivered(t, pub, ch, "lost", "the lost SUBSCRIBE"); m.room != "lost" {
		t.Fatalf("delivered in %q", m.room)
	}
	sub.mu.Lock()
	n := len(sub.pending)
	sub.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d channels with Serve waits left; want 0", n)
	}
}

// TestBrokerRefusesAnotherDeployment: a Hub whose Broker and Store were
// given different prefixes does not start: its processes would keep the
// rules in one deployment and hear the events of another, and two members
// on two processes would never see each other (a review found both sends
// answered "sent" and nothing delivered).
func TestBrokerRefusesAnotherDeployment(t *testing.T) {
	rdb := newClient(t)
	store := newStoreOn(t, rdb, freshPrefix())
	other, err := NewBroker(rdb, WithPrefix(freshPrefix()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := epchat.New(epchat.WithStore(store), epchat.WithBroker(other)); err == nil || !strings.Contains(err.Error(), "same WithPrefix") {
		t.Fatalf("New with a Broker of another prefix: %v; want a refusal", err)
	}
	same, err := NewBroker(rdb, WithPrefix(strings.Trim(store.p, "{}:")))
	if err != nil {
		t.Fatal(err)
	}
	hub, err := epchat.New(epchat.WithStore(store), epchat.WithBroker(same))
	if err != nil {
		t.Fatalf("New with the same prefix: %v", err)
	}
	hub.Shutdown(bg)
}

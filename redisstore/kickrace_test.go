package redisstore

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/epchat-go/epchat"
	"github.com/epchat-go/epchat/epchattest"
)

// TestKickDuringResumeElsewhere: Ben resumes his session on process b,
// which serves none of his room, and the owner kicks him on process a
// after b read that he is seated but before b's subscription to the room
// took effect (a relay holds b's SUBSCRIBE), so b never hears of the
// kick. b looks again once subscribed: its welcome leaves the room out,
// and it serves the room no more. Without that look Ben's connection on b
// would go on receiving the room's events after the kick.
func TestKickDuringResumeElsewhere(t *testing.T) {
	a, b, g := gatedPair(t)

	ana, ben := a.join(t, "Ana"), a.join(t, "Ben")
	room := ana.MustCall("joined", map[string]any{"type": "create"}).Str("room")
	seat(t, ben, invite(t, ana, room), room, ana)

	g.hold([]byte(room))
	tab := epchattest.Dial(t, b.url)
	id := tab.Send(map[string]any{"type": "hello", "token": ben.Token})
	g.waitHeld(t)
	ana.MustCall("ok", map[string]any{"type": "kick", "room": room, "member": ben.ID})
	ben.Expect("room_left", room)
	g.release()

	w := tab.Reply(id)
	if w.Type() != "welcome" {
		t.Fatalf("Ben's hello on b: %v", w)
	}
	if rooms, _ := w["rooms"].([]any); len(rooms) != 0 {
		t.Fatalf("welcome on b lists %v, after Ben was kicked; want no room", rooms)
	}
	if n := b.hub.Stats().RoomsServed; n != 0 {
		t.Fatalf("b serves %d rooms for a kicked member's connection; want 0", n)
	}
}

// TestKickDuringFollowElsewhere: Ben has a tab on process b, which serves
// none of his rooms, and joins a room on process a; b learns of the join
// from Ben's channel and subscribes his tab to the room, but the owner
// kicks him before b's subscription took effect (a relay holds b's
// SUBSCRIBE), so b never hears of the kick. b looks at the Store once
// subscribed: the tab is told room_left (reason gone), b serves the room
// no more, and the room's later messages do not reach the tab. Without
// that look the kicked member's tab would go on receiving the room.
func TestKickDuringFollowElsewhere(t *testing.T) {
	a, b, g := gatedPair(t)

	ana, ben := a.join(t, "Ana"), a.join(t, "Ben")
	room := ana.MustCall("joined", map[string]any{"type": "create"}).Str("room")
	token := invite(t, ana, room)
	tab := epchattest.Dial(t, b.url)
	tab.MustCall("welcome", map[string]any{"type": "hello", "token": ben.Token})
	ben.Expect("session_connected", "")

	g.hold([]byte(room))
	ben.MustCall("joined", map[string]any{"type": "join", "token": token})
	g.waitHeld(t)
	tab.Expect("member_joined", room) // sent by b before it subscribes
	ana.Expect("member_joined", room)
	ana.MustCall("ok", map[string]any{"type": "kick", "room": room, "member": ben.ID})
	ben.Expect("room_left", room)
	g.release()

	if e := tab.Expect("room_left", room); e.Str("reason") != "gone" {
		t.Fatalf("Ben's tab on b: %v; want room_left with reason gone", e)
	}
	if n := b.hub.Stats().RoomsServed; n != 0 {
		t.Fatalf("b serves %d rooms for a kicked member's tab; want 0", n)
	}
	// Cy on b sits in another room of Ana's: what b receives of Ana's
	// room after the kick comes before Cy's message, on b's one
	// subscription connection, and the answer to the tab's request after
	// it.
	cy := b.join(t, "Cy")
	x := ana.MustCall("joined", map[string]any{"type": "create"}).Str("room")
	seat(t, cy, invite(t, ana, x), x, ana)
	ana.MustCall("sent", map[string]any{"type": "send", "room": room, "text": "after the kick"})
	ana.MustCall("sent", map[string]any{"type": "send", "room": x, "text": "to Cy"})
	cy.Expect("message", x)
	if e := tab.Call(map[string]any{"type": "members", "room": room}); e.Str("code") != "not_found" {
		t.Fatalf("members of the room Ben was kicked from, on b: %v; want not_found", e)
	}
	tab.None()
}

// TestKickDuringJoinElsewhere: Ben joins, on process b, a room that only
// process a serves, and the owner kicks him on a after b answered the join
// but before b's subscription to the room took effect (a relay holds b's
// SUBSCRIBE), so b never hears of the kick. b looks at the Store once
// subscribed: Ben is told room_left (reason gone), b serves the room no
// more, and the room hears of no join by someone it kicked.
func TestKickDuringJoinElsewhere(t *testing.T) {
	a, b, g := gatedPair(t)

	ana, ben := a.join(t, "Ana"), b.join(t, "Ben")
	room := ana.MustCall("joined", map[string]any{"type": "create"}).Str("room")
	token := invite(t, ana, room)
	g.hold([]byte(room))
	ben.MustCall("joined", map[string]any{"type": "join", "token": token})
	g.waitHeld(t)
	ana.MustCall("ok", map[string]any{"type": "kick", "room": room, "member": ben.ID})
	if e := ana.Expect("member_left", room); e.Str("member") != ben.ID || e.Str("reason") != "kicked" {
		t.Fatalf("Ana: %v; want Ben kicked", e)
	}
	g.release()

	if e := ben.Expect("room_left", room); e.Str("reason") != "gone" {
		t.Fatalf("Ben on b: %v; want room_left with reason gone", e)
	}
	if n := b.hub.Stats().RoomsServed; n != 0 {
		t.Fatalf("b serves %d rooms for a kicked member; want 0", n)
	}
	// Nor was Ben's join announced to the room (b decides before it tells
	// Ben; an announcement would be on its way to Ana by now).
	ana.MustCall("sent", map[string]any{"type": "send", "room": room, "text": "after the kick"})
	if e := ana.Call(map[string]any{"type": "members", "room": room}); e.Type() != "members" {
		t.Fatalf("members: %v", e)
	}
	for _, e := range ana.Events() {
		if e.Type() == "member_joined" {
			t.Fatalf("Ana was told %v after kicking Ben", e)
		}
	}
}

// TestJoinToldWhatChangedMeanwhile: Ben joins, on process b, a room that
// only process a serves; b reads the room for its joined reply, and
// before b's subscription took effect (a relay holds b's SUBSCRIBE) Dan
// leaves and Ana locks the room on a, so b hears neither. Once subscribed
// b reads the room again and tells Ben what changed: Dan's departure and
// the lock, after his joined reply. Before, his page listed Dan and an
// unlocked room for as long as he stayed.
func TestJoinToldWhatChangedMeanwhile(t *testing.T) {
	a, b, g := gatedPair(t)

	ana, dan, ben := a.join(t, "Ana"), a.join(t, "Dan"), b.join(t, "Ben")
	room := ana.MustCall("joined", map[string]any{"type": "create"}).Str("room")
	seat(t, dan, invite(t, ana, room), room, ana)
	token := invite(t, ana, room)

	g.hold([]byte(room))
	j := ben.MustCall("joined", map[string]any{"type": "join", "token": token})
	if n := len(j["members"].([]any)); n != 3 || j["locked"] != false {
		t.Fatalf("joined %v; want Ana, Dan and Ben, unlocked", j)
	}
	g.waitHeld(t)
	dan.MustCall("ok", map[string]any{"type": "leave", "room": room})
	ana.MustCall("ok", map[string]any{"type": "lock", "room": room})
	g.release()

	if e := ben.Expect("member_left", room); e.Str("member") != dan.ID {
		t.Fatalf("Ben: %v; want Dan's departure", e)
	}
	if e := ben.Expect("room_locked", room); e["locked"] != true {
		t.Fatalf("Ben: %v; want the lock", e)
	}
}

// TestResumeWelcomeReadOnceSubscribed: Ben comes back on process b, which
// serves his room R already (Cy is there) but not his room S. b reads both
// rooms, then waits for its subscription to S (a relay holds it); meanwhile
// Dan leaves R on process a, and b tells Ben's connection at once (it is
// subscribed to R). The welcome that follows lists R as read once b's
// subscriptions took effect, without Dan: it once listed R as first read,
// with Dan, after his departure, and the page kept him.
func TestResumeWelcomeReadOnceSubscribed(t *testing.T) {
	a, b, g := gatedPair(t)

	ana, dan, ben, cy := a.join(t, "Ana"), a.join(t, "Dan"), a.join(t, "Ben"), b.join(t, "Cy")
	r := ana.MustCall("joined", map[string]any{"type": "create"}).Str("room")
	seat(t, dan, invite(t, ana, r), r, ana)
	seat(t, cy, invite(t, ana, r), r, ana, dan)
	seat(t, ben, invite(t, ana, r), r, ana, dan, cy)
	sRoom := ana.MustCall("joined", map[string]any{"type": "create"}).Str("room")
	seat(t, ben, invite(t, ana, sRoom), sRoom, ana)

	g.hold([]byte(sRoom))
	tab := epchattest.Dial(t, b.url)
	id := tab.Send(map[string]any{"type": "hello", "token": ben.Token})
	g.waitHeld(t)
	dan.MustCall("ok", map[string]any{"type": "leave", "room": r})
	cy.Expect("member_left", r) // b has it: Ben's tab got it as well
	g.release()

	w := tab.Reply(id)
	if w.Type() != "welcome" {
		t.Fatalf("hello: %v", w)
	}
	for _, x := range w["rooms"].([]any) {
		st := x.(map[string]any)
		if st["room"] != r {
			continue
		}
		for _, m := range st["members"].([]any) {
			if m.(map[string]any)["id"] == dan.ID {
				t.Fatalf("the welcome lists Dan in R after his departure: %v", st)
			}
		}
		return
	}
	t.Fatalf("the welcome %v has no room R", w)
}

// TestJoinedAfterKick: Ben joins, on process b, Ana's room, which b
// serves already (Cy is there); b checks his seat and publishes the join,
// but Ana kicks him on process a before that publish reaches Redis (a
// relay holds b's PUBLISH), so every process hears of the kick first and
// of the join after it. The join's late event subscribed Ben's
// connection to the room again: he went on receiving its messages after
// the kick. Now b, having applied his kick a moment before, asks the
// Store first and leaves him out; Ana's next message does not reach him.
func TestJoinedAfterKick(t *testing.T) {
	a, b, g := gatedPair(t)

	ana, cy, ben := a.join(t, "Ana"), b.join(t, "Cy"), b.join(t, "Ben")
	room := ana.MustCall("joined", map[string]any{"type": "create"}).Str("room")
	seat(t, cy, invite(t, ana, room), room, ana)
	token := invite(t, ana, room)

	g.hold([]byte("member_joined"))
	ben.MustCall("joined", map[string]any{"type": "join", "token": token})
	g.waitHeld(t)
	ana.MustCall("ok", map[string]any{"type": "kick", "room": room, "member": ben.ID})
	if e := ben.Expect("room_left", room); e.Str("reason") != "kicked" {
		t.Fatalf("Ben: %v; want room_left kicked", e)
	}
	cy.Expect("member_left", room)
	g.release()

	// The join's late event reached b: Cy got it.
	if e := cy.Expect("member_joined", room); e["member"].(map[string]any)["id"] != ben.ID {
		t.Fatalf("Cy: %v", e)
	}
	for i := range 3 {
		ana.MustCall("sent", map[string]any{"type": "send", "room": room, "text": fmt.Sprint("after the kick ", i)})
		cy.Expect("message", room) // b received it: Ben's copy would be queued before this answer
	}
	if e := ben.Call(map[string]any{"type": "members", "room": room}); e.Str("code") != "not_found" {
		t.Fatalf("members, for kicked Ben: %v", e)
	}
	for _, e := range ben.Events() {
		if e.Type() == "message" || e.Type() == "member_joined" {
			t.Fatalf("kicked Ben received %v", e)
		}
	}
}

// TestHistoryReachesFollowingTab: Ben joins Ana's room on process b while
// a tab of his is open on process c, which serves none of the room; c
// learns of the join from Ben's channel, and Ana sends Ben the history
// before c's subscription to the room took effect (a relay holds c's
// SUBSCRIBE). The tab on c gets the history too: it goes to Ben's
// channel, which c hears, not to the room's, which it did not yet.
func TestHistoryReachesFollowingTab(t *testing.T) {
	prefix := freshPrefix()
	clk := epchattest.NewClock(t0)
	a := startHubProc(t, "a", prefix, clk, true)
	b := startHubProc(t, "b", prefix, clk, true)
	g := newGate(t, redisAddr)
	c := startHubProcBrokerOn(t, redis.NewClient(&redis.Options{Addr: g.addr(), MaxRetries: -1}), "c", prefix, clk)

	ana, ben := a.join(t, "Ana"), b.join(t, "Ben")
	room := ana.MustCall("joined", map[string]any{"type": "create"}).Str("room")
	token := invite(t, ana, room)
	tab := epchattest.Dial(t, c.url)
	tab.MustCall("welcome", map[string]any{"type": "hello", "token": ben.Token})
	ben.Expect("session_connected", "")

	g.hold([]byte(room))
	seat(t, ben, token, room, ana)
	g.waitHeld(t)
	tab.Expect("member_joined", room)
	ana.MustCall("ok", map[string]any{"type": "history", "room": room, "to": ben.ID, "data": "what was said"})
	if e := ben.Expect("history", room); e.Str("data") != "what was said" {
		t.Fatalf("Ben on b: %v", e)
	}
	if e := tab.Expect("history", room); e.Str("data") != "what was said" {
		t.Fatalf("Ben's tab on c: %v", e)
	}
	g.release()
}

// TestEndSessionDuringResumeElsewhere: Ben's tab says hello on process b
// with his token, and his connection on process a ends the session after
// b counted the tab but before b's subscription to Ben's channel took
// effect (a relay holds b's SUBSCRIBE), so b never hears of the end. b
// asks the Store once subscribed: the tab gets session_ended and closes
// with 4003 instead of a welcome into a session that is gone.
func TestEndSessionDuringResumeElsewhere(t *testing.T) {
	a, b, g := gatedPair(t)

	ben := a.join(t, "Ben")
	g.hold([]byte(ben.ID))
	tab := epchattest.Dial(t, b.url)
	tab.Send(map[string]any{"type": "hello", "token": ben.Token})
	g.waitHeld(t)
	ben.MustCall("ok", map[string]any{"type": "end_session"})
	ben.Expect("session_ended", "")
	g.release()

	if e := tab.Next(); e.Type() != "session_ended" {
		t.Fatalf("Ben's tab on b, whose hello raced the session's end on a: %v; want session_ended", e)
	}
	tab.WaitReaderDone()
	if code := tab.CloseCode(); code != 4003 {
		t.Fatalf("the tab closed with %d; want 4003", code)
	}
}

// TestFollowStallsNoOtherRoom: while process b waits for Redis to confirm
// its subscription to a room a user of its joined elsewhere (a relay holds
// the SUBSCRIBE), the events of b's other rooms keep reaching their
// members. The wait once ran on the Broker's delivery goroutine, where the
// confirmation itself is read: every room on b then stood still until the
// Hub gave up on the subscription (5 s, and the error in its log).
func TestFollowStallsNoOtherRoom(t *testing.T) {
	logs := &logLines{}
	a, b, g := gatedPair(t, epchat.WithLogger(slog.New(logs)))

	// Cy on b chats in Ana's room X.
	ana, cy := a.join(t, "Ana"), b.join(t, "Cy")
	x := ana.MustCall("joined", map[string]any{"type": "create"}).Str("room")
	seat(t, cy, invite(t, ana, x), x, ana)

	// Ben, with a tab on b, joins room R on a.
	ben := a.join(t, "Ben")
	r := ben.MustCall("joined", map[string]any{"type": "create"}).Str("room")
	token := invite(t, ben, r)
	dan := a.join(t, "Dan")
	tab := epchattest.Dial(t, b.url)
	tab.MustCall("welcome", map[string]any{"type": "hello", "token": dan.Token})
	dan.Expect("session_connected", "")
	g.hold([]byte(r))
	dan.MustCall("joined", map[string]any{"type": "join", "token": token})
	tab.Expect("member_joined", r)
	g.waitHeld(t)

	ana.MustCall("sent", map[string]any{"type": "send", "room": x, "text": "still here"})
	if e := cy.Expect("message", x); e.Str("text") != "still here" {
		t.Fatalf("Cy on b: %v", e)
	}
	if n := logs.count("broker: room subscription not confirmed"); n != 0 {
		t.Fatalf("Cy's message came only after b gave up on the held subscription (%d errors logged)", n)
	}
	g.release()
	// The SUBSCRIBE goes on its way: what Ben sends before Redis has it
	// is lost for b (pub/sub is at most once), so he sends until one
	// reaches the tab.
	deadline := time.Now().Add(waitFor)
	for !slices.ContainsFunc(tab.Events(), func(e epchattest.Event) bool { return e.Type() == "message" }) {
		if time.Now().After(deadline) {
			t.Fatal("no message of R reached Dan's tab on b once the subscription was let through")
		}
		ben.MustCall("sent", map[string]any{"type": "send", "room": r, "text": "to Dan's tab"})
		time.Sleep(20 * time.Millisecond)
	}
}

// logLines is a slog.Handler that counts the messages logged.
type logLines struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logLines) Enabled(context.Context, slog.Level) bool { return true }
func (l *logLines) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.msgs = append(l.msgs, r.Message)
	l.mu.Unlock()
	return nil
}
func (l *logLines) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logLines) WithGroup(string) slog.Handler      { return l }

func (l *logLines) count(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.msgs {
		if m == msg {
			n++
		}
	}
	return n
}

// gatedPair starts two Hub processes of one deployment, a and b, b's
// Broker reaching Redis through the gate g (its Store does not), b with
// opts.
func gatedPair(t *testing.T, opts ...epchat.Option) (a, b *hubProc, g *gate) {
	t.Helper()
	prefix := freshPrefix()
	clk := epchattest.NewClock(t0)
	a = startHubProc(t, "a", prefix, clk, true)
	g = newGate(t, redisAddr)
	b = startHubProcBrokerOn(t, redis.NewClient(&redis.Options{Addr: g.addr(), MaxRetries: -1}), "b", prefix, clk, opts...)
	return a, b, g
}

// startHubProcBrokerOn is startHubProc whose Broker subscribes through
// sub (a relay to Redis, say) while its Store and publishes use a client
// of their own.
func startHubProcBrokerOn(t *testing.T, sub *redis.Client, name, prefix string, clk *epchattest.Clock, opts ...epchat.Option) *hubProc {
	t.Helper()
	t.Cleanup(func() { sub.Close() })
	broker, err := NewBroker(sub, WithPrefix(prefix))
	if err != nil {
		t.Fatal(err)
	}
	return startHubProcOn(t, newClient(t), nil, name, prefix, clk, false, append(opts, epchat.WithBroker(broker))...)
}

// gate relays TCP connections to a Redis; once told to hold a marker, the
// first write from a client that holds it, and every one after it, wait
// until release.
type gate struct {
	ln     net.Listener
	to     string
	mu     sync.Mutex
	cond   *sync.Cond
	marker []byte
	held   bool
	gaveUp bool // waitHeld stopped waiting
	wg     sync.WaitGroup
	cmu    sync.Mutex
	conns  []net.Conn // both ends of every relayed connection
}

func newGate(t *testing.T, to string) *gate {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &gate{ln: ln, to: to}
	g.cond = sync.NewCond(&g.mu)
	g.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", to)
			if err != nil {
				c.Close()
				continue
			}
			g.cmu.Lock()
			g.conns = append(g.conns, c, s)
			g.cmu.Unlock()
			g.wg.Go(func() { io.Copy(c, s); c.Close() })
			g.wg.Go(func() { g.forward(s, c); s.Close() })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		g.cut()
		g.wg.Wait()
	})
	return g
}

func (g *gate) addr() string { return g.ln.Addr().String() }

func (g *gate) forward(dst, src net.Conn) {
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			g.mu.Lock()
			if g.marker != nil && bytes.Contains(buf[:n], g.marker) {
				g.held = true
				g.cond.Broadcast()
			}
			for g.held {
				g.cond.Wait()
			}
			g.mu.Unlock()
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (g *gate) hold(marker []byte) {
	g.mu.Lock()
	g.marker = marker
	g.mu.Unlock()
}

// waitHeld waits until a write holding the marker is held.
func (g *gate) waitHeld(t *testing.T) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		g.mu.Lock()
		for !g.held && !g.gaveUp {
			g.cond.Wait()
		}
		g.mu.Unlock()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(waitFor):
		g.mu.Lock()
		g.gaveUp = true
		g.cond.Broadcast()
		g.mu.Unlock()
		<-done
		t.Fatal("no write holding the marker reached the relay")
	}
}

// cut breaks every connection relayed so far, dropping what is held, and
// lets the next ones through.
func (g *gate) cut() {
	g.cmu.Lock()
	for _, c := range g.conns {
		c.Close()
	}
	g.conns = nil
	g.cmu.Unlock()
	g.release()
}

func (g *gate) release() {
	g.mu.Lock()
	g.marker, g.held = nil, false
	g.cond.Broadcast()
	g.mu.Unlock()
}

package epchat_test

import (
	"context"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/epchat-go/epchat"
	"github.com/epchat-go/epchat/epchattest"
)

// waitStats waits until the Hub's figures satisfy ok: a connection's end
// is counted once the server has torn it down, on its own time.
func waitStats(t testing.TB, h *epchat.Hub, what string, ok func(epchat.Stats) bool) epchat.Stats {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		s := h.Stats()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %+v", what, s)
		}
		time.Sleep(5 * time.Millisecond) // polling real state, not a time rule
	}
}

// errorCounts is Stats.Errors for a Hub that sent the given error events:
// every code listed, zeros included.
func errorCounts(t testing.TB, sent map[string]uint64) map[string]uint64 {
	t.Helper()
	h, err := epchat.New()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Shutdown(context.Background())
	out := h.Stats().Errors
	for code, n := range sent {
		if _, ok := out[code]; !ok {
			t.Fatalf("no error code %q in Stats.Errors", code)
		}
		out[code] = n
	}
	return out
}

// A session over real WebSockets moves every figure by exactly what it did.
func TestStatsCountTheSession(t *testing.T) {
	th := newTestHub(t, quiet)
	ctx := context.Background()
	if s := th.Stats(); !reflect.DeepEqual(s, epchat.Stats{Errors: errorCounts(t, nil)}) {
		t.Fatalf("a new Hub: %+v", s)
	}

	ana, ben, cid := th.client(t, "Ana"), th.client(t, "Ben"), th.client(t, "Cid")

	// A room opened by a member, an invite redeemed, one refused, three
	// messages and a history relayed, a member leaving, the owner closing.
	r1 := ana.MustCall("joined", map[string]any{"type": "create"}).Str("room")
	tok := ana.MustCall("invite", map[string]any{"type": "invite", "room": r1}).Str("token")
	ana.MustCall("invite", map[string]any{"type": "invite", "room": r1}) // deleted with the room
	ben.MustCall("joined", map[string]any{"type": "join", "token": tok})
	ana.Expect("member_joined", r1)
	if e := cid.Call(map[string]any{"type": "join", "token": "no-such-invite"}); e.Str("code") != "invite_invalid" {
		t.Fatalf("join with a bad token: %v", e)
	}
	for range 3 {
		ana.MustCall("sent", map[string]any{"type": "send", "room": r1, "text": "hi"})
		ben.Expect("message", r1)
	}
	ana.MustCall("ok", map[string]any{"type": "history", "room": r1, "to": ben.ID, "data": "past"})
	ben.Expect("history", r1)
	ben.MustCall("ok", map[string]any{"type": "leave", "room": r1})
	ana.Expect("member_left", r1)
	ana.MustCall("ok", map[string]any{"type": "close", "room": r1})
	ana.Expect("room_closed", r1)

	// An invite that expires, and a room whose last member leaves.
	r2 := cid.MustCall("joined", map[string]any{"type": "create"}).Str("room")
	cid.MustCall("invite", map[string]any{"type": "invite", "room": r2})
	th.clock.Advance(epchat.DefaultInviteTTL)
	cid.MustCall("ok", map[string]any{"type": "leave", "room": r2})

	// A room opened by the host; a member who does not come back within
	// the grace, one who does, and the room closing when idle.
	nr, err := th.CreateRoom(ctx, epchat.RoomSpec{Invites: 2})
	if err != nil {
		t.Fatal(err)
	}
	ana.MustCall("joined", map[string]any{"type": "join", "token": nr.Owner.Token})
	ben.MustCall("joined", map[string]any{"type": "join", "token": nr.Members[0].Token})
	ana.Expect("member_joined", nr.ID)
	cid.MustCall("joined", map[string]any{"type": "join", "token": nr.Members[1].Token})
	ana.Expect("member_joined", nr.ID)
	ben.Expect("member_joined", nr.ID)
	cid.Conn.Close()
	th.waitDetached(t, cid.Token)
	th.clock.Advance(epchat.DefaultReconnectGrace + time.Second)
	ana.Expect("member_left", nr.ID)
	ben.Expect("member_left", nr.ID)
	ben.Conn.Close()
	th.waitDetached(t, ben.Token)
	back := epchattest.Dial(t, th.url)
	back.MustCall("welcome", map[string]any{"type": "hello", "token": ben.Token})
	if e := ana.Call(map[string]any{"type": "dance"}); e.Str("code") != "unknown_type" {
		t.Fatalf("unknown type: %v", e)
	}

	before := th.Stats()
	text := strings.Repeat("x", 1000)
	ana.MustCall("sent", map[string]any{"type": "send", "room": nr.ID, "text": text})
	back.Expect("message", nr.ID)
	// A flush is counted once written, so possibly after the client read
	// it; and the last writes before the first snapshot may be counted in
	// the second.
	after := waitStats(t, th.Hub, "the message written", func(s epchat.Stats) bool { return s.BytesOut-before.BytesOut >= 1000 })
	if in := after.BytesIn - before.BytesIn; in < 1000 || in > 1200 {
		t.Errorf("a 1000-byte message moved BytesIn by %d", in)
	}
	if out := after.BytesOut - before.BytesOut; out < 1000 || out > 2000 {
		t.Errorf("a 1000-byte message to one member moved BytesOut by %d", out)
	}
	th.clock.Advance(epchat.DefaultRoomIdleTimeout + time.Second)
	ana.Expect("room_closed", nr.ID)
	back.Expect("room_closed", nr.ID)

	// A connection that never says hello, one that breaks the protocol.
	dave := epchattest.Dial(t, th.url)
	if e := dave.Call(map[string]any{"type": "create"}); e.Str("code") != "not_identified" {
		t.Fatalf("create before hello: %v", e)
	}
	th.clock.Advance(epchat.DefaultIdentifyTimeout)
	if code := dave.CloseCode(); code != 4000 {
		t.Fatalf("identify timeout: close %d", code)
	}
	eve := epchattest.Dial(t, th.url)
	eve.WriteFrame(ws.OpBinary, []byte{1, 2, 3})
	if code := eve.CloseCode(); code != ws.StatusUnsupportedData {
		t.Fatalf("binary message: close %d", code)
	}
	eve.Conn.Close() // the server, having stopped reading, would wait for its close answer
	waitStats(t, th.Hub, "6 connections opened, 2 left", func(s epchat.Stats) bool {
		return s.ConnectionsOpened == 6 && s.Connections == 2
	})

	// Cid, gone for the user idle timeout, is forgotten.
	th.clock.Advance(epchat.DefaultUserIdleTimeout)
	mid := th.Stats()
	want := epchat.Stats{
		Connections:       2,
		ConnectionsPolled: polled(2),
		ConnectionsOpened: 6,
		ConnectionsClosed: epchat.ConnCloses{
			Client:          2,
			IdentifyTimeout: 1,
			Protocol:        1,
		},
		Users:          2,
		UsersCreated:   3,
		UsersResumed:   1,
		UsersForgotten: 1,
		RoomsOpened:    3,
		RoomsClosed: epchat.RoomCloses{
			Owner: 1,
			Idle:  1,
			Empty: 1,
		},
		MembersJoined: 6,
		MembersLeft: epchat.MemberLeaves{
			Left:         2,
			Disconnected: 1,
		},
		Messages:        4,
		Histories:       1,
		Deliveries:      15,
		BytesIn:         mid.BytesIn,
		BytesOut:        mid.BytesOut,
		InvitesMade:     6,
		InvitesRedeemed: 4,
		InvitesExpired:  1,
		InvitesRefused:  1,
		Errors: errorCounts(t, map[string]uint64{
			"invite_invalid": 1,
			"unknown_type":   1,
			"not_identified": 1,
		}),
	}
	if !reflect.DeepEqual(mid, want) {
		t.Fatalf("after the session:\n got %+v\nwant %+v", mid, want)
	}

	// A room open at shutdown, then the shutdown.
	r4 := ana.MustCall("joined", map[string]any{"type": "create"}).Str("room")
	if s := th.Stats(); s.Rooms != 1 || s.RoomsServed != 1 || s.Members != 1 {
		t.Fatalf("one room open: %+v", s)
	}
	if err := th.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	ana.Expect("room_closed", r4)
	end := th.Stats()
	want.Connections, want.ConnectionsPolled = 0, 0
	want.ConnectionsClosed.Shutdown = 2
	want.RoomsOpened++
	want.RoomsClosed.Shutdown++
	want.MembersJoined++
	want.Deliveries++
	want.BytesIn, want.BytesOut = end.BytesIn, end.BytesOut
	if !reflect.DeepEqual(end, want) {
		t.Fatalf("after Shutdown:\n got %+v\nwant %+v", end, want)
	}
	if end.BytesIn <= mid.BytesIn || end.BytesOut <= mid.BytesOut {
		t.Errorf("bytes did not move: %d/%d, then %d/%d", mid.BytesIn, mid.BytesOut, end.BytesIn, end.BytesOut)
	}
	if end.ConnectionsOpened != end.ConnectionsClosed.Total() || end.Rooms != 0 || end.Members != 0 || end.RoomsServed != 0 {
		t.Fatalf("after Shutdown, something is still open: %+v", end)
	}
}

// A client that does not read is closed as too slow, alone, and counted so.
func TestStatsSlowConnection(t *testing.T) {
	// Ana sends until the reader overflows, at one instant of the fake
	// clock: above the default request rate, which has its own test.
	th := newTestHub(t, quiet, epchat.WithMaxMessageSize(256<<10), epchat.WithSendQueueLimit(1<<20+2048),
		epchat.WithRequestRate(1, 1000))
	ana := th.client(t, "Ana")
	room := ana.MustCall("joined", map[string]any{"type": "create"}).Str("room")
	tok := ana.MustCall("invite", map[string]any{"type": "invite", "room": room}).Str("token")

	// A client that says hello, joins, and then reads nothing.
	nc, _, _, err := ws.Dial(context.Background(), th.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	for _, req := range []string{
		`{"type":"hello","id":"1","nickname":"Slow"}`,
		`{"type":"join","id":"2","token":"` + tok + `"}`,
	} {
		if err := ws.WriteFrame(nc, ws.MaskFrame(ws.NewTextFrame([]byte(req)))); err != nil {
			t.Fatal(err)
		}
	}
	ana.Expect("member_joined", room)

	// The server's writes pile up in the kernel, then in the send queue,
	// until it overflows. 64 MiB is far more than both hold. The
	// connection then has closeDrain (real time) to take our close frame:
	// however fast the sends went, the wait below outlasts it.
	text := strings.Repeat("x", 256<<10)
	for i := 0; i < 256 && th.Stats().Connections == 2; i++ {
		ana.MustCall("sent", map[string]any{"type": "send", "room": room, "text": text})
	}
	s := waitStats(t, th.Hub, "the slow connection closed", func(s epchat.Stats) bool { return s.Connections == 1 })
	if s.ConnectionsClosed != (epchat.ConnCloses{Slow: 1}) {
		t.Fatalf("closed: %+v", s.ConnectionsClosed)
	}
	// The room goes on for the others.
	ana.MustCall("members", map[string]any{"type": "members", "room": room})
}

// BenchmarkStats measures one snapshot, as a scrape or the stats page
// takes it.
func BenchmarkStats(b *testing.B) {
	h, err := epchat.New()
	if err != nil {
		b.Fatal(err)
	}
	defer h.Shutdown(context.Background())
	b.ReportAllocs()
	for b.Loop() {
		h.Stats()
	}
}

// polled is how many of n connections the poller serves in this run of
// the suite: all, or none with EPCHAT_NETPOLL=off.
func polled(n int64) int64 {
	if blockingReads() {
		return 0
	}
	return n
}

// A connection the poller cannot take (here: not a plain TCP socket, as
// with TLS) is served with a goroutine, left out of ConnectionsPolled, and
// said once in the log.
func TestStatsUnpolledConnection(t *testing.T) {
	wrapped := func(ln net.Listener) net.Listener { return opaqueListener{ln} }
	hh := newTestHubListener(t, wrapped, quiet)
	ana, ben := hh.client(t, "nick-ana-tls"), hh.client(t, "nick-ben-tls")
	hh.room(t, ana, ben)
	if s := hh.Stats(); s.Connections != 2 || s.ConnectionsPolled != 0 {
		t.Fatalf("two wrapped connections: %d open, %d polled; want 2, 0", s.Connections, s.ConnectionsPolled)
	}
	want := 1
	if blockingReads() {
		want = 0 // no poller, nothing to say
	}
	if n := hh.logs.count("served without the poller"); n != want {
		t.Fatalf("said %d times, want %d", n, want)
	}
}

// opaqueListener hands out connections that hide their socket, as a TLS
// listener does.
type opaqueListener struct{ net.Listener }

func (l opaqueListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return struct{ net.Conn }{nc}, nil
}

package epchat_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/epchat-go/epchat"
)

// quiet keeps keepalive out of tests that move the clock by minutes.
var quiet = epchat.WithPingInterval(1000 * time.Hour)

func TestHelloNicknames(t *testing.T) {
	th := newTestHub(t)
	tests := []struct {
		name string
		nick string
		want string // reply type, or error code
	}{
		{
			name: "plain",
			nick: "Ana",
			want: "welcome",
		},
		{
			name: "trimmed",
			nick: "  Ana  ",
			want: "welcome",
		},
		{
			name: "32 characters of several bytes",
			nick: strings.Repeat("é", 32),
			want: "welcome",
		},
		{
			name: "33 characters",
			nick: strings.Repeat("a", 33),
			want: "invalid_nickname",
		},
		{
			name: "empty",
			nick: "",
			want: "invalid_nickname",
		},
		{
			name: "only spaces",
			nick: "   ",
			want: "invalid_nickname",
		},
		{
			name: "control character",
			nick: "An\u0007a",
			want: "invalid_nickname",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, th.url)
			e := c.call(map[string]any{"type": "hello", "nickname": tt.nick})
			got := e.typ()
			if got == "error" {
				got = e.str("code")
			}
			if got != tt.want {
				t.Fatalf("hello %q: got %v, want %s", tt.nick, e, tt.want)
			}
			if got != "welcome" {
				return
			}
			you, _ := e["you"].(map[string]any)
			if you["nickname"] != strings.TrimSpace(tt.nick) {
				t.Errorf("nickname %q, want %q", you["nickname"], strings.TrimSpace(tt.nick))
			}
			if id, _ := you["id"].(string); id == "" {
				t.Error("no member id")
			}
			if len(e.str("token")) < 43 {
				t.Errorf("session token %q is short", e.str("token"))
			}
		})
	}
}

func TestRequestErrors(t *testing.T) {
	th := newTestHub(t)
	c := dial(t, th.url)
	if e := c.call(map[string]any{"type": "create"}); e.str("code") != "not_identified" {
		t.Fatalf("create before hello: %v", e)
	}
	c.hello("Ana")
	tests := []struct {
		name string
		raw  string
		code string
		id   string
	}{
		{
			name: "not JSON",
			raw:  `hello`,
			code: "bad_request",
		},
		{
			name: "not an object",
			raw:  `[1,2]`,
			code: "bad_request",
		},
		{
			name: "wrong field type keeps the id",
			raw:  `{"type":"send","id":"x1","room":7}`,
			code: "bad_request",
			id:   "x1",
		},
		{
			name: "no type",
			raw:  `{"id":"x2"}`,
			code: "bad_request",
			id:   "x2",
		},
		{
			name: "unknown type",
			raw:  `{"type":"dance","id":"x3"}`,
			code: "unknown_type",
			id:   "x3",
		},
		{
			name: "second hello",
			raw:  `{"type":"hello","id":"x4","nickname":"Ben"}`,
			code: "already_identified",
			id:   "x4",
		},
		{
			name: "deep nesting",
			raw:  `{"type":"send","id":"x5","x":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`,
			code: "bad_request",
			id:   "x5",
		},
		{
			name: "room that does not exist",
			raw:  `{"type":"send","id":"x6","room":"nope","text":"hi"}`,
			code: "not_found",
			id:   "x6",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.sendRaw(tt.raw)
			e := c.take("error", func(e event) bool { return e.typ() == "error" })
			if e.str("code") != tt.code || e.str("id") != tt.id {
				t.Fatalf("got %v, want code %s id %q", e, tt.code, tt.id)
			}
			if e.str("message") == "" {
				t.Error("error without a message")
			}
		})
	}
	// The connection still works.
	c.mustCall("joined", map[string]any{"type": "create"})
}

func TestRoomLifecycle(t *testing.T) {
	th := newTestHub(t)
	ana, ben, cid := th.client(t, "Ana"), th.client(t, "Ben"), th.client(t, "Cid")

	joined := ana.mustCall("joined", map[string]any{"type": "create"})
	room := joined.str("room")
	if joined.str("owner") != ana.id || !slices.Equal(joined.memberIDs(), []string{ana.id}) {
		t.Fatalf("create: %v", joined)
	}

	inv := ana.mustCall("invite", map[string]any{"type": "invite", "room": room})
	if inv.str("room") != room || inv.num("expires") != th.clock.Now().Add(epchat.DefaultInviteTTL).UnixMilli() {
		t.Fatalf("invite: %v", inv)
	}
	j := ben.mustCall("joined", map[string]any{"type": "join", "token": inv.str("token")})
	if j.str("room") != room || j.str("owner") != ana.id || !slices.Equal(j.memberIDs(), []string{ana.id, ben.id}) {
		t.Fatalf("join: %v", j)
	}
	mj := ana.expect("member_joined", room)
	if m, _ := mj["member"].(map[string]any); m["id"] != ben.id || m["nickname"] != "Ben" {
		t.Fatalf("member_joined: %v", mj)
	}

	// Only the owner invites; non-members are told the room does not exist.
	if e := ben.call(map[string]any{"type": "invite", "room": room}); e.str("code") != "forbidden" {
		t.Fatalf("invite by a member: %v", e)
	}
	if e := cid.call(map[string]any{"type": "send", "room": room, "text": "hi"}); e.str("code") != "not_found" {
		t.Fatalf("send by a stranger: %v", e)
	}
	if e := cid.call(map[string]any{"type": "members", "room": room}); e.str("code") != "not_found" {
		t.Fatalf("members by a stranger: %v", e)
	}

	// A message reaches the others with sender, seq and time; the sender
	// gets sent, not an echo.
	sent := ana.mustCall("sent", map[string]any{"type": "send", "room": room, "text": "hello ben"})
	msg := ben.expect("message", room)
	if msg.str("from") != ana.id || msg.str("text") != "hello ben" || msg.num("seq") != 1 ||
		msg.num("ts") != th.clock.Now().UnixMilli() || sent.num("seq") != 1 || sent.num("ts") != msg.num("ts") {
		t.Fatalf("sent %v, message %v", sent, msg)
	}
	ana.none()

	tok := ana.mustCall("invite", map[string]any{"type": "invite", "room": room}).str("token")
	cid.mustCall("joined", map[string]any{"type": "join", "token": tok})
	ana.expect("member_joined", room)
	ben.expect("member_joined", room)

	ms := ben.mustCall("members", map[string]any{"type": "members", "room": room})
	if !slices.Equal(ms.memberIDs(), []string{ana.id, ben.id, cid.id}) || ms.str("owner") != ana.id || ms.num("seq") != 1 {
		t.Fatalf("members: %v", ms)
	}

	// The owner leaves: ownership passes to the earliest-joined member.
	ana.mustCall("ok", map[string]any{"type": "leave", "room": room})
	for _, c := range []*client{ben, cid} {
		if e := c.expect("member_left", room); e.str("member") != ana.id || e.str("reason") != "left" {
			t.Fatalf("member_left: %v", e)
		}
		if e := c.expect("owner_changed", room); e.str("owner") != ben.id {
			t.Fatalf("owner_changed: %v", e)
		}
	}
	// Ana is no longer in the room.
	if e := ana.call(map[string]any{"type": "send", "room": room, "text": "x"}); e.str("code") != "not_found" {
		t.Fatalf("send after leave: %v", e)
	}

	// Cid may not close; Ben, the new owner, may.
	if e := cid.call(map[string]any{"type": "close", "room": room}); e.str("code") != "forbidden" {
		t.Fatalf("close by a member: %v", e)
	}
	spare := ben.mustCall("invite", map[string]any{"type": "invite", "room": room}).str("token")
	ben.mustCall("ok", map[string]any{"type": "close", "room": room})
	for _, c := range []*client{ben, cid} {
		if e := c.expect("room_closed", room); e.str("reason") != "owner" {
			t.Fatalf("room_closed: %v", e)
		}
	}
	// Nothing of the room remains: its invite is dead, it is not listed.
	if e := ana.call(map[string]any{"type": "join", "token": spare}); e.str("code") != "invite_invalid" {
		t.Fatalf("invite of a closed room: %v", e)
	}
	rooms, err := th.Rooms(context.Background())
	if err != nil || len(rooms) != 0 {
		t.Fatalf("rooms after close: %v, %v", rooms, err)
	}
}

func TestLastMemberLeavingClosesRoom(t *testing.T) {
	th := newTestHub(t)
	ana, ben := th.client(t, "Ana"), th.client(t, "Ben")
	room := th.room(t, ana, ben)
	ben.mustCall("ok", map[string]any{"type": "leave", "room": room})
	ana.expect("member_left", room)
	ana.mustCall("ok", map[string]any{"type": "leave", "room": room})
	rooms, _ := th.Rooms(context.Background())
	if len(rooms) != 0 {
		t.Fatalf("room still open after the last member left: %v", rooms)
	}
}

func TestMessagesInOrderAcrossRooms(t *testing.T) {
	// 200 requests at one instant of the fake clock: above the default
	// request rate, which has its own test.
	th := newTestHub(t, epchat.WithRequestRate(1, 1000))
	ana, ben := th.client(t, "Ana"), th.client(t, "Ben")
	r1 := th.room(t, ana, ben)
	r2 := th.room(t, ana, ben)
	const n = 200
	for i := range n {
		room := r1
		if i%2 == 1 {
			room = r2
		}
		ana.send(map[string]any{"type": "send", "room": room, "text": fmt.Sprint(i)})
	}
	last := map[string]int64{}
	for i := range n {
		e := ben.expect("message", "")
		if e.str("text") != fmt.Sprint(i) {
			t.Fatalf("message %d: got %v", i, e)
		}
		room := e.str("room")
		if want := map[bool]string{true: r1, false: r2}[i%2 == 0]; room != want {
			t.Fatalf("message %d in room %s, want %s", i, room, want)
		}
		if e.num("seq") != last[room]+1 {
			t.Fatalf("room %s: seq %d after %d", room, e.num("seq"), last[room])
		}
		last[room] = e.num("seq")
	}
}

func TestTooLargeText(t *testing.T) {
	th := newTestHub(t, epchat.WithMaxMessageSize(100))
	ana, ben := th.client(t, "Ana"), th.client(t, "Ben")
	room := th.room(t, ana, ben)
	if e := ana.call(map[string]any{"type": "send", "room": room, "text": strings.Repeat("x", 101)}); e.str("code") != "too_large" {
		t.Fatalf("101 bytes: %v", e)
	}
	ana.mustCall("sent", map[string]any{"type": "send", "room": room, "text": strings.Repeat("x", 100)})
	if e := ben.expect("message", room); len(e.str("text")) != 100 {
		t.Fatalf("100 bytes: %v", e)
	}
	ben.none()
}

func TestInviteRules(t *testing.T) {
	th := newTestHub(t, epchat.WithMaxMembers(3), quiet)
	ana, ben, cid, dan := th.client(t, "Ana"), th.client(t, "Ben"), th.client(t, "Cid"), th.client(t, "Dan")
	room := ana.mustCall("joined", map[string]any{"type": "create"}).str("room")
	invite := func() string {
		return ana.mustCall("invite", map[string]any{"type": "invite", "room": room}).str("token")
	}

	// One time only.
	tok := invite()
	ben.mustCall("joined", map[string]any{"type": "join", "token": tok})
	if e := cid.call(map[string]any{"type": "join", "token": tok}); e.str("code") != "invite_invalid" {
		t.Fatalf("used invite: %v", e)
	}
	// Unknown tokens get the same answer.
	if e := cid.call(map[string]any{"type": "join", "token": "not-a-token"}); e.str("code") != "invite_invalid" {
		t.Fatalf("unknown invite: %v", e)
	}
	// Expired after the invite TTL, not before.
	late := invite()
	th.clock.advance(epchat.DefaultInviteTTL - time.Millisecond)
	early := invite()
	th.clock.advance(time.Millisecond)
	if e := cid.call(map[string]any{"type": "join", "token": late}); e.str("code") != "invite_invalid" {
		t.Fatalf("expired invite: %v", e)
	}
	// Pending invites are capped at the member limit (3).
	invite()
	invite()
	if e := ana.call(map[string]any{"type": "invite", "room": room}); e.str("code") != "too_many_invites" {
		t.Fatalf("fourth pending invite: %v", e)
	}
	cid.mustCall("joined", map[string]any{"type": "join", "token": early})
	// Full room: no invite is made, and pending ones do not seat anyone.
	if e := ana.call(map[string]any{"type": "invite", "room": room}); e.str("code") != "room_full" {
		t.Fatalf("invite to a full room: %v", e)
	}
	ben.mustCall("ok", map[string]any{"type": "leave", "room": room})
	tok = invite()
	cid.mustCall("ok", map[string]any{"type": "leave", "room": room})
	if e := ana.call(map[string]any{"type": "join", "token": tok}); e.str("code") != "already_member" {
		t.Fatalf("owner redeeming own invite: %v", e)
	}
	dan.mustCall("joined", map[string]any{"type": "join", "token": tok})
}

// A room never exceeds its limit and a token works once, whatever the race.
func TestJoinRaces(t *testing.T) {
	t.Run("50 joins with one token", func(t *testing.T) {
		// 49 losers share 127.0.0.1: above the default token guess
		// limit per address, which has its own test.
		th := newTestHub(t, epchat.WithMaxMembers(60), epchat.WithTokenGuessLimit(100, time.Minute))
		ana := th.client(t, "Ana")
		room := ana.mustCall("joined", map[string]any{"type": "create"}).str("room")
		tok := ana.mustCall("invite", map[string]any{"type": "invite", "room": room}).str("token")
		wins := raceJoins(t, th, 50, func(int) string { return tok })
		if wins != 1 {
			t.Fatalf("%d joins won with one token, want 1", wins)
		}
	})
	t.Run("20 tokens for the last seat", func(t *testing.T) {
		th := newTestHub(t, epchat.WithMaxMembers(21))
		ana := th.client(t, "Ana")
		room := ana.mustCall("joined", map[string]any{"type": "create"}).str("room")
		var toks []string
		for range 20 {
			toks = append(toks, ana.mustCall("invite", map[string]any{"type": "invite", "room": room}).str("token"))
		}
		// Fill all seats but one.
		filler := make([]*client, 19)
		for i := range filler {
			filler[i] = th.client(t, "F")
			filler[i].mustCall("joined", map[string]any{"type": "join", "token": toks[i]})
		}
		// One invite is left pending; 20 more make 21, the cap.
		var race []string
		for range 20 {
			race = append(race, ana.mustCall("invite", map[string]any{"type": "invite", "room": room}).str("token"))
		}
		wins := raceJoins(t, th, 20, func(i int) string { return race[i] })
		if wins != 1 {
			t.Fatalf("%d joins won the last seat, want 1", wins)
		}
		rooms, _ := th.Rooms(context.Background())
		if len(rooms) != 1 || rooms[0].Members != 21 {
			t.Fatalf("rooms: %+v", rooms)
		}
	})
}

func raceJoins(t *testing.T, th *testHub, n int, token func(int) string) int {
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = th.client(t, fmt.Sprint("racer", i))
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		wins int
	)
	start := make(chan struct{})
	for i, c := range clients {
		wg.Go(func() {
			<-start
			e := c.call(map[string]any{"type": "join", "token": token(i)})
			switch {
			case e.typ() == "joined":
				mu.Lock()
				wins++
				mu.Unlock()
			case e.str("code") != "invite_invalid" && e.str("code") != "room_full":
				t.Errorf("loser got %v", e)
			}
		})
	}
	close(start)
	wg.Wait()
	return wins
}

func TestRoomIdleClose(t *testing.T) {
	th := newTestHub(t, quiet)
	ana, ben := th.client(t, "Ana"), th.client(t, "Ben")
	room := th.room(t, ana, ben)
	th.clock.advance(9 * time.Minute)
	ana.mustCall("sent", map[string]any{"type": "send", "room": room, "text": "still here"})
	ben.expect("message", room)
	th.clock.advance(9 * time.Minute) // 9 minutes after the last message
	ben.mustCall("members", map[string]any{"type": "members", "room": room})
	th.clock.advance(time.Minute + time.Second)
	for _, c := range []*client{ana, ben} {
		if e := c.expect("room_closed", room); e.str("reason") != "idle" {
			t.Fatalf("room_closed: %v", e)
		}
	}
	if e := ana.call(map[string]any{"type": "send", "room": room, "text": "x"}); e.str("code") != "not_found" {
		t.Fatalf("send to an idle-closed room: %v", e)
	}
}

func TestReconnectWithinGrace(t *testing.T) {
	th := newTestHub(t, quiet)
	ana, ben := th.client(t, "Ana"), th.client(t, "Ben")
	room := th.room(t, ana, ben)
	ben.nc.Close() // a page reload
	th.clock.advance(epchat.DefaultReconnectGrace - time.Second)

	back := dial(t, th.url)
	w := back.mustCall("welcome", map[string]any{"type": "hello", "token": ben.token})
	if you, _ := w["you"].(map[string]any); you["id"] != ben.id || you["nickname"] != "Ben" || w.str("token") != "" {
		t.Fatalf("resume: %v", w)
	}
	rooms, _ := w["rooms"].([]any)
	if len(rooms) != 1 {
		t.Fatalf("resume rooms: %v", w)
	}
	if r, _ := rooms[0].(map[string]any); r["room"] != room || r["owner"] != ana.id {
		t.Fatalf("resume room: %v", rooms[0])
	}
	th.clock.advance(2 * epchat.DefaultReconnectGrace) // the grace no longer matters
	ana.mustCall("sent", map[string]any{"type": "send", "room": room, "text": "welcome back"})
	if e := back.expect("message", room); e.str("text") != "welcome back" {
		t.Fatalf("message after resume: %v", e)
	}
	ana.none() // no member_left, no member_joined
}

func TestSeatsFreedAfterGrace(t *testing.T) {
	th := newTestHub(t, quiet)
	ana, ben := th.client(t, "Ana"), th.client(t, "Ben")
	room := th.room(t, ana, ben)
	ana.nc.Close()
	th.waitDetached(t, ana.token)
	th.clock.advance(epchat.DefaultReconnectGrace + time.Second)
	e := ben.expect("member_left", room)
	if e.str("member") != ana.id || e.str("reason") != "disconnected" {
		t.Fatalf("member_left: %v", e)
	}
	if e := ben.expect("owner_changed", room); e.str("owner") != ben.id {
		t.Fatalf("owner_changed: %v", e)
	}
	// The session itself still works, without the seat.
	back := dial(t, th.url)
	w := back.mustCall("welcome", map[string]any{"type": "hello", "token": ana.token})
	if rooms, _ := w["rooms"].([]any); len(rooms) != 0 {
		t.Fatalf("rooms after the grace: %v", w)
	}
}

func TestUserForgottenAfterIdle(t *testing.T) {
	th := newTestHub(t, quiet)
	ana := th.client(t, "Ana")
	ana.nc.Close()
	th.waitDetached(t, ana.token)
	th.clock.advance(epchat.DefaultUserIdleTimeout - time.Minute)
	back := dial(t, th.url)
	back.mustCall("welcome", map[string]any{"type": "hello", "token": ana.token})
	back.nc.Close()
	th.waitDetached(t, ana.token)
	// Disconnected again, idle for the full timeout: forgotten.
	th.clock.advance(epchat.DefaultUserIdleTimeout + time.Minute)
	again := dial(t, th.url)
	if e := again.call(map[string]any{"type": "hello", "token": ana.token}); e.str("code") != "session_invalid" {
		t.Fatalf("forgotten token: %v", e)
	}
}

func TestKeepalive(t *testing.T) {
	th := newTestHub(t, epchat.WithReconnectGrace(0))
	ana, ben := th.client(t, "Ana"), th.client(t, "Ben")
	room := th.room(t, ana, ben)
	ben.noPong.Store(true)
	// Both silent for the ping interval: both are pinged; Ana answers.
	th.clock.advance(epchat.DefaultPingInterval)
	ana.mustCall("members", map[string]any{"type": "members", "room": room})
	th.clock.advance(epchat.DefaultPongTimeout)
	if code := ben.closeCode(); code != 4002 {
		t.Fatalf("close code %d, want 4002", code)
	}
	th.waitDetached(t, ben.token)
	th.clock.advance(time.Second) // the grace (0) runs out
	if e := ana.expect("member_left", room); e.str("member") != ben.id {
		t.Fatalf("member_left: %v", e)
	}
}

func TestIdentifyTimeout(t *testing.T) {
	th := newTestHub(t)
	c := dial(t, th.url)
	// A request before hello is answered (so the server has the
	// connection) and does not count as identifying.
	if e := c.call(map[string]any{"type": "create"}); e.str("code") != "not_identified" {
		t.Fatalf("create before hello: %v", e)
	}
	th.clock.advance(epchat.DefaultIdentifyTimeout)
	if code := c.closeCode(); code != 4000 {
		t.Fatalf("close code %d, want 4000", code)
	}
}

func TestHistoryRelay(t *testing.T) {
	th := newTestHub(t, epchat.WithMaxMessageSize(64))
	ana, ben, cid := th.client(t, "Ana"), th.client(t, "Ben"), th.client(t, "Cid")
	room := th.room(t, ana, ben, cid)
	ana.mustCall("ok", map[string]any{"type": "history", "room": room, "to": cid.id, "data": "past"})
	if e := cid.expect("history", room); e.str("from") != ana.id || e.str("data") != "past" {
		t.Fatalf("history: %v", e)
	}
	tests := []struct {
		name string
		from *client
		to   string
		data string
		code string
	}{
		{
			name: "not the owner",
			from: ben,
			to:   cid.id,
			data: "x",
			code: "forbidden",
		},
		{
			name: "to a stranger",
			from: ana,
			to:   "nobody",
			data: "x",
			code: "not_found",
		},
		{
			name: "too large",
			from: ana,
			to:   cid.id,
			data: strings.Repeat("x", 65),
			code: "too_large",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := tt.from.call(map[string]any{"type": "history", "room": room, "to": tt.to, "data": tt.data})
			if e.str("code") != tt.code {
				t.Fatalf("got %v, want %s", e, tt.code)
			}
		})
	}
	ben.none()
	cid.none()
}

func TestHostAPI(t *testing.T) {
	th := newTestHub(t)
	ctx := context.Background()
	nr, err := th.CreateRoom(ctx, epchat.RoomSpec{Invites: 2})
	if err != nil {
		t.Fatal(err)
	}
	if nr.ID == "" || nr.Owner.Token == "" || len(nr.Members) != 2 {
		t.Fatalf("CreateRoom: %+v", nr)
	}
	ben := th.client(t, "Ben")
	j := ben.mustCall("joined", map[string]any{"type": "join", "token": nr.Members[0].Token})
	if j.str("owner") != "" {
		t.Fatalf("owner before the owner joined: %v", j)
	}
	ana := th.client(t, "Ana")
	j = ana.mustCall("joined", map[string]any{"type": "join", "token": nr.Owner.Token})
	if j.str("owner") != ana.id || !slices.Equal(j.memberIDs(), []string{ben.id, ana.id}) {
		t.Fatalf("owner join: %v", j)
	}
	ben.expect("member_joined", nr.ID)
	rooms, err := th.Rooms(ctx)
	if err != nil || len(rooms) != 1 || rooms[0].Members != 2 || rooms[0].ID != nr.ID {
		t.Fatalf("Rooms: %+v, %v", rooms, err)
	}
	if err := th.CloseRoom(ctx, nr.ID); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client{ana, ben} {
		if e := c.expect("room_closed", nr.ID); e.str("reason") != "host" {
			t.Fatalf("room_closed: %v", e)
		}
	}
	if err := th.CloseRoom(ctx, nr.ID); !errors.Is(err, epchat.ErrNotFound) {
		t.Fatalf("second CloseRoom: %v", err)
	}
	if _, err := th.CreateRoom(ctx, epchat.RoomSpec{Invites: epchat.DefaultMaxMembers}); err == nil {
		t.Fatal("CreateRoom with more invites than seats succeeded")
	}
}

func TestHandshake(t *testing.T) {
	th := newTestHub(t,
		epchat.WithOriginPatterns("*.friend.example"),
		epchat.WithAuthorize(func(r *http.Request) (string, error) {
			switch r.Header.Get("X-User") {
			case "banned":
				return "", errors.New("banned")
			case "carol":
				return "Carol (staff)", nil
			}
			return "", nil
		}),
	)
	httpURL := "http" + strings.TrimPrefix(th.url, "ws")
	host := strings.TrimPrefix(th.srv.URL, "http://")
	upgrade := func(method string, hdr map[string]string) *http.Response {
		req, _ := http.NewRequest(method, httpURL, nil)
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		req.Header.Set("Sec-WebSocket-Version", "13")
		for k, v := range hdr {
			if v == "" {
				req.Header.Del(k)
			} else {
				req.Header.Set(k, v)
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	tests := []struct {
		name   string
		method string
		hdr    map[string]string
		want   int
	}{
		{
			name:   "same origin",
			method: "GET",
			hdr:    map[string]string{"Origin": "http://" + host},
			want:   http.StatusSwitchingProtocols,
		},
		{
			name:   "no origin",
			method: "GET",
			want:   http.StatusSwitchingProtocols,
		},
		{
			name:   "allowed pattern",
			method: "GET",
			hdr:    map[string]string{"Origin": "https://app.friend.example"},
			want:   http.StatusSwitchingProtocols,
		},
		{
			name:   "cross-site",
			method: "GET",
			hdr:    map[string]string{"Origin": "https://evil.example"},
			want:   http.StatusForbidden,
		},
		{
			name:   "refused by the host",
			method: "GET",
			hdr:    map[string]string{"X-User": "banned"},
			want:   http.StatusForbidden,
		},
		{
			name:   "wrong method",
			method: "POST",
			want:   http.StatusMethodNotAllowed,
		},
		{
			name:   "missing key",
			method: "GET",
			hdr:    map[string]string{"Sec-WebSocket-Key": ""},
			want:   http.StatusBadRequest,
		},
		{
			name:   "wrong version",
			method: "GET",
			hdr:    map[string]string{"Sec-WebSocket-Version": "8"},
			want:   http.StatusUpgradeRequired,
		},
		{
			name:   "not an upgrade",
			method: "GET",
			hdr:    map[string]string{"Upgrade": "", "Connection": ""},
			want:   http.StatusUpgradeRequired,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if resp := upgrade(tt.method, tt.hdr); resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.want)
			}
		})
	}

	// The host's hook chose the nickname.
	d := ws.Dialer{Header: ws.HandshakeHeaderHTTP(http.Header{"X-User": {"carol"}})}
	nc, _, _, err := d.Dial(context.Background(), th.url)
	if err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, nc: nc}
	c.cond = sync.NewCond(&c.mu)
	go c.readLoop(nc)
	t.Cleanup(func() { nc.Close() })
	w := c.mustCall("welcome", map[string]any{"type": "hello", "nickname": "Mallory"})
	if you, _ := w["you"].(map[string]any); you["nickname"] != "Carol (staff)" {
		t.Fatalf("nickname: %v", w)
	}
}

func TestShutdown(t *testing.T) {
	th := newTestHub(t)
	ana, ben := th.client(t, "Ana"), th.client(t, "Ben")
	room := th.room(t, ana, ben)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := th.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client{ana, ben} {
		if e := c.expect("room_closed", room); e.str("reason") != "shutdown" {
			t.Fatalf("room_closed: %v", e)
		}
		if code := c.closeCode(); code != ws.StatusGoingAway {
			t.Fatalf("close code %d, want 1001", code)
		}
	}
	resp, err := http.Get("http" + strings.TrimPrefix(th.url, "ws"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("after Shutdown: status %d, want 503", resp.StatusCode)
	}
	checkNoHubGoroutines(t)
}

func TestClientClose(t *testing.T) {
	th := newTestHub(t)
	c := th.client(t, "Ana")
	c.writeFrame(ws.OpClose, ws.NewCloseFrameBody(ws.StatusNormalClosure, "bye"))
	if code := c.closeCode(); code != ws.StatusNormalClosure {
		t.Fatalf("close code %d, want 1000", code)
	}
}

func TestOptionsValidated(t *testing.T) {
	tests := []struct {
		name string
		opt  epchat.Option
	}{
		{
			name: "zero members",
			opt:  epchat.WithMaxMembers(0),
		},
		{
			name: "negative invite TTL",
			opt:  epchat.WithInviteTTL(-time.Second),
		},
		{
			name: "negative grace",
			opt:  epchat.WithReconnectGrace(-time.Second),
		},
		{
			name: "zero ping interval",
			opt:  epchat.WithPingInterval(0),
		},
		{
			name: "huge messages",
			opt:  epchat.WithMaxMessageSize(1 << 30),
		},
		{
			name: "send queue below two messages",
			opt:  epchat.WithSendQueueLimit(100),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if h, err := epchat.New(tt.opt); err == nil {
				h.Shutdown(context.Background())
				t.Fatal("New accepted it")
			}
		})
	}
}

// With the poller, an idle member costs no goroutine: 200 members seated
// and silent leave the Hub with the same goroutines as one.
func TestIdleMembersHaveNoGoroutine(t *testing.T) {
	if blockingReads() {
		t.Skip("blocking reads: a goroutine per connection by design")
	}
	// 201 connections from 127.0.0.1: above the default per address.
	th := newTestHub(t, epchat.WithMaxMembers(10), epchat.WithMaxConnectionsPerAddr(1000))
	owner := th.client(t, "Owner")
	th.room(t, owner)
	base := hubGoroutines()
	for r := range 20 {
		o := th.client(t, fmt.Sprint("o", r))
		members := make([]*client, 9)
		for i := range members {
			members[i] = th.client(t, "m")
		}
		th.room(t, o, members...)
	}
	if got := hubGoroutines(); got > base+2 {
		t.Fatalf("hub goroutines: %d with one member, %d with 201 idle members", base, got)
	}
}

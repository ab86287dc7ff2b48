package epchat_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/epchat-go/epchat"
	"github.com/epchat-go/epchat/epchattest"
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
		{
			name: "bidi override",
			nick: "ab\u202ecd",
			want: "invalid_nickname",
		},
		{
			name: "zero-width space",
			nick: "ow\u200bner",
			want: "invalid_nickname",
		},
		{
			name: "invisible",
			nick: "\u3164",
			want: "invalid_nickname",
		},
		{
			name: "stacked marks",
			nick: "a" + strings.Repeat("\u0301", 31),
			want: "invalid_nickname",
		},
		{
			name: "emoji sequence",
			nick: "Ana 👩\u200d💻",
			want: "welcome",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := epchattest.Dial(t, th.url)
			e := c.Call(map[string]any{"type": "hello", "nickname": tt.nick})
			got := e.Type()
			if got == "error" {
				got = e.Str("code")
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
			if len(e.Str("token")) < 43 {
				t.Errorf("session token %q is short", e.Str("token"))
			}
		})
	}
}

// TestNicknameTakenInRoom: a join whose nickname looks like a member's
// (case, look-alike letters) is refused with nickname_taken without
// spending the invite; the nickname is free again once that member left.
func TestNicknameTakenInRoom(t *testing.T) {
	th := newTestHub(t)
	ana, ben := th.client(t, "Alice"), th.client(t, "Ben")
	room := th.room(t, ana, ben)
	tok := ana.MustCall("invite", map[string]any{"type": "invite", "room": room}).Str("token")
	for _, nick := range []string{"Alice", "alice", "AIice", "\u0410lice"} {
		c := th.client(t, nick)
		e := c.Call(map[string]any{"type": "join", "id": "j", "token": tok})
		if e.Type() != "error" || e.Str("code") != "nickname_taken" || e.Str("id") != "j" {
			t.Fatalf("join as %+q beside Alice: %v, want nickname_taken", nick, e)
		}
	}
	ana.None() // nobody joined
	cid := th.client(t, "Cid")
	cid.MustCall("joined", map[string]any{"type": "join", "token": tok}) // not spent
	ana.Expect("member_joined", room)
	ana.MustCall("ok", map[string]any{"type": "leave", "room": room})
	tok = ben.MustCall("invite", map[string]any{"type": "invite", "room": room}).Str("token")
	th.client(t, "alice").MustCall("joined", map[string]any{"type": "join", "token": tok})
}

func TestRequestErrors(t *testing.T) {
	th := newTestHub(t)
	c := epchattest.Dial(t, th.url)
	if e := c.Call(map[string]any{"type": "create"}); e.Str("code") != "not_identified" {
		t.Fatalf("create before hello: %v", e)
	}
	c.Hello("Ana")
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
			c.SendRaw(tt.raw)
			e := c.Take("error", func(e epchattest.Event) bool { return e.Type() == "error" })
			if e.Str("code") != tt.code || e.Str("id") != tt.id {
				t.Fatalf("got %v, want code %s id %q", e, tt.code, tt.id)
			}
			if e.Str("message") == "" {
				t.Error("error without a message")
			}
		})
	}
	// The connection still works.
	c.MustCall("joined", map[string]any{"type": "create"})
}

// TestRequiredFields: a request without a field PROTOCOL.md requires is
// refused with bad_request naming it, whatever room it names, and does
// nothing: a send without text relays no empty message.
func TestRequiredFields(t *testing.T) {
	th := newTestHub(t)
	ana, ben := th.client(t, "Ana"), th.client(t, "Ben")
	room := th.room(t, ana, ben)
	tests := []struct {
		name string
		req  map[string]any
	}{
		{
			name: "send without text",
			req:  map[string]any{"type": "send", "room": room},
		},
		{
			name: "send with a null text",
			req:  map[string]any{"type": "send", "room": room, "text": nil},
		},
		{
			name: "send without room",
			req:  map[string]any{"type": "send", "text": "hi"},
		},
		{
			name: "send with an empty room",
			req:  map[string]any{"type": "send", "room": "", "text": "hi"},
		},
		{
			name: "history without to",
			req:  map[string]any{"type": "history", "room": room, "data": "d"},
		},
		{
			name: "history without data",
			req:  map[string]any{"type": "history", "room": room, "to": ben.ID},
		},
		{
			name: "history without room",
			req:  map[string]any{"type": "history", "to": ben.ID, "data": "d"},
		},
		{
			name: "invite without room",
			req:  map[string]any{"type": "invite"},
		},
		{
			name: "members without room",
			req:  map[string]any{"type": "members"},
		},
		{
			name: "leave without room",
			req:  map[string]any{"type": "leave"},
		},
		{
			name: "close without room",
			req:  map[string]any{"type": "close"},
		},
		{
			name: "join without token",
			req:  map[string]any{"type": "join"},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := fmt.Sprintf("r%d", i)
			tt.req["id"] = id
			e := ana.Call(tt.req)
			if e.Type() != "error" || e.Str("code") != "bad_request" || e.Str("id") != id {
				t.Fatalf("got %v, want bad_request with id %s", e, id)
			}
		})
	}
	// Nothing reached Ben; an empty text is still a message.
	ana.MustCall("sent", map[string]any{"type": "send", "room": room, "text": ""})
	expectText(t, ben, room, "")
	ben.None()
}

// TestErrorKeepsIDAfterWrongType: a field of the wrong type before the id
// does not lose it.
func TestErrorKeepsIDAfterWrongType(t *testing.T) {
	th := newTestHub(t)
	c := th.client(t, "Ana")
	for _, raw := range []string{
		`{"type":7,"id":"o2"}`,
		`{"type":"send","room":["r"],"text":{},"id":"o2"}`,
	} {
		c.SendRaw(raw)
		e := c.Take("error", func(e epchattest.Event) bool { return e.Type() == "error" })
		if e.Str("code") != "bad_request" || e.Str("id") != "o2" {
			t.Fatalf("%s: got %v, want bad_request with id o2", raw, e)
		}
	}
}

func TestRoomLifecycle(t *testing.T) {
	th := newTestHub(t)
	ana, ben, cid := th.client(t, "Ana"), th.client(t, "Ben"), th.client(t, "Cid")

	joined := ana.MustCall("joined", map[string]any{"type": "create"})
	room := joined.Str("room")
	if joined.Str("owner") != ana.ID || !slices.Equal(joined.MemberIDs(), []string{ana.ID}) {
		t.Fatalf("create: %v", joined)
	}

	inv := ana.MustCall("invite", map[string]any{"type": "invite", "room": room})
	if inv.Str("room") != room || inv.Num("expires") != th.clock.Now().Add(epchat.DefaultInviteTTL).UnixMilli() {
		t.Fatalf("invite: %v", inv)
	}
	j := ben.MustCall("joined", map[string]any{"type": "join", "token": inv.Str("token")})
	if j.Str("room") != room || j.Str("owner") != ana.ID || !slices.Equal(j.MemberIDs(), []string{ana.ID, ben.ID}) {
		t.Fatalf("join: %v", j)
	}
	mj := ana.Expect("member_joined", room)
	if m, _ := mj["member"].(map[string]any); m["id"] != ben.ID || m["nickname"] != "Ben" {
		t.Fatalf("member_joined: %v", mj)
	}

	// Only the owner invites; non-members are told the room does not exist.
	if e := ben.Call(map[string]any{"type": "invite", "room": room}); e.Str("code") != "forbidden" {
		t.Fatalf("invite by a member: %v", e)
	}
	if e := cid.Call(map[string]any{"type": "send", "room": room, "text": "hi"}); e.Str("code") != "not_found" {
		t.Fatalf("send by a stranger: %v", e)
	}
	if e := cid.Call(map[string]any{"type": "members", "room": room}); e.Str("code") != "not_found" {
		t.Fatalf("members by a stranger: %v", e)
	}

	// A message reaches the others with sender, seq and time; the sender
	// gets sent, not an echo.
	sent := ana.MustCall("sent", map[string]any{"type": "send", "room": room, "text": "hello ben"})
	msg := ben.Expect("message", room)
	if msg.Str("from") != ana.ID || msg.Str("text") != "hello ben" || msg.Num("seq") != 1 ||
		msg.Num("ts") != th.clock.Now().UnixMilli() || sent.Num("seq") != 1 || sent.Num("ts") != msg.Num("ts") {
		t.Fatalf("sent %v, message %v", sent, msg)
	}
	ana.None()

	tok := ana.MustCall("invite", map[string]any{"type": "invite", "room": room}).Str("token")
	cid.MustCall("joined", map[string]any{"type": "join", "token": tok})
	ana.Expect("member_joined", room)
	ben.Expect("member_joined", room)

	ms := ben.MustCall("members", map[string]any{"type": "members", "room": room})
	if !slices.Equal(ms.MemberIDs(), []string{ana.ID, ben.ID, cid.ID}) || ms.Str("owner") != ana.ID || ms.Num("seq") != 1 {
		t.Fatalf("members: %v", ms)
	}

	// The owner leaves: ownership passes to the earliest-joined member.
	ana.MustCall("ok", map[string]any{"type": "leave", "room": room})
	for _, c := range []*epchattest.Client{ben, cid} {
		if e := c.Expect("member_left", room); e.Str("member") != ana.ID || e.Str("reason") != "left" {
			t.Fatalf("member_left: %v", e)
		}
		if e := c.Expect("owner_changed", room); e.Str("owner") != ben.ID {
			t.Fatalf("owner_changed: %v", e)
		}
	}
	// Ana is no longer in the room.
	if e := ana.Call(map[string]any{"type": "send", "room": room, "text": "x"}); e.Str("code") != "not_found" {
		t.Fatalf("send after leave: %v", e)
	}

	// Cid may not close; Ben, the new owner, may.
	if e := cid.Call(map[string]any{"type": "close", "room": room}); e.Str("code") != "forbidden" {
		t.Fatalf("close by a member: %v", e)
	}
	spare := ben.MustCall("invite", map[string]any{"type": "invite", "room": room}).Str("token")
	ben.MustCall("ok", map[string]any{"type": "close", "room": room})
	for _, c := range []*epchattest.Client{ben, cid} {
		if e := c.Expect("room_closed", room); e.Str("reason") != "owner" {
			t.Fatalf("room_closed: %v", e)
		}
	}
	// Nothing of the room remains: its invite is dead, it is not listed.
	if e := ana.Call(map[string]any{"type": "join", "token": spare}); e.Str("code") != "invite_invalid" {
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
	ben.MustCall("ok", map[string]any{"type": "leave", "room": room})
	ana.Expect("member_left", room)
	ana.MustCall("ok", map[string]any{"type": "leave", "room": room})
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
		ana.Send(map[string]any{"type": "send", "room": room, "text": fmt.Sprint(i)})
	}
	last := map[string]int64{}
	for i := range n {
		e := ben.Expect("message", "")
		if e.Str("text") != fmt.Sprint(i) {
			t.Fatalf("message %d: got %v", i, e)
		}
		room := e.Str("room")
		if want := map[bool]string{true: r1, false: r2}[i%2 == 0]; room != want {
			t.Fatalf("message %d in room %s, want %s", i, room, want)
		}
		if e.Num("seq") != last[room]+1 {
			t.Fatalf("room %s: seq %d after %d", room, e.Num("seq"), last[room])
		}
		last[room] = e.Num("seq")
	}
}

func TestTooLargeText(t *testing.T) {
	th := newTestHub(t, epchat.WithMaxMessageSize(100))
	ana, ben := th.client(t, "Ana"), th.client(t, "Ben")
	room := th.room(t, ana, ben)
	if e := ana.Call(map[string]any{"type": "send", "room": room, "text": strings.Repeat("x", 101)}); e.Str("code") != "too_large" {
		t.Fatalf("101 bytes: %v", e)
	}
	ana.MustCall("sent", map[string]any{"type": "send", "room": room, "text": strings.Repeat("x", 100)})
	if e := ben.Expect("message", room); len(e.Str("text")) != 100 {
		t.Fatalf("100 bytes: %v", e)
	}
	ben.None()
}

func TestInviteRules(t *testing.T) {
	th := newTestHub(t, epchat.WithMaxMembers(3), quiet)
	ana, ben, cid, dan := th.client(t, "Ana"), th.client(t, "Ben"), th.client(t, "Cid"), th.client(t, "Dan")
	room := ana.MustCall("joined", map[string]any{"type": "create"}).Str("room")
	invite := func() string {
		return ana.MustCall("invite", map[string]any{"type": "invite", "room": room}).Str("token")
	}

	// One time only.
	tok := invite()
	ben.MustCall("joined", map[string]any{"type": "join", "token": tok})
	if e := cid.Call(map[string]any{"type": "join", "token": tok}); e.Str("code") != "invite_invalid" {
		t.Fatalf("used invite: %v", e)
	}
	// Unknown tokens get the same answer.
	if e := cid.Call(map[string]any{"type": "join", "token": "not-a-token"}); e.Str("code") != "invite_invalid" {
		t.Fatalf("unknown invite: %v", e)
	}
	// Expired after the invite TTL, not before.
	late := invite()
	th.clock.Advance(epchat.DefaultInviteTTL - time.Millisecond)
	early := invite()
	th.clock.Advance(time.Millisecond)
	if e := cid.Call(map[string]any{"type": "join", "token": late}); e.Str("code") != "invite_invalid" {
		t.Fatalf("expired invite: %v", e)
	}
	// Pending invites are capped at the member limit (3).
	invite()
	invite()
	if e := ana.Call(map[string]any{"type": "invite", "room": room}); e.Str("code") != "too_many_invites" {
		t.Fatalf("fourth pending invite: %v", e)
	}
	cid.MustCall("joined", map[string]any{"type": "join", "token": early})
	// Full room: no invite is made, and pending ones do not seat anyone.
	if e := ana.Call(map[string]any{"type": "invite", "room": room}); e.Str("code") != "room_full" {
		t.Fatalf("invite to a full room: %v", e)
	}
	ben.MustCall("ok", map[string]any{"type": "leave", "room": room})
	tok = invite()
	cid.MustCall("ok", map[string]any{"type": "leave", "room": room})
	if e := ana.Call(map[string]any{"type": "join", "token": tok}); e.Str("code") != "already_member" {
		t.Fatalf("owner redeeming own invite: %v", e)
	}
	dan.MustCall("joined", map[string]any{"type": "join", "token": tok})
}

// TestWelcomeTellsLimits checks that welcome tells the limits a client
// runs into, new or returning, and that they are the limits applied: a
// text of max_message bytes is sent and one byte more is too_large; a room
// seats max_members and no more.
func TestWelcomeTellsLimits(t *testing.T) {
	tests := []struct {
		name       string
		opts       []epchat.Option
		maxMessage int
		maxMembers int
		roomIdle   time.Duration
	}{
		{
			name:       "defaults",
			maxMessage: epchat.DefaultMaxMessageSize,
			maxMembers: epchat.DefaultMaxMembers,
			roomIdle:   epchat.DefaultRoomIdleTimeout,
		},
		{
			name:       "set by options",
			opts:       []epchat.Option{epchat.WithMaxMessageSize(100), epchat.WithMaxMembers(3), epchat.WithRoomIdleTimeout(90 * time.Second)},
			maxMessage: 100,
			maxMembers: 3,
			roomIdle:   90 * time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			th := newTestHub(t, tt.opts...)
			want := map[string]any{"max_message": float64(tt.maxMessage), "max_members": float64(tt.maxMembers), "room_idle": tt.roomIdle.Seconds()}
			ana := epchattest.Dial(t, th.url)
			if got := ana.Hello("Ana")["limits"]; !reflect.DeepEqual(got, want) {
				t.Fatalf("welcome limits = %v, want %v", got, want)
			}
			again := epchattest.Dial(t, th.url)
			w := again.MustCall("welcome", map[string]any{"type": "hello", "token": ana.Token})
			if got := w["limits"]; !reflect.DeepEqual(got, want) {
				t.Fatalf("welcome limits on return = %v, want %v", got, want)
			}

			room := ana.MustCall("joined", map[string]any{"type": "create"}).Str("room")
			ana.MustCall("sent", map[string]any{"type": "send", "room": room, "text": strings.Repeat("x", tt.maxMessage)})
			if e := ana.Call(map[string]any{"type": "send", "room": room, "text": strings.Repeat("x", tt.maxMessage+1)}); e.Str("code") != "too_large" {
				t.Fatalf("a text of max_message+1 bytes: %v", e)
			}
			for i := 1; i < tt.maxMembers; i++ {
				tok := ana.MustCall("invite", map[string]any{"type": "invite", "room": room}).Str("token")
				th.client(t, fmt.Sprintf("M%d", i)).MustCall("joined", map[string]any{"type": "join", "token": tok})
			}
			if e := ana.Call(map[string]any{"type": "invite", "room": room}); e.Str("code") != "room_full" {
				t.Fatalf("invite with max_members seated: %v", e)
			}
		})
	}
}

// TestInviteTellsServerTime checks that an invite reply carries the
// server's clock, from which expires is the invite TTL away, so that a
// client can count down without trusting its own clock.
func TestInviteTellsServerTime(t *testing.T) {
	tests := []struct {
		name string
		opts []epchat.Option
		ttl  time.Duration
	}{
		{
			name: "default TTL",
			ttl:  epchat.DefaultInviteTTL,
		},
		{
			name: "TTL set by option",
			opts: []epchat.Option{epchat.WithInviteTTL(90 * time.Second)},
			ttl:  90 * time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			th := newTestHub(t, append(tt.opts, quiet)...)
			ana := th.client(t, "Ana")
			room := ana.MustCall("joined", map[string]any{"type": "create"}).Str("room")
			// The Hub's clock is not the machine's (newClock), and moves
			// while the machine's does not; 7 minutes keep the room open.
			for _, step := range []time.Duration{0, 7 * time.Minute} {
				th.clock.Advance(step)
				inv := ana.MustCall("invite", map[string]any{"type": "invite", "room": room})
				now := th.clock.Now()
				if inv.Num("now") != now.UnixMilli() || inv.Num("expires") != now.Add(tt.ttl).UnixMilli() {
					t.Fatalf("invite at %v: now %d, expires %d; want %d and %d", now, inv.Num("now"), inv.Num("expires"), now.UnixMilli(), now.Add(tt.ttl).UnixMilli())
				}
			}
		})
	}
}

// TestRefusedJoinKeepsInvite checks what PROTOCOL.md promises: a join
// refused with room_full, already_member or too_many_rooms does not spend
// the invite, which seats its holder once the cause is gone.
func TestRefusedJoinKeepsInvite(t *testing.T) {
	tests := []struct {
		name string
		opts []epchat.Option
		code string
		// refuse makes ben's join with tok refused, and returns what
		// lifts the refusal.
		refuse func(t *testing.T, th *testHub, ana, ben *epchattest.Client, room string) (lift func())
	}{
		{
			name: "room_full",
			opts: []epchat.Option{epchat.WithMaxMembers(2)},
			code: "room_full",
			refuse: func(t *testing.T, th *testHub, ana, ben *epchattest.Client, room string) func() {
				cid := th.client(t, "Cid")
				seat := ana.MustCall("invite", map[string]any{"type": "invite", "room": room}).Str("token")
				cid.MustCall("joined", map[string]any{"type": "join", "token": seat})
				return func() { cid.MustCall("ok", map[string]any{"type": "leave", "room": room}) }
			},
		},
		{
			name: "already_member",
			code: "already_member",
			refuse: func(t *testing.T, th *testHub, ana, ben *epchattest.Client, room string) func() {
				seat := ana.MustCall("invite", map[string]any{"type": "invite", "room": room}).Str("token")
				ben.MustCall("joined", map[string]any{"type": "join", "token": seat})
				return func() { ben.MustCall("ok", map[string]any{"type": "leave", "room": room}) }
			},
		},
		{
			name: "too_many_rooms",
			opts: []epchat.Option{epchat.WithMaxRoomsPerUser(1)},
			code: "too_many_rooms",
			refuse: func(t *testing.T, th *testHub, ana, ben *epchattest.Client, room string) func() {
				own := ben.MustCall("joined", map[string]any{"type": "create"}).Str("room")
				return func() { ben.MustCall("ok", map[string]any{"type": "leave", "room": own}) }
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			th := newTestHub(t, tt.opts...)
			ana, ben := th.client(t, "Ana"), th.client(t, "Ben")
			room := ana.MustCall("joined", map[string]any{"type": "create"}).Str("room")
			tok := ana.MustCall("invite", map[string]any{"type": "invite", "room": room}).Str("token")
			lift := tt.refuse(t, th, ana, ben, room)
			if e := ben.Call(map[string]any{"type": "join", "token": tok}); e.Str("code") != tt.code {
				t.Fatalf("join: %v, want %s", e, tt.code)
			}
			lift()
			if e := ben.Call(map[string]any{"type": "join", "token": tok}); e.Type() != "joined" || e.Str("room") != room {
				t.Fatalf("join with the same invite once the cause is gone: %v", e)
			}
		})
	}
}

// A room never exceeds its limit and a token works once, whatever the race.
func TestJoinRaces(t *testing.T) {
	t.Run("50 joins with one token", func(t *testing.T) {
		// 49 losers share 127.0.0.1: above the default token guess
		// limit per address, which has its own test.
		th := newTestHub(t, epchat.WithMaxMembers(60), epchat.WithTokenGuessLimit(100, time.Minute))
		ana := th.client(t, "Ana")
		room := ana.MustCall("joined", map[string]any{"type": "create"}).Str("room")
		tok := ana.MustCall("invite", map[string]any{"type": "invite", "room": room}).Str("token")
		wins := raceJoins(t, th, 50, func(int) string { return tok })
		if wins != 1 {
			t.Fatalf("%d joins won with one token, want 1", wins)
		}
	})
	t.Run("20 tokens for the last seat", func(t *testing.T) {
		th := newTestHub(t, epchat.WithMaxMembers(21))
		ana := th.client(t, "Ana")
		room := ana.MustCall("joined", map[string]any{"type": "create"}).Str("room")
		var toks []string
		for range 20 {
			toks = append(toks, ana.MustCall("invite", map[string]any{"type": "invite", "room": room}).Str("token"))
		}
		// Fill all seats but one.
		filler := make([]*epchattest.Client, 19)
		for i := range filler {
			filler[i] = th.client(t, fmt.Sprint("F", i))
			filler[i].MustCall("joined", map[string]any{"type": "join", "token": toks[i]})
		}
		// One invite is left pending; 20 more make 21, the cap.
		var race []string
		for range 20 {
			race = append(race, ana.MustCall("invite", map[string]any{"type": "invite", "room": room}).Str("token"))
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

// slowRedeem stands for a networked store: its Redeem answers a while
// after the seat, so racing joins are seated before any joiner reads its
// room again.
type slowRedeem struct{ *epchat.MemoryStore }

func (s slowRedeem) Redeem(ctx context.Context, token epchat.TokenHash, m epchat.Member, now time.Time, maxRooms int) (epchat.Room, error) {
	r, err := s.MemoryStore.Redeem(ctx, token, m, now, maxRooms)
	time.Sleep(10 * time.Millisecond)
	return r, err
}

// TestJoinedMembersInJoinOrder: under racing joins, each joiner's joined
// lists the members in join order up to it, it last; it learns of the
// members seated after it through member_joined.
func TestJoinedMembersInJoinOrder(t *testing.T) {
	const n = 8
	th := newTestHub(t, epchat.WithMaxMembers(n+1), epchat.WithStore(slowRedeem{epchat.NewMemoryStore()}))
	ana := th.client(t, "Ana")
	room := ana.MustCall("joined", map[string]any{"type": "create"}).Str("room")
	toks := make([]string, n)
	joiners := make([]*epchattest.Client, n)
	for i := range n {
		toks[i] = ana.MustCall("invite", map[string]any{"type": "invite", "room": room}).Str("token")
		joiners[i] = th.client(t, fmt.Sprint("J", i))
	}
	lists := make([][]string, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, c := range joiners {
		wg.Go(func() {
			<-start
			e := c.Call(map[string]any{"type": "join", "token": toks[i]})
			ms, _ := e["members"].([]any)
			for _, m := range ms {
				id, _ := m.(map[string]any)["id"].(string)
				lists[i] = append(lists[i], id)
			}
		})
	}
	close(start)
	wg.Wait()
	var order []string
	for _, m := range ana.MustCall("members", map[string]any{"type": "members", "room": room})["members"].([]any) {
		order = append(order, m.(map[string]any)["id"].(string))
	}
	for i, c := range joiners {
		at := slices.Index(order, c.ID)
		if want := order[:at+1]; !slices.Equal(lists[i], want) {
			t.Errorf("joiner %d got members %v, want %v (final order %v)", i, lists[i], want, order)
		}
		for _, later := range order[at+1:] {
			c.Take("member_joined of "+later, func(e epchattest.Event) bool {
				m, _ := e["member"].(map[string]any)
				return e.Type() == "member_joined" && m["id"] == later
			})
		}
	}
}

func raceJoins(t *testing.T, th *testHub, n int, token func(int) string) int {
	clients := make([]*epchattest.Client, n)
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
			e := c.Call(map[string]any{"type": "join", "token": token(i)})
			switch {
			case e.Type() == "joined":
				mu.Lock()
				wins++
				mu.Unlock()
			case e.Str("code") != "invite_invalid" && e.Str("code") != "room_full":
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
	th.clock.Advance(9 * time.Minute)
	ana.MustCall("sent", map[string]any{"type": "send", "room": room, "text": "still here"})
	ben.Expect("message", room)
	th.clock.Advance(9 * time.Minute) // 9 minutes after the last message
	ben.MustCall("members", map[string]any{"type": "members", "room": room})
	th.clock.Advance(time.Minute + time.Second)
	for _, c := range []*epchattest.Client{ana, ben} {
		if e := c.Expect("room_closed", room); e.Str("reason") != "idle" {
			t.Fatalf("room_closed: %v", e)
		}
	}
	if e := ana.Call(map[string]any{"type": "send", "room": room, "text": "x"}); e.Str("code") != "not_found" {
		t.Fatalf("send to an idle-closed room: %v", e)
	}
}

func TestReconnectWithinGrace(t *testing.T) {
	th := newTestHub(t, quiet)
	ana, ben := th.client(t, "Ana"), th.client(t, "Ben")
	room := th.room(t, ana, ben)
	ben.Conn.Close() // a page reload
	th.clock.Advance(epchat.DefaultReconnectGrace - time.Second)

	back := epchattest.Dial(t, th.url)
	w := back.MustCall("welcome", map[string]any{"type": "hello", "token": ben.Token})
	if you, _ := w["you"].(map[string]any); you["id"] != ben.ID || you["nickname"] != "Ben" || w.Str("token") != "" {
		t.Fatalf("resume: %v", w)
	}
	rooms, _ := w["rooms"].([]any)
	if len(rooms) != 1 {
		t.Fatalf("resume rooms: %v", w)
	}
	if r, _ := rooms[0].(map[string]any); r["room"] != room || r["owner"] != ana.ID {
		t.Fatalf("resume room: %v", rooms[0])
	}
	th.clock.Advance(2 * epchat.DefaultReconnectGrace) // the grace no longer matters
	ana.MustCall("sent", map[string]any{"type": "send", "room": room, "text": "welcome back"})
	if e := back.Expect("message", room); e.Str("text") != "welcome back" {
		t.Fatalf("message after resume: %v", e)
	}
	ana.None() // no member_left, no member_joined
}

func TestSeatsFreedAfterGrace(t *testing.T) {
	th := newTestHub(t, quiet)
	ana, ben := th.client(t, "Ana"), th.client(t, "Ben")
	room := th.room(t, ana, ben)
	ana.Conn.Close()
	th.waitDetached(t, ana.Token)
	th.clock.Advance(epchat.DefaultReconnectGrace + time.Second)
	e := ben.Expect("member_left", room)
	if e.Str("member") != ana.ID || e.Str("reason") != "disconnected" {
		t.Fatalf("member_left: %v", e)
	}
	if e := ben.Expect("owner_changed", room); e.Str("owner") != ben.ID {
		t.Fatalf("owner_changed: %v", e)
	}
	// The session itself still works, without the seat.
	back := epchattest.Dial(t, th.url)
	w := back.MustCall("welcome", map[string]any{"type": "hello", "token": ana.Token})
	if rooms, _ := w["rooms"].([]any); len(rooms) != 0 {
		t.Fatalf("rooms after the grace: %v", w)
	}
}

// TestUserForgottenAfterIdle: the user idle rule, alone (the seatless
// rule, which would forget this user in no room sooner, is set as long).
func TestUserForgottenAfterIdle(t *testing.T) {
	th := newTestHub(t, quiet, epchat.WithSeatlessUserTimeout(epchat.DefaultUserIdleTimeout))
	ana := th.client(t, "Ana")
	ana.Conn.Close()
	th.waitDetached(t, ana.Token)
	th.clock.Advance(epchat.DefaultUserIdleTimeout - time.Minute)
	back := epchattest.Dial(t, th.url)
	back.MustCall("welcome", map[string]any{"type": "hello", "token": ana.Token})
	back.Conn.Close()
	th.waitDetached(t, ana.Token)
	// Disconnected again, idle for the full timeout: forgotten.
	th.clock.Advance(epchat.DefaultUserIdleTimeout + time.Minute)
	again := epchattest.Dial(t, th.url)
	if e := again.Call(map[string]any{"type": "hello", "token": ana.Token}); e.Str("code") != "session_invalid" {
		t.Fatalf("forgotten token: %v", e)
	}
}

func TestKeepalive(t *testing.T) {
	th := newTestHub(t, epchat.WithReconnectGrace(0))
	ana, ben := th.client(t, "Ana"), th.client(t, "Ben")
	room := th.room(t, ana, ben)
	ben.NoPong.Store(true)
	// Both silent for the ping interval: both are pinged; Ana answers.
	th.clock.Advance(epchat.DefaultPingInterval)
	ana.MustCall("members", map[string]any{"type": "members", "room": room})
	th.clock.Advance(epchat.DefaultPongTimeout)
	if code := ben.CloseCode(); code != 4002 {
		t.Fatalf("close code %d, want 4002", code)
	}
	th.waitDetached(t, ben.Token)
	th.clock.Advance(time.Second) // the grace (0) runs out
	if e := ana.Expect("member_left", room); e.Str("member") != ben.ID {
		t.Fatalf("member_left: %v", e)
	}
}

func TestIdentifyTimeout(t *testing.T) {
	th := newTestHub(t)
	c := epchattest.Dial(t, th.url)
	// A request before hello is answered (so the server has the
	// connection) and does not count as identifying.
	if e := c.Call(map[string]any{"type": "create"}); e.Str("code") != "not_identified" {
		t.Fatalf("create before hello: %v", e)
	}
	th.clock.Advance(epchat.DefaultIdentifyTimeout)
	if code := c.CloseCode(); code != 4000 {
		t.Fatalf("close code %d, want 4000", code)
	}
}

func TestHistoryRelay(t *testing.T) {
	th := newTestHub(t, epchat.WithMaxMessageSize(64))
	ana, ben, cid := th.client(t, "Ana"), th.client(t, "Ben"), th.client(t, "Cid")
	room := th.room(t, ana, ben, cid)
	ana.MustCall("ok", map[string]any{"type": "history", "room": room, "to": cid.ID, "data": "past"})
	if e := cid.Expect("history", room); e.Str("from") != ana.ID || e.Str("data") != "past" {
		t.Fatalf("history: %v", e)
	}
	tests := []struct {
		name string
		from *epchattest.Client
		to   string
		data string
		code string
	}{
		{
			name: "not the owner",
			from: ben,
			to:   cid.ID,
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
			to:   cid.ID,
			data: strings.Repeat("x", 65),
			code: "too_large",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := tt.from.Call(map[string]any{"type": "history", "room": room, "to": tt.to, "data": tt.data})
			if e.Str("code") != tt.code {
				t.Fatalf("got %v, want %s", e, tt.code)
			}
		})
	}
	ben.None()
	cid.None()
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
	j := ben.MustCall("joined", map[string]any{"type": "join", "token": nr.Members[0].Token})
	if j.Str("owner") != "" {
		t.Fatalf("owner before the owner joined: %v", j)
	}
	ana := th.client(t, "Ana")
	j = ana.MustCall("joined", map[string]any{"type": "join", "token": nr.Owner.Token})
	if j.Str("owner") != ana.ID || !slices.Equal(j.MemberIDs(), []string{ben.ID, ana.ID}) {
		t.Fatalf("owner join: %v", j)
	}
	ben.Expect("member_joined", nr.ID)
	rooms, err := th.Rooms(ctx)
	if err != nil || len(rooms) != 1 || rooms[0].Members != 2 || rooms[0].ID != nr.ID {
		t.Fatalf("Rooms: %+v, %v", rooms, err)
	}
	if err := th.CloseRoom(ctx, nr.ID); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*epchattest.Client{ana, ben} {
		if e := c.Expect("room_closed", nr.ID); e.Str("reason") != "host" {
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
	c, err := epchattest.DialHeader(t, th.url, http.Header{"X-User": {"carol"}})
	if err != nil {
		t.Fatal(err)
	}
	w := c.MustCall("welcome", map[string]any{"type": "hello", "nickname": "Mallory"})
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
	for _, c := range []*epchattest.Client{ana, ben} {
		if e := c.Expect("room_closed", room); e.Str("reason") != "shutdown" {
			t.Fatalf("room_closed: %v", e)
		}
		if code := c.CloseCode(); code != ws.StatusGoingAway {
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
	c.WriteFrame(ws.OpClose, ws.NewCloseFrameBody(ws.StatusNormalClosure, "bye"))
	if code := c.CloseCode(); code != ws.StatusNormalClosure {
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
		{
			name: "send queue over 1 GiB",
			opt:  epchat.WithSendQueueLimit(1<<30 + 1),
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
	base := len(hubGoroutines())
	for r := range 20 {
		o := th.client(t, fmt.Sprint("o", r))
		members := make([]*epchattest.Client, 9)
		for i := range members {
			members[i] = th.client(t, fmt.Sprint("m", i))
		}
		th.room(t, o, members...)
	}
	if got := hubGoroutines(); len(got) > base+2 {
		t.Fatalf("hub goroutines: %d with one member, %d with 201 idle members:\n%s", base, len(got), strings.Join(got, "\n\n"))
	}
}

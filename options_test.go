package epchat_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/epchat-go/epchat"
	"github.com/epchat-go/epchat/epchattest"
)

// The tests of this file set one option to a value other than its default
// and check the rule it changes, as a client sees it, on both sides of the
// set value. Each table holds a value below the default and one above it,
// so a Hub that ignored the option fails one of the two.

func TestWithRoomIdleTimeout(t *testing.T) {
	tests := []struct {
		name string
		idle time.Duration
	}{
		{
			name: "shorter than the default",
			idle: 2 * time.Minute,
		},
		{
			name: "longer than the default",
			idle: 30 * time.Minute,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			th := newTestHub(t, quiet, epchat.WithRoomIdleTimeout(tt.idle))
			ana, ben := th.client(t, "Ana"), th.client(t, "Ben")
			room := th.room(t, ana, ben)
			// A message halfway restarts the count: the room is idle from
			// there, not from its creation.
			th.clock.Advance(tt.idle / 2)
			ana.MustCall("sent", map[string]any{"type": "send", "room": room, "text": "still here"})
			ben.Expect("message", room)

			th.clock.Advance(tt.idle - time.Second)
			ben.MustCall("members", map[string]any{"type": "members", "room": room})
			ana.None()

			// The sweep runs every second, so the room closes within a
			// second after the timeout.
			th.clock.Advance(2 * time.Second)
			for _, c := range []*epchattest.Client{ana, ben} {
				if e := c.Expect("room_closed", room); e.Str("reason") != "idle" {
					t.Fatalf("room_closed: %v", e)
				}
			}
			if e := ben.Call(map[string]any{"type": "members", "room": room}); e.Str("code") != "not_found" {
				t.Fatalf("members of an idle-closed room: %v", e)
			}
		})
	}
}

func TestWithUserIdleTimeout(t *testing.T) {
	tests := []struct {
		name string
		idle time.Duration
	}{
		{
			name: "shorter than the default",
			idle: time.Hour,
		},
		{
			name: "longer than the default",
			idle: 10 * 24 * time.Hour,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			th := newTestHub(t, quiet, epchat.WithUserIdleTimeout(tt.idle), epchat.WithSeatlessUserTimeout(tt.idle))
			// Both leave at once. Ana comes back just before the timeout;
			// Ben, who does not, is forgotten just after it. Idle users
			// are swept once a minute.
			ana, ben := th.client(t, "Ana"), th.client(t, "Ben")
			for _, c := range []*epchattest.Client{ana, ben} {
				c.Conn.Close()
				th.waitDetached(t, c.Token)
			}

			th.clock.Advance(tt.idle - time.Minute)
			back := epchattest.Dial(t, th.url)
			w := back.MustCall("welcome", map[string]any{"type": "hello", "token": ana.Token})
			if you, _ := w["you"].(map[string]any); you["id"] != ana.ID {
				t.Fatalf("resumed as %v, want %s", w, ana.ID)
			}

			th.clock.Advance(2 * time.Minute)
			again := epchattest.Dial(t, th.url)
			if e := again.Call(map[string]any{"type": "hello", "token": ben.Token}); e.Str("code") != "session_invalid" {
				t.Fatalf("hello %v after %v idle: %v", ben.ID, tt.idle+time.Minute, e)
			}
		})
	}
}

func TestWithIdentifyTimeout(t *testing.T) {
	tests := []struct {
		name    string
		timeout time.Duration
	}{
		{
			name:    "shorter than the default",
			timeout: 3 * time.Second,
		},
		{
			name:    "longer than the default",
			timeout: time.Minute,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			th := newTestHub(t, quiet, epchat.WithIdentifyTimeout(tt.timeout))
			c := epchattest.Dial(t, th.url)
			// A reply proves the Hub holds the connection; a request other
			// than hello does not identify it.
			notIdentified := func(when string) {
				t.Helper()
				if e := c.Call(map[string]any{"type": "create"}); e.Str("code") != "not_identified" {
					t.Fatalf("create %s: %v", when, e)
				}
			}
			notIdentified("at once")
			th.clock.Advance(tt.timeout - time.Second)
			notIdentified(fmt.Sprintf("%v after connecting", tt.timeout-time.Second))

			th.clock.Advance(time.Second)
			if code := c.CloseCode(); code != 4000 {
				t.Fatalf("close code %d, want 4000", code)
			}
		})
	}
}

func TestWithMaxRoomsPerUser(t *testing.T) {
	tests := []struct {
		name string
		max  int
	}{
		{
			name: "fewer than the default",
			max:  2,
		},
		{
			name: "more than the default",
			max:  25,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			th := newTestHub(t, epchat.WithMaxRoomsPerUser(tt.max))
			ana, ben := th.client(t, "Ana"), th.client(t, "Ben")
			var rooms []string
			for i := range tt.max {
				e := ana.Call(map[string]any{"type": "create"})
				if e.Type() != "joined" {
					t.Fatalf("create %d of %d: %v", i+1, tt.max, e)
				}
				rooms = append(rooms, e.Str("room"))
			}
			if e := ana.Call(map[string]any{"type": "create"}); e.Str("code") != "too_many_rooms" {
				t.Fatalf("create beyond %d rooms: %v", tt.max, e)
			}
			other := ben.MustCall("joined", map[string]any{"type": "create"}).Str("room")
			tok := ben.MustCall("invite", map[string]any{"type": "invite", "room": other}).Str("token")
			if e := ana.Call(map[string]any{"type": "join", "token": tok}); e.Str("code") != "too_many_rooms" {
				t.Fatalf("join beyond %d rooms: %v", tt.max, e)
			}
			ben.None() // nobody joined

			// The bound is on seats held now: after leaving a room, the
			// same invite, not spent by the refusal, seats Ana.
			ana.MustCall("ok", map[string]any{"type": "leave", "room": rooms[0]})
			ana.MustCall("joined", map[string]any{"type": "join", "token": tok})
			e := ben.Expect("member_joined", other)
			if m, _ := e["member"].(map[string]any); m["id"] != ana.ID {
				t.Fatalf("member_joined: %v", e)
			}
		})
	}
}

func TestWithSeatlessUserTimeout(t *testing.T) {
	tests := []struct {
		name     string
		seatless time.Duration
	}{
		{
			name:     "shorter than the default",
			seatless: 3 * time.Minute,
		},
		{
			name:     "longer than the default",
			seatless: 2 * time.Hour,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			th := newTestHub(t, quiet, epchat.WithSeatlessUserTimeout(tt.seatless))
			// Ana, in no room, comes back just before the timeout; once
			// gone again, she is forgotten just after it (idle users are
			// swept once a minute).
			ana := th.client(t, "Ana")
			ana.Conn.Close()
			th.waitDetached(t, ana.Token)
			th.clock.Advance(tt.seatless - time.Minute)
			back := epchattest.Dial(t, th.url)
			back.MustCall("welcome", map[string]any{"type": "hello", "token": ana.Token})
			back.Conn.Close()
			th.waitDetached(t, ana.Token)

			th.clock.Advance(tt.seatless + time.Minute)
			again := epchattest.Dial(t, th.url)
			if e := again.Call(map[string]any{"type": "hello", "token": ana.Token}); e.Str("code") != "session_invalid" {
				t.Fatalf("hello after %v in no room: %v", tt.seatless+time.Minute, e)
			}
		})
	}
}

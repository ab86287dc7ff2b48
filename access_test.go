package epchat_test

import (
	"testing"

	"github.com/epchat-go/epchat"
)

// TestAccessRules: only the owner invites, closes and sends history; only
// members send, list and leave; a stranger cannot tell a room it is not in
// from one that does not exist.
func TestAccessRules(t *testing.T) {
	hh := newHardHub(t, epchat.WithRequestRate(1000, 1000))
	ana, ben, cid := hh.client(t, "nick-ana-access"), hh.client(t, "nick-ben-access"), hh.client(t, "nick-cid-access")
	room := hh.testHub.room(t, ana, ben)
	anon := dial(t, hh.url)
	tests := []struct {
		name string
		by   *client
		req  map[string]any
		code string
	}{
		{
			name: "member invites",
			by:   ben,
			req:  map[string]any{"type": "invite", "room": room},
			code: "forbidden",
		},
		{
			name: "stranger invites",
			by:   cid,
			req:  map[string]any{"type": "invite", "room": room},
			code: "not_found",
		},
		{
			name: "stranger invites to no room",
			by:   cid,
			req:  map[string]any{"type": "invite", "room": "no-such-room"},
			code: "not_found",
		},
		{
			name: "member closes",
			by:   ben,
			req:  map[string]any{"type": "close", "room": room},
			code: "forbidden",
		},
		{
			name: "stranger closes",
			by:   cid,
			req:  map[string]any{"type": "close", "room": room},
			code: "not_found",
		},
		{
			name: "member sends history",
			by:   ben,
			req:  map[string]any{"type": "history", "room": room, "to": ana.id, "data": "LEAK"},
			code: "forbidden",
		},
		{
			name: "stranger sends history",
			by:   cid,
			req:  map[string]any{"type": "history", "room": room, "to": ben.id, "data": "LEAK"},
			code: "not_found",
		},
		{
			name: "stranger sends",
			by:   cid,
			req:  map[string]any{"type": "send", "room": room, "text": "LEAK"},
			code: "not_found",
		},
		{
			name: "stranger lists",
			by:   cid,
			req:  map[string]any{"type": "members", "room": room},
			code: "not_found",
		},
		{
			name: "stranger leaves",
			by:   cid,
			req:  map[string]any{"type": "leave", "room": room},
			code: "not_found",
		},
		{
			name: "unidentified sends",
			by:   anon,
			req:  map[string]any{"type": "send", "room": room, "text": "LEAK"},
			code: "not_identified",
		},
		{
			name: "unidentified lists",
			by:   anon,
			req:  map[string]any{"type": "members", "room": room},
			code: "not_identified",
		},
	}
	hh.secret("LEAK")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if e := tt.by.call(tt.req); e.str("code") != tt.code {
				t.Fatalf("got %v, want %s", e, tt.code)
			}
			hh.say(t, ana, room, "marker "+tt.name)
			expectText(t, ben, room, "marker "+tt.name)
			ben.none()
			cid.none()
		})
	}
	ms := ben.mustCall("members", map[string]any{"type": "members", "room": room})
	if len(ms.memberIDs()) != 2 {
		t.Fatalf("members: %v", ms)
	}
}

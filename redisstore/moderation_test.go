package redisstore

import (
	"testing"

	"github.com/epchat-go/epchat"
	"github.com/epchat-go/epchat/epchattest"
	"github.com/epchat-go/epchat/internal/hubtest"
)

// TestHubModeration runs the Hub's kick and lock scenarios, over real
// WebSockets, on one Hub process with the Store and the Broker on Redis:
// every event, the kick's included, goes through the broker.
func TestHubModeration(t *testing.T) {
	hubtest.Moderation(t, func(t *testing.T) (*epchat.Hub, string) {
		p := startHubProc(t, "a", freshPrefix(), epchattest.NewClock(t0), true)
		return p.hub, p.url
	})
}

// TestClusterKickAndLock: the owner, on process a, kicks a member
// connected to process b: b's connection gets room_left and nothing more
// of the room, a's members get member_left, and an invite made before the
// kick fails on b. A lock made on a refuses a join on b and reaches b's
// members; unlock on a lets it through.
func TestClusterKickAndLock(t *testing.T) {
	procs, _ := startCluster(t, 2)
	a, b := procs[0], procs[1]
	ann, cat := a.join(t, "Ann"), a.join(t, "Cat")
	ben, dan := b.join(t, "Ben"), b.join(t, "Dan")
	room := ann.MustCall("joined", map[string]any{"type": "create"}).Str("room")
	seat(t, ben, invite(t, ann, room), room, ann)
	seat(t, cat, invite(t, ann, room), room, ann, ben)
	seat(t, dan, invite(t, ann, room), room, ann, ben, cat)
	old := invite(t, ann, room)

	ann.MustCall("ok", map[string]any{"type": "kick", "room": room, "member": ben.ID})
	if e := ben.Expect("room_left", room); e.Str("reason") != "kicked" {
		t.Fatalf("ben on b got %v, want room_left kicked", e)
	}
	for _, c := range []*epchattest.Client{ann, cat, dan} {
		if e := c.Expect("member_left", room); e.Str("member") != ben.ID || e.Str("reason") != "kicked" {
			t.Fatalf("%s got %v, want ben kicked", c.ID, e)
		}
	}
	ann.MustCall("sent", map[string]any{"type": "send", "room": room, "text": "after the kick"})
	if e := dan.Expect("message", room); e.Str("text") != "after the kick" {
		t.Fatalf("dan on b got %v", e)
	}
	if e := ben.MustCall("error", map[string]any{"type": "join", "token": old}); e.Str("code") != "invite_invalid" {
		t.Fatalf("ben joining on b with an invite made before the kick: %v, want invite_invalid", e)
	}
	if e := ben.MustCall("error", map[string]any{"type": "members", "room": room}); e.Str("code") != "not_found" {
		t.Fatalf("members of the kicked ben: %v", e)
	}
	ben.None()

	pending := invite(t, ann, room)
	ann.MustCall("ok", map[string]any{"type": "lock", "room": room})
	for _, c := range []*epchattest.Client{ann, cat, dan} {
		if e := c.Expect("room_locked", room); e["locked"] != true {
			t.Fatalf("%s got %v, want room_locked true", c.ID, e)
		}
	}
	if e := ben.MustCall("error", map[string]any{"type": "join", "token": pending}); e.Str("code") != "room_locked" {
		t.Fatalf("join on b of a room locked on a: %v, want room_locked", e)
	}
	ann.MustCall("ok", map[string]any{"type": "unlock", "room": room})
	dan.Expect("room_locked", room)
	joined := ben.MustCall("joined", map[string]any{"type": "join", "token": pending})
	if joined["locked"] != false {
		t.Fatalf("joined after unlock: %v", joined)
	}
	ann.Expect("member_joined", room)
}

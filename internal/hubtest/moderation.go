// Package hubtest holds Hub scenarios, spoken over real WebSockets, that
// the tests of every Store run: the root package's on the MemoryStore,
// sqlitestore's and redisstore's on theirs. A scenario fails the same way
// whichever Store is under the Hub.
package hubtest

import (
	"context"
	"errors"
	"testing"

	"github.com/epchat-go/epchat"
	"github.com/epchat-go/epchat/epchattest"
)

// Start starts a fresh Hub for one scenario, registers its shutdown with
// t.Cleanup, and returns it with the ws:// URL it is served at.
type Start func(t *testing.T) (hub *epchat.Hub, url string)

// Moderation runs the kick and lock scenarios, each as a subtest on a Hub
// of its own.
func Moderation(t *testing.T, start Start) {
	for _, sc := range []struct {
		name string
		run  func(t *testing.T, hub *epchat.Hub, url string)
	}{
		{name: "OwnerKicks", run: ownerKicks},
		{name: "KickRefused", run: kickRefused},
		{name: "KickRevokesInvites", run: kickRevokesInvites},
		{name: "LockRefusesInviteAndJoin", run: lockRefusesInviteAndJoin},
		{name: "HostKicksAndLocks", run: hostKicksAndLocks},
	} {
		t.Run(sc.name, func(t *testing.T) {
			hub, url := start(t)
			sc.run(t, hub, url)
		})
	}
}

// client dials url and identifies as nick.
func client(t *testing.T, url, nick string) *epchattest.Client {
	t.Helper()
	c := epchattest.Dial(t, url)
	c.Hello(nick)
	return c
}

// room has owner create a room and seats each of members in it through an
// invite each; everyone already seated sees each join.
func room(t *testing.T, owner *epchattest.Client, members ...*epchattest.Client) string {
	t.Helper()
	id := owner.MustCall("joined", map[string]any{"type": "create"}).Str("room")
	seated := []*epchattest.Client{owner}
	for _, m := range members {
		tok := invite(t, owner, id)
		m.MustCall("joined", map[string]any{"type": "join", "token": tok})
		for _, s := range seated {
			s.Expect("member_joined", id)
		}
		seated = append(seated, m)
	}
	return id
}

func invite(t *testing.T, owner *epchattest.Client, room string) string {
	t.Helper()
	return owner.MustCall("invite", map[string]any{"type": "invite", "room": room}).Str("token")
}

// errCode sends req and returns the code of the error it must get.
func errCode(t *testing.T, c *epchattest.Client, req map[string]any) string {
	t.Helper()
	return c.MustCall("error", req).Str("code")
}

// expectLeft waits for the member_left of member, with reason.
func expectLeft(t *testing.T, c *epchattest.Client, room, member, reason string) {
	t.Helper()
	e := c.Expect("member_left", room)
	if e.Str("member") != member || e.Str("reason") != reason {
		t.Fatalf("member_left %v, want %s leaving with reason %s", e, member, reason)
	}
}

// expectKicked waits for the room_left that tells c it was kicked.
func expectKicked(t *testing.T, c *epchattest.Client, room string) {
	t.Helper()
	if e := c.Expect("room_left", room); e.Str("reason") != "kicked" {
		t.Fatalf("room_left %v, want reason kicked", e)
	}
}

// expectLock waits for the room_locked that says locked.
func expectLock(t *testing.T, c *epchattest.Client, room string, locked bool) {
	t.Helper()
	if e := c.Expect("room_locked", room); e["locked"] != locked {
		t.Fatalf("room_locked %v, want locked %v", e, locked)
	}
}

// outOf checks that c, kicked, receives nothing more of room: its own
// requests about the room get not_found, and no event of the room
// reached it before their replies (a connection's events and replies
// keep their order).
func outOf(t *testing.T, c *epchattest.Client, room string) {
	t.Helper()
	if code := errCode(t, c, map[string]any{"type": "send", "room": room, "text": "still here?"}); code != "not_found" {
		t.Fatalf("send of a kicked member: %s, want not_found", code)
	}
	if code := errCode(t, c, map[string]any{"type": "members", "room": room}); code != "not_found" {
		t.Fatalf("members of a kicked member: %s, want not_found", code)
	}
	c.None()
}

// members returns the member ids of room as c is told, and whether it is
// locked.
func members(t *testing.T, c *epchattest.Client, room string) ([]string, bool) {
	t.Helper()
	e := c.MustCall("members", map[string]any{"type": "members", "room": room})
	locked, ok := e["locked"].(bool)
	if !ok {
		t.Fatalf("members reply without a boolean locked: %v", e)
	}
	return e.MemberIDs(), locked
}

// ownerKicks: the owner kicks ben, who has two tabs; both get room_left,
// the others member_left, and the room's messages reach ben no more.
func ownerKicks(t *testing.T, _ *epchat.Hub, url string) {
	ana, ben, cat := client(t, url, "Ana"), client(t, url, "Ben"), client(t, url, "Cat")
	id := room(t, ana, ben, cat)
	tab := epchattest.Dial(t, url)
	tab.MustCall("welcome", map[string]any{"type": "hello", "token": ben.Token})
	ben.Expect("session_connected", "") // told of the second tab

	ana.MustCall("ok", map[string]any{"type": "kick", "room": id, "member": ben.ID})
	expectKicked(t, ben, id)
	expectKicked(t, tab, id)
	expectLeft(t, ana, id, ben.ID, "kicked")
	expectLeft(t, cat, id, ben.ID, "kicked")

	ana.MustCall("sent", map[string]any{"type": "send", "room": id, "text": "after the kick"})
	if e := cat.Expect("message", id); e.Str("text") != "after the kick" {
		t.Fatalf("cat got %v", e)
	}
	outOf(t, ben, id)
	outOf(t, tab, id)
	if got, _ := members(t, cat, id); len(got) != 2 || got[0] != ana.ID || got[1] != cat.ID {
		t.Fatalf("members after the kick: %v, want ana and cat", got)
	}
	// A welcome after the kick lists the room no more.
	again := epchattest.Dial(t, url)
	w := again.MustCall("welcome", map[string]any{"type": "hello", "token": ben.Token})
	if rs, _ := w["rooms"].([]any); len(rs) != 0 {
		t.Fatalf("welcome of the kicked member lists rooms %v, want none", rs)
	}
}

// kickRefused: only the owner kicks, and only a seated member other than
// themselves; a stranger learns nothing of the room.
func kickRefused(t *testing.T, _ *epchat.Hub, url string) {
	ana, ben, cat := client(t, url, "Ana"), client(t, url, "Ben"), client(t, url, "Cat")
	dan := client(t, url, "Dan")
	id := room(t, ana, ben, cat)
	for _, tt := range []struct {
		name string
		by   *epchattest.Client
		req  map[string]any
		want string
	}{
		{
			name: "a member who is not the owner",
			by:   ben,
			req:  map[string]any{"type": "kick", "room": id, "member": cat.ID},
			want: "forbidden",
		},
		{
			name: "a member kicking the owner",
			by:   ben,
			req:  map[string]any{"type": "kick", "room": id, "member": ana.ID},
			want: "forbidden",
		},
		{
			name: "a stranger",
			by:   dan,
			req:  map[string]any{"type": "kick", "room": id, "member": cat.ID},
			want: "not_found",
		},
		{
			name: "the owner kicking themselves",
			by:   ana,
			req:  map[string]any{"type": "kick", "room": id, "member": ana.ID},
			want: "not_found",
		},
		{
			name: "the owner kicking someone not seated",
			by:   ana,
			req:  map[string]any{"type": "kick", "room": id, "member": dan.ID},
			want: "not_found",
		},
		{
			name: "an unknown room",
			by:   ana,
			req:  map[string]any{"type": "kick", "room": "nope", "member": ben.ID},
			want: "not_found",
		},
		{
			name: "no member",
			by:   ana,
			req:  map[string]any{"type": "kick", "room": id},
			want: "bad_request",
		},
		{
			name: "no room",
			by:   ana,
			req:  map[string]any{"type": "kick", "member": ben.ID},
			want: "bad_request",
		},
	} {
		if got := errCode(t, tt.by, tt.req); got != tt.want {
			t.Errorf("kick by %s: %s, want %s", tt.name, got, tt.want)
		}
	}
	if got, _ := members(t, ana, id); len(got) != 3 {
		t.Fatalf("members after refused kicks: %v, want all three", got)
	}
	ben.None()
	cat.None()
}

// kickRevokesInvites: an invite made before the kick seats nobody after
// it, the kicked member least of all; a new invite readmits them.
func kickRevokesInvites(t *testing.T, _ *epchat.Hub, url string) {
	ana, ben, dan := client(t, url, "Ana"), client(t, url, "Ben"), client(t, url, "Dan")
	id := room(t, ana, ben)
	before := invite(t, ana, id)
	kept := invite(t, ana, id)
	ana.MustCall("ok", map[string]any{"type": "kick", "room": id, "member": ben.ID})
	expectKicked(t, ben, id)
	expectLeft(t, ana, id, ben.ID, "kicked")

	if code := errCode(t, ben, map[string]any{"type": "join", "token": before}); code != "invite_invalid" {
		t.Fatalf("kicked member joining with an invite made before the kick: %s, want invite_invalid", code)
	}
	// Under a new identity too.
	if code := errCode(t, dan, map[string]any{"type": "join", "token": kept}); code != "invite_invalid" {
		t.Fatalf("joining with an invite made before the kick: %s, want invite_invalid", code)
	}
	after := invite(t, ana, id)
	ben.MustCall("joined", map[string]any{"type": "join", "token": after})
	if e := ana.Expect("member_joined", id); e["member"].(map[string]any)["id"] != ben.ID {
		t.Fatalf("member_joined %v, want ben", e)
	}
	ana.MustCall("sent", map[string]any{"type": "send", "room": id, "text": "welcome back"})
	if e := ben.Expect("message", id); e.Str("text") != "welcome back" {
		t.Fatalf("ben readmitted got %v", e)
	}
}

// lockRefusesInviteAndJoin: a locked room refuses invite and join (the
// invite is not spent), its members keep chatting, everyone is told, and
// unlock restores.
func lockRefusesInviteAndJoin(t *testing.T, _ *epchat.Hub, url string) {
	ana, ben, cat := client(t, url, "Ana"), client(t, url, "Ben"), client(t, url, "Cat")
	id := room(t, ana, ben)
	pending := invite(t, ana, id)
	if _, locked := members(t, ben, id); locked {
		t.Fatal("a new room is locked")
	}

	if code := errCode(t, ben, map[string]any{"type": "lock", "room": id}); code != "forbidden" {
		t.Fatalf("lock by a member: %s, want forbidden", code)
	}
	if code := errCode(t, cat, map[string]any{"type": "lock", "room": id}); code != "not_found" {
		t.Fatalf("lock by a stranger: %s, want not_found", code)
	}
	if code := errCode(t, ana, map[string]any{"type": "lock"}); code != "bad_request" {
		t.Fatalf("lock without room: %s, want bad_request", code)
	}
	ana.MustCall("ok", map[string]any{"type": "lock", "room": id})
	expectLock(t, ana, id, true)
	expectLock(t, ben, id, true)

	if code := errCode(t, ana, map[string]any{"type": "invite", "room": id}); code != "room_locked" {
		t.Fatalf("invite in a locked room: %s, want room_locked", code)
	}
	if code := errCode(t, cat, map[string]any{"type": "join", "token": pending}); code != "room_locked" {
		t.Fatalf("join of a locked room: %s, want room_locked", code)
	}
	ben.MustCall("sent", map[string]any{"type": "send", "room": id, "text": "still chatting"})
	if e := ana.Expect("message", id); e.Str("text") != "still chatting" {
		t.Fatalf("ana got %v", e)
	}
	if _, locked := members(t, ben, id); !locked {
		t.Fatal("members of a locked room says unlocked")
	}
	tab := epchattest.Dial(t, url)
	w := tab.MustCall("welcome", map[string]any{"type": "hello", "token": ben.Token})
	if rs, _ := w["rooms"].([]any); len(rs) != 1 || rs[0].(map[string]any)["locked"] != true {
		t.Fatalf("welcome rooms %v, want the room, locked", w["rooms"])
	}
	if code := errCode(t, ben, map[string]any{"type": "unlock", "room": id}); code != "forbidden" {
		t.Fatalf("unlock by a member: %s, want forbidden", code)
	}

	ana.MustCall("ok", map[string]any{"type": "unlock", "room": id})
	expectLock(t, ana, id, false)
	expectLock(t, ben, id, false)
	expectLock(t, tab, id, false)
	joined := cat.MustCall("joined", map[string]any{"type": "join", "token": pending})
	if joined["locked"] != false {
		t.Fatalf("joined %v, want locked false", joined)
	}
	invite(t, ana, id)
}

// hostKicksAndLocks: the Go API does what the owner's requests do, and
// says what went wrong with the sentinel errors.
func hostKicksAndLocks(t *testing.T, hub *epchat.Hub, url string) {
	ctx := context.Background()
	ana, ben, cat := client(t, url, "Ana"), client(t, url, "Ben"), client(t, url, "Cat")
	id := room(t, ana, ben)
	pending := invite(t, ana, id)

	if err := hub.KickMember(ctx, id, ben.ID); err != nil {
		t.Fatalf("KickMember: %v", err)
	}
	expectKicked(t, ben, id)
	expectLeft(t, ana, id, ben.ID, "kicked")
	outOf(t, ben, id)
	if code := errCode(t, cat, map[string]any{"type": "join", "token": pending}); code != "invite_invalid" {
		t.Fatalf("join with an invite made before KickMember: %s, want invite_invalid", code)
	}
	if err := hub.KickMember(ctx, id, ben.ID); !errors.Is(err, epchat.ErrNotMember) {
		t.Fatalf("KickMember of a member kicked already: %v, want ErrNotMember", err)
	}
	if err := hub.KickMember(ctx, "nope", ben.ID); !errors.Is(err, epchat.ErrNotFound) {
		t.Fatalf("KickMember in an unknown room: %v, want ErrNotFound", err)
	}

	pending = invite(t, ana, id)
	if err := hub.LockRoom(ctx, id); err != nil {
		t.Fatalf("LockRoom: %v", err)
	}
	expectLock(t, ana, id, true)
	if code := errCode(t, cat, map[string]any{"type": "join", "token": pending}); code != "room_locked" {
		t.Fatalf("join after LockRoom: %s, want room_locked", code)
	}
	if err := hub.UnlockRoom(ctx, id); err != nil {
		t.Fatalf("UnlockRoom: %v", err)
	}
	expectLock(t, ana, id, false)
	cat.MustCall("joined", map[string]any{"type": "join", "token": pending})
	ana.Expect("member_joined", id)
	for _, err := range []error{hub.LockRoom(ctx, "nope"), hub.UnlockRoom(ctx, "nope")} {
		if !errors.Is(err, epchat.ErrNotFound) {
			t.Fatalf("LockRoom/UnlockRoom of an unknown room: %v, want ErrNotFound", err)
		}
	}

	// The host may kick the owner: ownership passes as on leave.
	if err := hub.KickMember(ctx, id, ana.ID); err != nil {
		t.Fatalf("KickMember of the owner: %v", err)
	}
	expectKicked(t, ana, id)
	expectLeft(t, cat, id, ana.ID, "kicked")
	if e := cat.Expect("owner_changed", id); e.Str("owner") != cat.ID {
		t.Fatalf("owner_changed %v, want cat", e)
	}
	// Kicking the last member closes the room.
	if err := hub.KickMember(ctx, id, cat.ID); err != nil {
		t.Fatalf("KickMember of the last member: %v", err)
	}
	expectKicked(t, cat, id)
	outOf(t, cat, id)
	rooms, err := hub.Rooms(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rooms {
		if r.ID == id {
			t.Fatalf("the room is still listed after its last member was kicked: %+v", r)
		}
	}
}

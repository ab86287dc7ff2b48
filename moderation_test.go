package epchat_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/epchat-go/epchat"
	"github.com/epchat-go/epchat/internal/hubtest"
)

// wait waits until at least n hook calls were made, and returns them all.
func (l *hookLog) wait(t *testing.T, n int) []string {
	t.Helper()
	waitUntil(t, fmt.Sprintf("%d hook calls", n), func() bool { return len(l.all()) >= n })
	return l.all()
}

// TestModeration runs the kick and lock scenarios on the MemoryStore; the
// sqlitestore and redisstore modules run them on theirs.
func TestModeration(t *testing.T) {
	hubtest.Moderation(t, func(t *testing.T) (*epchat.Hub, string) {
		th := newTestHub(t)
		return th.Hub, th.url
	})
}

// Kicks and locks reach the hooks and Stats: a kick as a MemberLeft with
// reason kicked, counted in MembersLeft.Kicked; a lock or unlock as a
// RoomLocked call, counted in RoomsLocked and RoomsUnlocked.
func TestModerationHooksAndStats(t *testing.T) {
	hl := &hookLog{t: t}
	th := newTestHub(t, quiet, epchat.WithHooks(hl.hooks()))
	ctx := context.Background()
	ana, ben, cat := th.client(t, "Ana"), th.client(t, "Ben"), th.client(t, "Cat")
	at := th.clock.Now()
	room := th.room(t, ana, ben, cat)
	skip := len(hl.wait(t, 6)) // the room's opening and three joins

	ana.MustCall("ok", map[string]any{"type": "kick", "room": room, "member": ben.ID})
	ana.MustCall("ok", map[string]any{"type": "lock", "room": room})
	ana.MustCall("ok", map[string]any{"type": "unlock", "room": room})
	if err := th.LockRoom(ctx, room); err != nil {
		t.Fatal(err)
	}
	if err := th.KickMember(ctx, room, cat.ID); err != nil {
		t.Fatal(err)
	}
	want := []string{
		fmt.Sprintf("MemberLeft %+v", epchat.MemberEvent{Room: room, MemberID: ben.ID, Reason: "kicked", At: at}),
		fmt.Sprintf("RoomLocked %+v", epchat.LockEvent{Room: room, Locked: true, At: at}),
		fmt.Sprintf("RoomLocked %+v", epchat.LockEvent{Room: room, Locked: false, At: at}),
		fmt.Sprintf("RoomLocked %+v", epchat.LockEvent{Room: room, Locked: true, At: at}),
		fmt.Sprintf("MemberLeft %+v", epchat.MemberEvent{Room: room, MemberID: cat.ID, Reason: "kicked", At: at}),
	}
	if got := hl.wait(t, skip+len(want))[skip:]; !reflect.DeepEqual(got, want) {
		t.Fatalf("hook calls:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
	s := th.Stats()
	if s.MembersLeft.Kicked != 2 || s.MembersLeft.Total() != 2 || s.RoomsLocked != 2 || s.RoomsUnlocked != 1 || s.Members != 1 {
		t.Fatalf("stats: MembersLeft %+v, RoomsLocked %d, RoomsUnlocked %d, Members %d; want 2 kicked, 2 locks, 1 unlock, 1 member",
			s.MembersLeft, s.RoomsLocked, s.RoomsUnlocked, s.Members)
	}
}

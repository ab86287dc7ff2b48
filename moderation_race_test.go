package epchat_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/epchat-go/epchat"
	"github.com/epchat-go/epchat/epchattest"
)

// The races of kick and lock, hammered on the MemoryStore; run with -race.

// unlimited keeps the request rate and token guess limits out of tests that fire requests
// at one instant of the injected clock.
var unlimited = []epchat.Option{epchat.WithRequestRate(1e6, 1e6), epchat.WithTokenGuessLimit(1e6, time.Minute)}

// inviteOf has owner make an invite to room and returns its token.
func inviteOf(t *testing.T, owner *epchattest.Client, room string) string {
	t.Helper()
	return owner.MustCall("invite", map[string]any{"type": "invite", "room": room}).Str("token")
}

// afterKick checks what the kicked connection c saw of room: a room_left,
// and after it no event of the room but replies.
func afterKick(t *testing.T, c *epchattest.Client, room string) {
	t.Helper()
	c.Expect("room_left", room)
	nothingOf(t, c, room)
}

// nothingOf checks that no event of room, but replies, is queued on c.
func nothingOf(t *testing.T, c *epchattest.Client, room string) {
	t.Helper()
	for _, e := range c.Events() {
		if e.Str("id") == "" && e.Str("room") == room {
			t.Fatalf("the kicked member got %v after room_left", e)
		}
	}
}

// TestKickRacesKickedMember: while the owner kicks ben, ben sends
// messages and tries to come back with an invite made before the kick.
// Every message of ben that the others see came before the kick; ben ends
// outside the room, having seen nothing of it after room_left.
func TestKickRacesKickedMember(t *testing.T) {
	th := newTestHub(t, unlimited...)
	for round := range 20 {
		ana, ben := th.client(t, "Ana"), th.client(t, "Ben")
		room := ana.MustCall("joined", map[string]any{"type": "create"}).Str("room")
		ben.MustCall("joined", map[string]any{"type": "join", "token": inviteOf(t, ana, room)})
		ana.Expect("member_joined", room)
		old := inviteOf(t, ana, room)

		var sends, joins []string
		var wg sync.WaitGroup
		wg.Go(func() {
			for i := range 30 {
				sends = append(sends, ben.Send(map[string]any{"type": "send", "room": room, "text": fmt.Sprint(i)}))
				joins = append(joins, ben.Send(map[string]any{"type": "join", "token": old}))
			}
		})
		ana.MustCall("ok", map[string]any{"type": "kick", "room": room, "member": ben.ID})
		wg.Wait()
		for _, id := range joins {
			if e := ben.Reply(id); e.Type() != "error" || (e.Str("code") != "already_member" && e.Str("code") != "invite_invalid") {
				t.Fatalf("round %d: join with the old invite racing the kick: %v, want already_member or invite_invalid", round, e)
			}
		}
		accepted := 0
		for _, id := range sends {
			switch e := ben.Reply(id); {
			case e.Type() == "sent":
				accepted++
			case e.Str("code") != "not_found":
				t.Fatalf("round %d: send racing the kick: %v", round, e)
			}
		}
		afterKick(t, ben, room)
		// ana saw exactly the accepted messages, all before the kick.
		for range accepted {
			ana.Expect("message", room)
		}
		left := ana.Expect("member_left", room)
		if left.Str("member") != ben.ID || left.Str("reason") != "kicked" {
			t.Fatalf("round %d: %v, want ben kicked", round, left)
		}
		ana.MustCall("sent", map[string]any{"type": "send", "room": room, "text": "after"})
		ana.None()
		if code := ben.MustCall("error", map[string]any{"type": "members", "room": room}).Str("code"); code != "not_found" {
			t.Fatalf("round %d: members of the kicked member: %s", round, code)
		}
		nothingOf(t, ben, room)
	}
}

// TestKickRacesJoin: the owner kicks ben again and again while ben joins
// with a fresh invite. Whether the kick comes after ben's seat was taken
// or between the seat and the joined reply, once the kick is done ben
// receives nothing of the room.
func TestKickRacesJoin(t *testing.T) {
	th := newTestHub(t, unlimited...)
	for round := range 30 {
		ana, ben := th.client(t, "Ana"), th.client(t, "Ben")
		room := ana.MustCall("joined", map[string]any{"type": "create"}).Str("room")
		tok := inviteOf(t, ana, room)
		join := ben.Send(map[string]any{"type": "join", "token": tok})
		kicked := false
		for range 500 {
			e := ana.Call(map[string]any{"type": "kick", "room": room, "member": ben.ID})
			if e.Type() == "ok" {
				kicked = true
				break
			}
		}
		if !kicked {
			t.Fatalf("round %d: ben never seated", round)
		}
		switch e := ben.Reply(join); {
		case e.Type() == "joined":
			ben.Expect("room_left", room) // kicked after the reply
		case e.Str("code") == "not_found":
			// kicked between the seat and the reply
		default:
			t.Fatalf("round %d: join racing a kick: %v", round, e)
		}
		ana.MustCall("sent", map[string]any{"type": "send", "room": room, "text": "after"})
		if code := ben.MustCall("error", map[string]any{"type": "send", "room": room, "text": "x"}).Str("code"); code != "not_found" {
			t.Fatalf("round %d: send of the kicked member: %s", round, code)
		}
		for _, e := range ben.Events() {
			if e.Type() == "message" {
				t.Fatalf("round %d: the kicked member got %v", round, e)
			}
		}
	}
}

// TestLockRacesJoin: joins with an invite each race the owner's lock.
// Each gets joined or room_locked; the refused ones keep their invites,
// which seat them after unlock.
func TestLockRacesJoin(t *testing.T) {
	const n = 8
	th := newTestHub(t, append(unlimited, epchat.WithMaxMembers(n+1))...)
	for round := range 10 {
		ana := th.client(t, "Ana")
		room := ana.MustCall("joined", map[string]any{"type": "create"}).Str("room")
		joiners := make([]*epchattest.Client, n)
		toks := make([]string, n)
		for i := range joiners {
			joiners[i] = th.client(t, fmt.Sprint("J", i))
			toks[i] = inviteOf(t, ana, room)
		}
		ids := make([]string, n)
		var wg sync.WaitGroup
		for i, j := range joiners {
			wg.Go(func() { ids[i] = j.Send(map[string]any{"type": "join", "token": toks[i]}) })
		}
		ana.MustCall("ok", map[string]any{"type": "lock", "room": room})
		wg.Wait()
		var refused []int
		for i, j := range joiners {
			switch e := j.Reply(ids[i]); {
			case e.Type() == "joined":
			case e.Str("code") == "room_locked":
				refused = append(refused, i)
			default:
				t.Fatalf("round %d: join racing a lock: %v", round, e)
			}
		}
		got := ana.MustCall("members", map[string]any{"type": "members", "room": room})
		if len(got.MemberIDs()) != 1+n-len(refused) || got["locked"] != true {
			t.Fatalf("round %d: %d joins refused, members %v", round, len(refused), got)
		}
		ana.MustCall("ok", map[string]any{"type": "unlock", "room": room})
		for _, i := range refused {
			joiners[i].MustCall("joined", map[string]any{"type": "join", "token": toks[i]})
		}
		for _, c := range append(joiners, ana) {
			c.Conn.Close() // within the connections allowed per address
		}
	}
}

// pausingStore pauses each successful Redeem, once it has seated its
// member and before the Hub goes on, until the test lets it go.
type pausingStore struct {
	*epchat.MemoryStore
	seated  chan struct{}
	release chan struct{}
}

func (s *pausingStore) Redeem(ctx context.Context, token epchat.TokenHash, m epchat.Member, now time.Time, maxRooms int) (epchat.Room, error) {
	r, err := s.MemoryStore.Redeem(ctx, token, m, now, maxRooms)
	if err == nil {
		s.seated <- struct{}{}
		<-s.release
	}
	return r, err
}

// TestKickBetweenSeatAndJoined: the owner kicks ben after the Store seated
// him and before the Hub answered his join. Ben gets not_found rather than
// joined, and receives nothing of the room.
func TestKickBetweenSeatAndJoined(t *testing.T) {
	ps := &pausingStore{MemoryStore: epchat.NewMemoryStore(), seated: make(chan struct{}), release: make(chan struct{})}
	th := newTestHub(t, epchat.WithStore(ps))
	ana, ben := th.client(t, "Ana"), th.client(t, "Ben")
	room := ana.MustCall("joined", map[string]any{"type": "create"}).Str("room")
	tok := inviteOf(t, ana, room)
	join := ben.Send(map[string]any{"type": "join", "token": tok})
	<-ps.seated
	ana.MustCall("ok", map[string]any{"type": "kick", "room": room, "member": ben.ID})
	left := ana.Expect("member_left", room)
	if left.Str("member") != ben.ID {
		t.Fatalf("member_left %v, want ben", left)
	}
	close(ps.release)
	if e := ben.Reply(join); e.Str("code") != "not_found" {
		t.Fatalf("join whose seat was kicked before the reply: %v, want not_found", e)
	}
	ana.MustCall("sent", map[string]any{"type": "send", "room": room, "text": "after"})
	if code := ben.MustCall("error", map[string]any{"type": "members", "room": room}).Str("code"); code != "not_found" {
		t.Fatalf("members of the kicked member: %s", code)
	}
	nothingOf(t, ben, room)
	ana.None()
}

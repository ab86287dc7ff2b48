package storetest

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/epchat-go/epchat"
)

// benchRoomSize is how many members a benchmark room holds before the
// measured call: a small conversation.
const benchRoomSize = 4

// benchBatch is how many calls a benchmark measures between two pauses of
// its timer, when the calls need setup that is not measured.
const benchBatch = 256

// Benchmark measures the Store calls the Hub makes on its hot paths, each as
// a sub-benchmark on a fresh store made by newStore:
//
//   - Redeem: a join, by a user into a room of 4 (making the invite is not
//     measured);
//   - Leave: a member leaving a room of 5 (seating them is not measured);
//   - Message: a message in a room of 4; MessageParallel sends from every
//     goroutine of b.RunParallel, each to a room of its own;
//   - TouchUser: activity of a connected user;
//   - AttachDetach: a connection opening and closing (both calls per op);
//   - Room: reading a room of 4 and its members; RoomParallel reads from
//     every goroutine of b.RunParallel, each a room of its own.
//
// Run it with -benchmem; a store's figures are comparable with those of
// epchat.MemoryStore measured by the same function.
func Benchmark(b *testing.B, newStore func(b *testing.B) epchat.Store) {
	b.Run("Redeem", func(b *testing.B) { benchJoinLeave(b, newStore(b), true) })
	b.Run("Leave", func(b *testing.B) { benchJoinLeave(b, newStore(b), false) })
	b.Run("Message", func(b *testing.B) {
		s := newStore(b)
		ctx := b.Context()
		benchRoom(b, s, "r", "u")
		senders := make([]string, benchRoomSize)
		for i := range senders {
			senders[i] = fmt.Sprint("u", i)
		}
		var i int64
		for b.Loop() {
			i++
			if _, err := s.Message(ctx, "r", senders[i%benchRoomSize], at(time.Duration(i))); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("MessageParallel", func(b *testing.B) {
		s := newStore(b)
		ctx := b.Context()
		const rooms = 64
		for r := range rooms {
			benchRoom(b, s, fmt.Sprint("r", r), fmt.Sprintf("r%du", r))
		}
		var next atomic.Int64
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			r := next.Add(1) % rooms
			room, user := fmt.Sprint("r", r), fmt.Sprintf("r%du0", r)
			var i int64
			for pb.Next() {
				i++
				if _, err := s.Message(ctx, room, user, at(time.Duration(i))); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("TouchUser", func(b *testing.B) {
		s := newStore(b)
		ctx := b.Context()
		benchUser(b, s, "u")
		if err := s.Attach(ctx, "u", t0); err != nil {
			b.Fatal(err)
		}
		var i int64
		for b.Loop() {
			i++
			if err := s.TouchUser(ctx, "u", at(time.Duration(i))); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("AttachDetach", func(b *testing.B) {
		s := newStore(b)
		ctx := b.Context()
		benchUser(b, s, "u")
		var i int64
		for b.Loop() {
			i++
			if err := s.Attach(ctx, "u", at(time.Duration(i))); err != nil {
				b.Fatal(err)
			}
			if err := s.Detach(ctx, "u", at(time.Duration(i))); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("RoomParallel", func(b *testing.B) {
		s := newStore(b)
		ctx := b.Context()
		const rooms = 64
		for r := range rooms {
			benchRoom(b, s, fmt.Sprint("r", r), fmt.Sprintf("r%du", r))
		}
		var next atomic.Int64
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			room := fmt.Sprint("r", next.Add(1)%rooms)
			for pb.Next() {
				if _, ms, err := s.Room(ctx, room); err != nil || len(ms) != benchRoomSize {
					b.Error(len(ms), err)
					return
				}
			}
		})
	})
	b.Run("Room", func(b *testing.B) {
		s := newStore(b)
		ctx := b.Context()
		benchRoom(b, s, "r", "u")
		for b.Loop() {
			if _, ms, err := s.Room(ctx, "r"); err != nil || len(ms) != benchRoomSize {
				b.Fatal(len(ms), err)
			}
		}
	})
}

// benchUser creates user id.
func benchUser(b *testing.B, s epchat.Store, id string) {
	b.Helper()
	u := epchat.User{
		ID:       id,
		Nickname: "nick of " + id,
		Token:    tokenOf(id),
		SeenAt:   t0,
	}
	if err := s.CreateUser(b.Context(), u, 0); err != nil {
		b.Fatal(err)
	}
}

// benchRoom creates room id with benchRoomSize members prefix0, prefix1,
// ..., the first the owner, and room for as many more.
func benchRoom(b *testing.B, s epchat.Store, id, prefix string) {
	b.Helper()
	ctx := b.Context()
	for i := range benchRoomSize {
		benchUser(b, s, fmt.Sprint(prefix, i))
	}
	r := epchat.Room{
		ID:        id,
		Owner:     prefix + "0",
		Limit:     2 * benchRoomSize,
		CreatedAt: t0,
		ActiveAt:  t0,
	}
	owner := member(prefix+"0", t0)
	if err := s.CreateRoom(ctx, r, &owner, 0); err != nil {
		b.Fatal(err)
	}
	for i := 1; i < benchRoomSize; i++ {
		tok := hash(fmt.Sprint("bench invite ", id, " ", i))
		if err := s.CreateInvite(ctx, epchat.Invite{Token: tok, Room: id, ExpiresAt: at(time.Hour)}, "", t0); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Redeem(ctx, tok, member(fmt.Sprint(prefix, i), t0), t0, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// benchJoinLeave measures Redeem (join) or Leave: benchBatch rooms of
// benchRoomSize members each get one joiner who then leaves again; only the
// calls named by join are timed.
func benchJoinLeave(b *testing.B, s epchat.Store, join bool) {
	ctx := b.Context()
	rooms := make([]string, benchBatch)
	joiners := make([]string, benchBatch)
	for r := range benchBatch {
		rooms[r], joiners[r] = fmt.Sprint("r", r), fmt.Sprint("j", r)
		benchRoom(b, s, rooms[r], rooms[r]+"u")
		benchUser(b, s, joiners[r])
	}
	toks := make([]epchat.TokenHash, benchBatch)
	redeem := func(r int, now time.Time) {
		if _, err := s.Redeem(ctx, toks[r], member(joiners[r], now), now, 20); err != nil {
			b.Fatal(err)
		}
	}
	leave := func(r int, now time.Time) {
		if _, err := s.Leave(ctx, rooms[r], joiners[r]); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for round, done := 0, 0; done < b.N; round++ {
		k := min(benchBatch, b.N-done)
		now := at(time.Duration(round) * time.Millisecond)
		b.StopTimer()
		for r := range k {
			toks[r] = hash(fmt.Sprint("bench join ", round, " ", r))
			inv := epchat.Invite{Token: toks[r], Room: rooms[r], ExpiresAt: now.Add(time.Hour)}
			if err := s.CreateInvite(ctx, inv, "", now); err != nil {
				b.Fatal(err)
			}
			if !join {
				redeem(r, now)
			}
		}
		b.StartTimer()
		for r := range k {
			if join {
				redeem(r, now)
			} else {
				leave(r, now)
			}
		}
		b.StopTimer()
		for r := range k {
			if join {
				leave(r, now)
			}
		}
		b.StartTimer()
		done += k
	}
}

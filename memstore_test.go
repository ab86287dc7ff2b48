package epchat_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"runtime"
	"testing"
	"time"

	"github.com/epchat-go/epchat"
)

// memBenchMembers is how many members BenchmarkMemoryStoreHeap seats,
// memBenchRoomSize to a room: the default room limit.
const (
	memBenchMembers  = 10_000
	memBenchRoomSize = epchat.DefaultMaxMembers
)

// BenchmarkMemoryStoreHeap reports the live heap a MemoryStore holds per
// idle seated member (B/member): users who said hello (CreateUser, Attach)
// and sit in full rooms of 10, each opened by its owner (CreateRoom) who
// invited the 9 others (CreateInvite by the owner, Redeem), in the order
// the Hub makes these calls. The ids, nicknames and token hashes are as
// long as the Hub's and are kept by the store alone, so their bytes count.
//
//   - Seated: each invite is redeemed before the next is made;
//   - AfterBurst: every invite of every room is pending at once before the
//     first is redeemed, then every member loses their connection and
//     comes back (a restart of the network in front of the server): the
//     store is back to the Seated state, and what it holds beyond that is
//     what its indexes kept of the burst.
//
// The time per op is that of building the whole store and means little.
func BenchmarkMemoryStoreHeap(b *testing.B) {
	b.Run("Seated", func(b *testing.B) { benchMemoryStoreHeap(b, false) })
	b.Run("AfterBurst", func(b *testing.B) { benchMemoryStoreHeap(b, true) })
}

func benchMemoryStoreHeap(b *testing.B, burst bool) {
	var total uint64
	var ms runtime.MemStats
	for b.Loop() {
		runtime.GC()
		runtime.ReadMemStats(&ms)
		before := ms.HeapAlloc
		s := fillMemoryStore(b, burst)
		runtime.GC()
		runtime.ReadMemStats(&ms)
		total += ms.HeapAlloc - before
		runtime.KeepAlive(s)
	}
	b.ReportMetric(float64(total)/float64(b.N)/memBenchMembers, "B/member")
}

// fillMemoryStore returns a MemoryStore holding memBenchMembers connected
// members seated in full rooms of memBenchRoomSize.
func fillMemoryStore(b *testing.B, burst bool) *epchat.MemoryStore {
	ctx := context.Background()
	s := epchat.NewMemoryStore()
	now := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	n := 0
	hello := func() (id, nick string) {
		n++
		id, nick = memBenchID(12, n), memBenchID(6, n) // a 16-char id, an 8-char nickname
		u := epchat.User{ID: id, Nickname: nick, Token: memBenchHash("session", n), SeenAt: now}
		if err := s.CreateUser(ctx, u, 0); err != nil {
			b.Fatal(err)
		}
		if err := s.Attach(ctx, id, now); err != nil {
			b.Fatal(err)
		}
		return id, nick
	}
	invite := func(room, owner string, i int) epchat.TokenHash {
		tok := memBenchHash("invite "+room, i)
		inv := epchat.Invite{Token: tok, Room: room, ExpiresAt: now.Add(5 * time.Minute)}
		if err := s.CreateInvite(ctx, inv, owner, now); err != nil {
			b.Fatal(err)
		}
		return tok
	}
	redeem := func(tok epchat.TokenHash) {
		id, nick := hello()
		m := epchat.Member{ID: id, Nickname: nick, JoinedAt: now}
		if _, err := s.Redeem(ctx, tok, m, now, 0); err != nil {
			b.Fatal(err)
		}
	}
	rooms := memBenchMembers / memBenchRoomSize
	var pending []epchat.TokenHash
	for r := range rooms {
		owner, nick := hello()
		room := memBenchID(16, r) // a 22-char id
		rm := epchat.Room{ID: room, Owner: owner, Limit: memBenchRoomSize, CreatedAt: now, ActiveAt: now}
		if err := s.CreateRoom(ctx, rm, &epchat.Member{ID: owner, Nickname: nick, JoinedAt: now}, 0); err != nil {
			b.Fatal(err)
		}
		for i := 1; i < memBenchRoomSize; i++ {
			tok := invite(room, owner, i)
			if burst {
				pending = append(pending, tok)
			} else {
				redeem(tok)
			}
		}
	}
	for _, tok := range pending {
		redeem(tok)
	}
	if burst {
		rs, err := s.Rooms(ctx)
		if err != nil {
			b.Fatal(err)
		}
		var members []string
		for _, ri := range rs {
			_, ms, err := s.Room(ctx, ri.ID)
			if err != nil {
				b.Fatal(err)
			}
			for _, m := range ms {
				members = append(members, m.ID)
			}
		}
		for _, id := range members {
			if err := s.Detach(ctx, id, now); err != nil {
				b.Fatal(err)
			}
		}
		for _, id := range members {
			if err := s.Attach(ctx, id, now); err != nil {
				b.Fatal(err)
			}
		}
	}
	if n != memBenchMembers {
		b.Fatalf("seated %d members, want %d", n, memBenchMembers)
	}
	return s
}

// memBenchID returns a distinct id of n random-looking bytes in base64,
// as internal/ids makes them, derived from i.
func memBenchID(n, i int) string {
	h := memBenchHash("id", i)
	return base64.RawURLEncoding.EncodeToString(h[:n])
}

// memBenchHash returns the token hash numbered i of the kind label.
func memBenchHash(label string, i int) epchat.TokenHash {
	b := binary.BigEndian.AppendUint64([]byte(label), uint64(i))
	return sha256.Sum256(b)
}

package redisstore

import (
	"fmt"
	"testing"
	"time"

	"github.com/epchat-go/epchat"
)

// The benchmarks measure the Hub's hot-path calls against the local
// redis-server of TestMain (one round trip each over loopback):
//
//	go test -run '^$' -bench . -benchmem ./redisstore/

func BenchmarkMessage(b *testing.B) {
	s := newStore(b)
	mustRoom(b, s, "room", "ann", 10, t0)
	mustJoin(b, s, "room", "bob", t0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.Message(bg, "room", "bob", t0.Add(time.Duration(i))); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMessageParallel sends from many goroutines to one room: the
// throughput of one busy room, every message taking its seq in Redis.
func BenchmarkMessageParallel(b *testing.B) {
	s := newStore(b)
	mustRoom(b, s, "room", "ann", 10, t0)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Message(bg, "room", "ann", t0); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkTouchUser(b *testing.B) {
	s := newStore(b)
	mustUser(b, s, "ann", t0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := s.TouchUser(bg, "ann", t0.Add(time.Duration(i))); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAttachDetach is one connection opening and closing: two calls.
func BenchmarkAttachDetach(b *testing.B) {
	s := newStore(b)
	mustUser(b, s, "ann", t0)
	mustRoom(b, s, "room", "ann", 2, t0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		at := t0.Add(time.Duration(i))
		if err := s.Attach(bg, "ann", at); err != nil {
			b.Fatal(err)
		}
		if err := s.Detach(bg, "ann", at); err != nil {
			b.Fatal(err)
		}
	}
}

// benchRooms makes rooms of 10 seats, one per 9 iterations, owned by
// "owner".
func benchRooms(b *testing.B, s *Store) {
	for r := range b.N/9 + 1 {
		mustRoom(b, s, fmt.Sprint("room", r), "owner", 10, t0)
	}
}

func BenchmarkCreateInvite(b *testing.B) {
	s := newStore(b)
	benchRooms(b, s)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		inv := epchat.Invite{
			Token:     hashOf(fmt.Sprint("invite", i)),
			Room:      fmt.Sprint("room", i/9),
			ExpiresAt: t0.Add(5 * time.Minute),
		}
		if err := s.CreateInvite(bg, inv, "owner", t0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRedeem(b *testing.B) {
	s := newStore(b)
	benchRooms(b, s)
	toks := make([]epchat.TokenHash, b.N)
	for i := range toks {
		toks[i] = mustInvite(b, s, fmt.Sprint("invite", i), fmt.Sprint("room", i/9), t0)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i, tok := range toks {
		m := epchat.Member{ID: fmt.Sprint("guest", i), Nickname: fmt.Sprint("guest ", i), JoinedAt: t0}
		if _, err := s.Redeem(bg, tok, m, t0, 20); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLeave(b *testing.B) {
	s := newStore(b)
	benchRooms(b, s)
	for i := range b.N {
		mustJoin(b, s, fmt.Sprint("room", i/9), fmt.Sprint("guest", i), t0)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.Leave(bg, fmt.Sprint("room", i/9), fmt.Sprint("guest", i)); err != nil {
			b.Fatal(err)
		}
	}
}

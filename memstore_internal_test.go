package epchat

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"
)

// memT0 is the instant these tests start at, with nanoseconds and a zone.
var memT0 = time.Date(2026, time.March, 4, 5, 6, 7, 891011121, time.FixedZone("UTC-3", -3*3600))

func memHash(label string) TokenHash { return sha256.Sum256([]byte(label)) }

func memUserFor(id string, seen time.Time) User {
	return User{ID: id, Nickname: "nick of " + id, Token: memHash("session " + id), SeenAt: seen}
}

func memMemberFor(id string) Member {
	return Member{ID: id, Nickname: "nick of " + id, JoinedAt: memT0}
}

func memRoomFor(id, owner string, limit int, active time.Time) Room {
	return Room{ID: id, Owner: owner, Limit: limit, CreatedAt: memT0, ActiveAt: active}
}

// TestMemoryStoreInstants checks that a user's instants come back as the
// same instants: MemoryStore keeps them as Unix nanoseconds, which must
// not confuse the zero time ("never") with the Unix epoch, and keeps
// instants outside the range of nanoseconds as its ends, in order.
func TestMemoryStoreInstants(t *testing.T) {
	tests := []struct {
		name string
		in   time.Time
		want time.Time
	}{
		{
			name: "zero is never",
			in:   time.Time{},
			want: time.Time{},
		},
		{
			name: "unix epoch",
			in:   time.Unix(0, 0),
			want: time.Unix(0, 0),
		},
		{
			name: "nanoseconds and a zone",
			in:   memT0,
			want: memT0,
		},
		{
			name: "before 1678 is its start",
			in:   time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC),
			want: time.Unix(0, math.MinInt64+1),
		},
		{
			name: "after 2262 is its end",
			in:   time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC),
			want: time.Unix(0, math.MaxInt64),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewMemoryStore()
			u := memUserFor("ana", tt.in)
			u.DetachedAt = tt.in
			if err := s.CreateUser(t.Context(), u, 0); err != nil {
				t.Fatal(err)
			}
			got, err := s.UserByToken(t.Context(), u.Token)
			if err != nil {
				t.Fatal(err)
			}
			if !got.SeenAt.Equal(tt.want) || !got.DetachedAt.Equal(tt.want) || got.DetachedAt.IsZero() != tt.want.IsZero() {
				t.Fatalf("SeenAt %v DetachedAt %v, want %v", got.SeenAt, got.DetachedAt, tt.want)
			}
		})
	}
}

// TestMemoryStoreSeatNicknames checks that a seat keeps the nickname it
// was taken under when that is not its user's (MemoryStore keeps only the
// user's, and the others aside), and that a new seat of the user does not
// inherit it.
func TestMemoryStoreSeatNicknames(t *testing.T) {
	ctx := t.Context()
	s := NewMemoryStore()
	ana := memUserFor("ana", memT0)
	memMust(t, s.CreateUser(ctx, ana, 0))
	memMust(t, s.CreateUser(ctx, memUserFor("ben", memT0), 0))
	owner := memMemberFor("ben")
	memMust(t, s.CreateRoom(ctx, memRoomFor("r1", "ben", 5, memT0), &owner, 0))
	nicks := func(want ...string) {
		t.Helper()
		_, ms, err := s.Room(ctx, "r1")
		memMust(t, err)
		var got []string
		for _, m := range ms {
			got = append(got, m.Nickname)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("nicknames in r1 = %q, want %q", got, want)
		}
	}
	join := func(nick string) {
		t.Helper()
		tok := memHash("invite for " + nick)
		memMust(t, s.CreateInvite(ctx, Invite{Token: tok, Room: "r1", ExpiresAt: memT0.Add(time.Hour)}, "", memT0))
		m := memMemberFor("ana")
		m.Nickname = nick
		_, err := s.Redeem(ctx, tok, m, memT0, 0)
		memMust(t, err)
		_, ms, err := s.Room(ctx, "r1")
		memMust(t, err)
		if got := ms[len(ms)-1].Nickname; got != nick {
			t.Fatalf("Redeem returned the joiner as %q, want %q", got, nick)
		}
	}

	join("ana at work")
	nicks("nick of ben", "ana at work")
	if u, _ := s.UserByToken(ctx, ana.Token); u.Nickname != ana.Nickname {
		t.Fatalf("UserByToken(ana).Nickname = %q, want %q", u.Nickname, ana.Nickname)
	}
	if _, err := s.Leave(ctx, "r1", "ana"); err != nil {
		t.Fatal(err)
	}
	if s.rooms["r1"].nicks != nil {
		t.Fatalf("r1 keeps %d nicknames aside after ana left, want none", len(s.rooms["r1"].nicks))
	}
	join(ana.Nickname)
	nicks("nick of ben", ana.Nickname)
}

// TestMemoryStoreSeveralRooms checks the seats of a user in several rooms
// (MemoryStore keeps the first in the user's record, the others aside)
// as they leave one room or another.
func TestMemoryStoreSeveralRooms(t *testing.T) {
	rooms := []string{"r1", "r2", "r3"}
	tests := []struct {
		name  string
		leave []string
	}{
		{
			name:  "the first",
			leave: []string{"r1"},
		},
		{
			name:  "one in the middle",
			leave: []string{"r2"},
		},
		{
			name:  "the last",
			leave: []string{"r3"},
		},
		{
			name:  "all but one",
			leave: []string{"r1", "r3"},
		},
		{
			name:  "all",
			leave: []string{"r2", "r1", "r3"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			s := NewMemoryStore()
			memMust(t, s.CreateUser(ctx, memUserFor("ana", memT0), 0))
			memMust(t, s.CreateUser(ctx, memUserFor("ben", memT0), 0))
			for _, r := range rooms {
				owner := memMemberFor("ben")
				memMust(t, s.CreateRoom(ctx, memRoomFor(r, "ben", 5, memT0), &owner, 0))
				tok := memHash("invite " + r)
				memMust(t, s.CreateInvite(ctx, Invite{Token: tok, Room: r, ExpiresAt: memT0.Add(time.Hour)}, "", memT0))
				_, err := s.Redeem(ctx, tok, memMemberFor("ana"), memT0, len(rooms))
				memMust(t, err)
			}
			for _, r := range tt.leave {
				if _, err := s.Leave(ctx, r, "ana"); err != nil {
					t.Fatalf("Leave(%s): %v", r, err)
				}
			}
			var want []string
			for _, r := range rooms {
				_, err := s.Message(ctx, r, "ana", memT0)
				if slices.Contains(tt.leave, r) {
					if !errors.Is(err, ErrNotMember) {
						t.Fatalf("Message in %s, left: %v, want ErrNotMember", r, err)
					}
					continue
				}
				want = append(want, r)
				if err != nil {
					t.Fatalf("Message in %s: %v", r, err)
				}
			}
			got, _ := s.UserRooms(ctx, "ana")
			if slices.Sort(got); !slices.Equal(got, want) {
				t.Fatalf("UserRooms(ana) = %q, want %q", got, want)
			}
			if aside := s.more[s.users.byID("ana")]; len(want) <= 1 && aside != nil {
				t.Fatalf("ana has %d rooms aside, want none", len(aside))
			}
			// One seat is free again under maxRooms.
			tok := memHash("invite r4")
			owner := memMemberFor("ben")
			memMust(t, s.CreateRoom(ctx, memRoomFor("r4", "ben", 5, memT0), &owner, 0))
			memMust(t, s.CreateInvite(ctx, Invite{Token: tok, Room: "r4", ExpiresAt: memT0.Add(time.Hour)}, "", memT0))
			if _, err := s.Redeem(ctx, tok, memMemberFor("ana"), memT0, len(rooms)); err != nil {
				t.Fatalf("Redeem with %d of %d rooms: %v", len(want), len(rooms), err)
			}
		})
	}
}

// TestMemoryStoreTidy checks that a map a burst left mostly empty is
// copied (a Go map keeps the memory of its largest size) and that what it
// still held keeps working.
func TestMemoryStoreTidy(t *testing.T) {
	const burst = memTidyMin + 100
	ctx := context.Background()
	later := memT0.Add(time.Hour)
	tests := []struct {
		name string
		// fill makes a burst of entries in one map of s, then deletes all
		// but a few of them.
		fill func(t *testing.T, s *MemoryStore)
		// peak is the map's peak entries afterwards.
		peak func(s *MemoryStore) int
		// check checks that the entries left still work.
		check func(t *testing.T, s *MemoryStore)
	}{
		{
			name: "invites expired",
			fill: func(t *testing.T, s *MemoryStore) {
				memMust(t, s.CreateUser(ctx, memUserFor("own", memT0), 0))
				memMust(t, s.CreateUser(ctx, memUserFor("ben", memT0), 0))
				for r := range 2 {
					room := fmt.Sprint("r", r)
					owner := memMemberFor("own")
					memMust(t, s.CreateRoom(ctx, memRoomFor(room, "own", 1000, memT0), &owner, 0))
					for i := range burst / 2 {
						exp := memT0.Add(time.Minute)
						if i == 0 {
							exp = later.Add(time.Hour) // survives
						}
						memMust(t, s.CreateInvite(ctx, Invite{Token: memHash(fmt.Sprint(room, i)), Room: room, ExpiresAt: exp}, "own", memT0))
					}
				}
				if n, err := s.ExpireInvites(ctx, later); err != nil || n != burst-2 {
					t.Fatalf("ExpireInvites = %d %v, want %d", n, err, burst-2)
				}
			},
			peak: func(s *MemoryStore) int { return s.peak.invites },
			check: func(t *testing.T, s *MemoryStore) {
				if _, err := s.Redeem(ctx, memHash("r01"), memMemberFor("ben"), later, 0); !errors.Is(err, ErrInviteInvalid) {
					t.Fatalf("Redeem of an expired invite = %v, want ErrInviteInvalid", err)
				}
				for r := range 2 {
					_, err := s.Redeem(ctx, memHash(fmt.Sprintf("r%d0", r)), memMemberFor("ben"), later, 0)
					_, ms, _ := s.Room(ctx, fmt.Sprintf("r%d", r))
					if err != nil || len(ms) != 2 {
						t.Fatalf("Redeem of a pending invite: %v %v", ms, err)
					}
				}
			},
		},
		{
			name: "away users back",
			fill: func(t *testing.T, s *MemoryStore) {
				for i := range burst {
					id := fmt.Sprint("u", i)
					memMust(t, s.CreateUser(ctx, memUserFor(id, memT0), 0))
					memMust(t, s.Attach(ctx, id, memT0))
					owner := memMemberFor(id)
					memMust(t, s.CreateRoom(ctx, memRoomFor("r"+id, id, 2, memT0), &owner, 0))
					memMust(t, s.Detach(ctx, id, memT0))
				}
				for i := 3; i < burst; i++ {
					memMust(t, s.Attach(ctx, fmt.Sprint("u", i), memT0))
				}
			},
			peak: func(s *MemoryStore) int { return s.peak.away },
			check: func(t *testing.T, s *MemoryStore) {
				ds, err := s.VacateUsers(ctx, later)
				if err != nil || len(ds) != 3 {
					t.Fatalf("VacateUsers = %+v %v, want u0, u1, u2", ds, err)
				}
			},
		},
		{
			name: "users forgotten",
			fill: func(t *testing.T, s *MemoryStore) {
				for i := range burst {
					seen := memT0
					if i < 3 {
						seen = later.Add(time.Hour) // survives
					}
					memMust(t, s.CreateUser(ctx, memUserFor(fmt.Sprint("u", i), seen), 0))
				}
				if ds, err := s.ForgetUsers(ctx, later, later); err != nil || len(ds) != burst-3 {
					t.Fatalf("ForgetUsers forgot %d %v, want %d", len(ds), err, burst-3)
				}
			},
			peak: func(s *MemoryStore) int { return max(len(s.users.slots), len(s.tokens.slots)) },
			check: func(t *testing.T, s *MemoryStore) {
				if u, err := s.UserByToken(ctx, memHash("session u2")); err != nil || u.ID != "u2" {
					t.Fatalf("UserByToken(u2) = %+v %v", u, err)
				}
				memMust(t, s.Attach(ctx, "u2", later))
				if _, err := s.UserByToken(ctx, memHash("session u3")); !errors.Is(err, ErrNotFound) {
					t.Fatalf("UserByToken(u3) = %v, want ErrNotFound", err)
				}
			},
		},
		{
			name: "rooms closed idle",
			fill: func(t *testing.T, s *MemoryStore) {
				memMust(t, s.CreateUser(ctx, memUserFor("own", memT0), 0))
				for i := range burst {
					active := memT0
					if i < 3 {
						active = later.Add(time.Hour) // survives
					}
					owner := memMemberFor("own")
					memMust(t, s.CreateRoom(ctx, memRoomFor(fmt.Sprint("r", i), "own", 2, active), &owner, 0))
				}
				if closed, err := s.CloseIdleRooms(ctx, later); err != nil || len(closed) != burst-3 {
					t.Fatalf("CloseIdleRooms closed %d %v, want %d", len(closed), err, burst-3)
				}
			},
			peak: func(s *MemoryStore) int { return s.peak.rooms },
			check: func(t *testing.T, s *MemoryStore) {
				if rs, _ := s.UserRooms(ctx, "own"); len(rs) != 3 {
					t.Fatalf("UserRooms(own) = %q, want 3 rooms", rs)
				}
				if _, err := s.Message(ctx, "r2", "own", later); err != nil {
					t.Fatalf("Message in a room left open: %v", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewMemoryStore()
			tt.fill(t, s)
			if p := tt.peak(s); p >= memTidyMin {
				t.Fatalf("peak = %d after the burst emptied, want the map copied (peak < %d)", p, memTidyMin)
			}
			tt.check(t, s)
		})
	}
}

func memMust(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestMemoryStoreIdleIndex: the idle index (rooms by the minute of their
// last activity) holds every room once, under its minute, through
// creations, messages that move a room forwards or back (a batch carries
// an earlier instant), closes and sweeps, with instants on both sides of
// a minute and before 1970; and CloseIdleRooms closes exactly the rooms a
// look at every room would.
func TestMemoryStoreIdleIndex(t *testing.T) {
	ctx := context.Background()
	s := NewMemoryStore()
	if err := s.CreateUser(ctx, memUserFor("u", memT0), 0); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		filed := 0
		for m, head := range s.idle {
			if head == nil || head.prev != nil {
				t.Fatalf("%s: minute %d's list has a bad head", when, m)
			}
			for mr := head; mr != nil; mr = mr.next {
				if !mr.filed || mr.minute != m || memMinute(mr.room.ActiveAt) != m || s.rooms[mr.room.ID] != mr {
					t.Fatalf("%s: room %s filed under minute %d, active at %v (minute %d)", when, mr.room.ID, m, mr.room.ActiveAt, memMinute(mr.room.ActiveAt))
				}
				if mr.next != nil && mr.next.prev != mr {
					t.Fatalf("%s: room %s's next does not point back", when, mr.room.ID)
				}
				filed++
			}
		}
		if filed != len(s.rooms) {
			t.Fatalf("%s: %d rooms filed, %d rooms", when, filed, len(s.rooms))
		}
	}
	bases := []time.Time{memT0, time.Unix(-90, 0), time.Unix(0, 0).Add(-time.Nanosecond), time.Unix(59, 999999999)}
	at := func(i int) time.Time { return bases[i%len(bases)].Add(time.Duration(i%7-3) * 20 * time.Second) }
	for i := range 200 {
		if err := s.CreateRoom(ctx, memRoomFor(fmt.Sprint("r", i), "", 10, at(i)), nil, 0); err != nil {
			t.Fatal(err)
		}
	}
	check("created")
	for i := range 200 {
		if i%3 == 0 {
			continue
		}
		// Messages need a seat: seat u in the room first.
		mr := s.rooms[fmt.Sprint("r", i)]
		s.seat(mr, memMemberFor("u"))
		if _, err := s.Message(ctx, mr.room.ID, "u", at(i*5+1)); err != nil {
			t.Fatal(err)
		}
	}
	check("after messages")
	for i := 0; i < 200; i += 11 {
		if _, err := s.CloseRoom(ctx, fmt.Sprint("r", i)); err != nil && !errors.Is(err, ErrNotFound) {
			t.Fatal(err)
		}
	}
	check("after closes")
	// A list's head moved away with rooms behind it: they stay filed.
	for _, id := range []string{"h1", "h2", "h3"} {
		if err := s.CreateRoom(ctx, memRoomFor(id, "", 10, memT0.Add(-time.Hour)), nil, 0); err != nil {
			t.Fatal(err)
		}
	}
	h3 := s.rooms["h3"] // the head of its minute: filed last
	s.seat(h3, memMemberFor("u"))
	if _, err := s.Message(ctx, "h3", "u", memT0); err != nil {
		t.Fatal(err)
	}
	check("after the head moved on")
	for _, cut := range []time.Time{time.Unix(-60, 0), time.Unix(0, 0), time.Unix(30, 0), memT0.Add(-time.Minute), memT0, memT0.Add(time.Hour)} {
		var want []string
		for id, mr := range s.rooms {
			if mr.room.ActiveAt.Before(cut) {
				want = append(want, id)
			}
		}
		closed, err := s.CloseIdleRooms(ctx, cut)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range closed {
			got = append(got, c.Room.ID)
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("CloseIdleRooms(%v) closed %v, want %v", cut, got, want)
		}
		check(fmt.Sprint("after the sweep at ", cut))
	}
	if len(s.rooms) != 0 || len(s.idle) != 0 {
		t.Fatalf("after sweeping past every room: %d rooms, %d minutes indexed", len(s.rooms), len(s.idle))
	}
}

// BenchmarkMemoryStoreIdleSweep is CloseIdleRooms, with the lock every
// request needs, at a busy Hub's once a second: rooms by the thousand, of
// which none is idle yet.
func BenchmarkMemoryStoreIdleSweep(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprint("rooms=", n), func(b *testing.B) {
			ctx := context.Background()
			s := NewMemoryStore()
			for i := range n {
				if err := s.CreateRoom(ctx, memRoomFor(fmt.Sprint("r", i), "", 10, memT0.Add(time.Duration(i%600)*time.Second)), nil, 0); err != nil {
					b.Fatal(err)
				}
			}
			cut := memT0.Add(-time.Second)
			b.ResetTimer()
			for range b.N {
				if closed, _ := s.CloseIdleRooms(ctx, cut); len(closed) != 0 {
					b.Fatal("a room closed")
				}
			}
		})
	}
}

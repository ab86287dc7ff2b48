// Package storetest checks that an epchat.Store keeps the Store contract.
//
// It is to stores what testing/slogtest is to slog handlers: the tests of a
// store call Run with a constructor, and every rule written on epchat.Store
// runs as a named subtest on a fresh store:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) epchat.Store {
//			s, err := mystore.New()
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// The rules that concern racing callers (one-time invites, the last seat,
// sequence numbers, the last leaver, a kick or a lock racing a redeem) are
// hammered from many goroutines; run the suite with -race. Benchmark measures the calls the Hub makes most.
//
// Every instant the suite passes to a store is fixed, in the year 2001, and
// carries nanoseconds and a time zone other than UTC: a store that reads the
// wall clock, rounds times or compares them as text fails.
package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/epchat-go/epchat"
)

// Run runs every rule of the Store contract as a subtest of t, each on a
// store of its own made by newStore. newStore should register the store's
// cleanup with t.Cleanup. Run returns when every subtest has finished.
func Run(t *testing.T, newStore func(t *testing.T) epchat.Store) {
	t.Helper()
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, r := range g.rules {
				t.Run(r.name, func(t *testing.T) {
					s := newStore(t)
					if s == nil {
						t.Fatal("newStore returned nil")
					}
					r.run(newFixture(t, s))
				})
			}
		})
	}
}

// A group is a set of rules about one part of the contract.
type group struct {
	name  string
	rules []rule
}

// A rule checks one rule of the contract on a fresh store.
type rule struct {
	name string
	run  func(f *fixture)
}

// groups lists the whole suite, in the order of the Store interface.
var groups = []group{
	{name: "Users", rules: userRules},
	{name: "Rooms", rules: roomRules},
	{name: "Invites", rules: inviteRules},
	{name: "Redeem", rules: redeemRules},
	{name: "Leave", rules: leaveRules},
	{name: "Kick", rules: kickRules},
	{name: "Lock", rules: lockRules},
	{name: "Message", rules: messageRules},
	{name: "CloseRoom", rules: closeRules},
	{name: "Sweeps", rules: sweepRules},
	{name: "Concurrency", rules: slices.Concat(concurrencyRules, moderationRaces)},
}

// t0 is the instant every rule starts at: far from the wall clock, with
// nanoseconds and an offset, so that a store must keep instants exactly.
var t0 = time.Date(2001, time.February, 3, 4, 5, 6, 789012345, time.FixedZone("UTC+1", 3600))

// at returns t0 plus d.
func at(d time.Duration) time.Time { return t0.Add(d) }

// hash returns the token hash of label; rules name their tokens.
func hash(label string) epchat.TokenHash { return sha256.Sum256([]byte(label)) }

// tokenOf is the session token hash the fixture gives user id.
func tokenOf(id string) epchat.TokenHash { return hash("session " + id) }

// member returns the seat user id takes at instant when.
func member(id string, when time.Time) epchat.Member {
	return epchat.Member{ID: id, Nickname: "nick of " + id, JoinedAt: when}
}

// fixture is one rule's store with helpers that fail the rule when a step
// that is not under test goes wrong.
type fixture struct {
	t   *testing.T
	s   epchat.Store
	ctx context.Context

	mu      sync.Mutex
	invites int // invites made so far, to name the next one
}

func newFixture(t *testing.T, s epchat.Store) *fixture {
	return &fixture{t: t, s: s, ctx: t.Context()}
}

// ok fails the rule now if err is not nil.
func (f *fixture) ok(err error, format string, args ...any) {
	f.t.Helper()
	if err != nil {
		f.t.Fatalf("%s: unexpected error: %v", fmt.Sprintf(format, args...), err)
	}
}

// is fails the rule now unless errors.Is(err, want).
func (f *fixture) is(err, want error, format string, args ...any) {
	f.t.Helper()
	if !errors.Is(err, want) {
		f.t.Fatalf("%s: error = %v, want %v", fmt.Sprintf(format, args...), err, want)
	}
}

// user creates user id with the fixture's token, SeenAt t0 and no
// connection.
func (f *fixture) user(id string) epchat.User {
	f.t.Helper()
	u := epchat.User{
		ID:       id,
		Nickname: "nick of " + id,
		Token:    tokenOf(id),
		SeenAt:   t0,
	}
	f.ok(f.s.CreateUser(f.ctx, u, 0), "CreateUser(%q)", id)
	return u
}

// users creates every user of ids.
func (f *fixture) users(ids ...string) {
	f.t.Helper()
	for _, id := range ids {
		f.user(id)
	}
}

// room creates room id with limit seats at t0, with owner seated first, or
// without an owner if owner is "".
func (f *fixture) room(id, owner string, limit int) {
	f.t.Helper()
	r := epchat.Room{
		ID:        id,
		Owner:     owner,
		Limit:     limit,
		CreatedAt: t0,
		ActiveAt:  t0,
	}
	var m *epchat.Member
	if owner != "" {
		mm := member(owner, t0)
		m = &mm
	}
	f.ok(f.s.CreateRoom(f.ctx, r, m, 0), "CreateRoom(%q)", id)
}

// nextInvite returns a token hash no other invite of the rule has.
func (f *fixture) nextInvite() epchat.TokenHash {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.invites++
	return hash(fmt.Sprintf("invite %d", f.invites))
}

// invite creates a host invite (by "") to room, valid for an hour after t0,
// and returns its token hash.
func (f *fixture) invite(room string) epchat.TokenHash {
	f.t.Helper()
	inv := epchat.Invite{
		Token:     f.nextInvite(),
		Room:      room,
		ExpiresAt: at(time.Hour),
	}
	f.ok(f.s.CreateInvite(f.ctx, inv, "", t0), "CreateInvite(room %q)", room)
	return inv.Token
}

// join seats each of users in room, in order, through host invites, all at
// the instant t0.
func (f *fixture) join(room string, users ...string) {
	f.t.Helper()
	for _, u := range users {
		_, err := f.s.Redeem(f.ctx, f.invite(room), member(u, t0), t0, 0)
		f.ok(err, "Redeem into %q by %q", room, u)
	}
}

// leave makes user leave room.
func (f *fixture) leave(room, user string) epchat.LeaveResult {
	f.t.Helper()
	res, err := f.s.Leave(f.ctx, room, user)
	f.ok(err, "Leave(%q, %q)", room, user)
	return res
}

// get returns room and its members, failing the rule if it is gone.
func (f *fixture) get(room string) (epchat.Room, []epchat.Member) {
	f.t.Helper()
	r, ms, err := f.s.Room(f.ctx, room)
	f.ok(err, "Room(%q)", room)
	return r, ms
}

// gone fails the rule unless room is gone.
func (f *fixture) gone(room string) {
	f.t.Helper()
	_, _, err := f.s.Room(f.ctx, room)
	f.is(err, epchat.ErrNotFound, "Room(%q) of a closed room", room)
}

// seated fails the rule unless the member ids of room are want, in order.
func (f *fixture) seated(room string, want ...string) {
	f.t.Helper()
	_, ms := f.get(room)
	if got := ids(ms); !slices.Equal(got, want) {
		f.t.Fatalf("members of %q = %q, want %q (in join order)", room, got, want)
	}
}

// userRooms fails the rule unless user is seated in exactly rooms.
func (f *fixture) userRooms(user string, rooms ...string) {
	f.t.Helper()
	got, err := f.s.UserRooms(f.ctx, user)
	f.ok(err, "UserRooms(%q)", user)
	got = slices.Clone(got)
	slices.Sort(got)
	want := slices.Sorted(slices.Values(rooms))
	if !slices.Equal(got, want) {
		f.t.Fatalf("UserRooms(%q) = %q, want %q", user, got, want)
	}
}

// lookup returns the user holding token, failing the rule if there is none.
func (f *fixture) lookup(token epchat.TokenHash) epchat.User {
	f.t.Helper()
	u, err := f.s.UserByToken(f.ctx, token)
	f.ok(err, "UserByToken")
	return u
}

// roomIDs lists the ids of every room, sorted.
func (f *fixture) roomIDs() []string {
	f.t.Helper()
	infos, err := f.s.Rooms(f.ctx)
	f.ok(err, "Rooms")
	var out []string
	for _, ri := range infos {
		out = append(out, ri.ID)
	}
	slices.Sort(out)
	return out
}

// expireAll deletes every invite left and returns how many there were.
func (f *fixture) expireAll() int {
	f.t.Helper()
	n, err := f.s.ExpireInvites(f.ctx, at(1000*time.Hour))
	f.ok(err, "ExpireInvites")
	return n
}

// ids returns the ids of ms, in order.
func ids(ms []epchat.Member) []string {
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

// sameInstant reports whether a and b are the same instant; the location
// a store returns need not be the one it was given.
func sameInstant(a, b time.Time) bool { return a.Equal(b) }

// race runs fn(0) ... fn(n-1) on n goroutines released at once, and waits
// for them.
func race(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			fn(i)
		})
	}
	close(start)
	wg.Wait()
}

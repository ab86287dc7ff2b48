package storetest_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/epchat-go/epchat"
	"github.com/epchat-go/epchat/storetest"
)

// The suite is only worth something if it fails stores that break the
// contract. Each broken store below wraps an epchat.MemoryStore and breaks
// one rule, the way a real implementation could (a < written <=, a check
// and a write in two steps, an ORDER BY on the wrong column, ...), and
// names the subtest that must catch it.
//
// How the failure is observed: storetest.Run takes a *testing.T, as
// slogtest.Run does, and a failing *testing.T cannot be watched from inside
// the same test binary run: a failed subtest fails its parent, and a
// testing.T can be neither built nor intercepted. An internal runner behind
// a reporter interface would only test a copy of the plumbing, not the
// t.Run/t.Fatal path a store author gets. So TestSuiteFailsBrokenStores runs
// this test binary again (os.Args[0] -test.run=^TestBrokenStoreChild$, the
// way the os/exec tests use helper processes) with the broken store's name
// in the environment; the child runs the real suite on that store, and the
// parent asserts that it exited non-zero and that its output carries the
// "--- FAIL:" line of the expected subtest, and no panic or data race.

// brokenEnv carries the name of the broken store to a child process.
const brokenEnv = "STORETEST_BROKEN_STORE"

type brokenStore struct {
	// name says what is broken.
	name string
	// fails is the subtest that must fail, below TestBrokenStoreChild; ""
	// means the suite must pass (the control).
	fails string
	// wrap builds the broken store around a fresh MemoryStore.
	wrap func(*epchat.MemoryStore) epchat.Store
}

var brokenStores = []brokenStore{
	{
		name:  "Control",
		fails: "",
		wrap:  func(m *epchat.MemoryStore) epchat.Store { return passThrough{m} },
	},
	{
		name:  "InviteReusable",
		fails: "Redeem/OneTime",
		wrap:  func(m *epchat.MemoryStore) epchat.Store { return &reusableInvites{madeInvites{MemoryStore: m}} },
	},
	{
		name:  "InviteLookupConsumes",
		fails: "Invites/Lookup",
		wrap:  func(m *epchat.MemoryStore) epchat.Store { return &lookupConsumes{MemoryStore: m} },
	},
	{
		name:  "InviteLookupInclusive",
		fails: "Invites/Lookup",
		wrap:  func(m *epchat.MemoryStore) epchat.Store { return lookupInclusive{m} },
	},
	{
		name:  "InviteLookupOutlivesKick",
		fails: "Kick/RevokesInvites",
		wrap:  func(m *epchat.MemoryStore) epchat.Store { return &lookupOutlivesKick{madeInvites{MemoryStore: m}} },
	},
	{
		name:  "RedeemSeatsNonUsers",
		fails: "Redeem/NeedsUser",
		wrap:  func(m *epchat.MemoryStore) epchat.Store { return seatsNonUsers{m, false} },
	},
	{
		name:  "CreateRoomSeatsNonUsers",
		fails: "Rooms/OwnerNeedsUser",
		wrap:  func(m *epchat.MemoryStore) epchat.Store { return seatsNonUsers{m, true} },
	},
	{
		name:  "LimitOffByOne",
		fails: "Invites/RoomFull",
		wrap:  func(m *epchat.MemoryStore) epchat.Store { return offByOne{m} },
	},
	{
		name:  "CloseKeepsInvites",
		fails: "CloseRoom/Cascade",
		wrap:  func(m *epchat.MemoryStore) epchat.Store { return &closeKeepsInvites{MemoryStore: m} },
	},
	{
		name:  "HandOverByID",
		fails: "Leave/OwnerHandsOver",
		wrap:  func(m *epchat.MemoryStore) epchat.Store { return handOverByID{m} },
	},
	{
		name:  "RedeemCheckThenAct",
		fails: "Concurrency/RedeemOneToken",
		wrap:  func(m *epchat.MemoryStore) epchat.Store { return &checkThenAct{MemoryStore: m} },
	},
	{
		name:  "ExpiredInvitesCount",
		fails: "Invites/ExpiredDoNotCount",
		wrap:  func(m *epchat.MemoryStore) epchat.Store { return &expiredCount{MemoryStore: m} },
	},
	{
		name:  "InviteValidAtExpiresAt",
		fails: "Redeem/Expiry",
		wrap:  func(m *epchat.MemoryStore) epchat.Store { return expiryInclusive{m} },
	},
	{
		name:  "IdleAtCutoff",
		fails: "Sweeps/CloseIdleRooms",
		wrap:  func(m *epchat.MemoryStore) epchat.Store { return idleInclusive{m} },
	},
	{
		name:  "FullRoomBurnsInvite",
		fails: "Redeem/RoomFullKeepsInvite",
		wrap:  func(m *epchat.MemoryStore) epchat.Store { return &burnsInvite{MemoryStore: m} },
	},
	{
		name:  "MembersByID",
		fails: "Rooms/JoinOrder",
		wrap:  func(m *epchat.MemoryStore) epchat.Store { return membersByID{m} },
	},
	{
		name:  "NicknameExactMatch",
		fails: "Redeem/NicknameTakenKeepsInvite",
		wrap:  func(m *epchat.MemoryStore) epchat.Store { return &exactNicknames{MemoryStore: m} },
	},
	{
		name:  "SeqReadThenWrite",
		fails: "Concurrency/Message",
		wrap:  func(m *epchat.MemoryStore) epchat.Store { return &racySeq{MemoryStore: m} },
	},
	{
		name:  "NotMemberAsNotFound",
		fails: "Leave/NotMember",
		wrap:  func(m *epchat.MemoryStore) epchat.Store { return wrongSentinel{m} },
	},
	{
		name:  "DetachBelowZero",
		fails: "Users/DetachNeverBelowZero",
		wrap:  func(m *epchat.MemoryStore) epchat.Store { return &belowZero{MemoryStore: m} },
	},
	{
		name:  "ForgetKeepsUsers",
		fails: "Sweeps/ForgetUsers",
		wrap:  func(m *epchat.MemoryStore) epchat.Store { return &forgetKeepsUsers{MemoryStore: m} },
	},
	{
		name:  "KickKeepsSeat",
		fails: "Kick/FreesSeat",
		wrap:  func(m *epchat.MemoryStore) epchat.Store { return kickKeepsSeat{m} },
	},
	{
		name:  "KickKeepsInvites",
		fails: "Kick/RevokesInvites",
		wrap:  func(m *epchat.MemoryStore) epchat.Store { return kickKeepsInvites{m} },
	},
	{
		name:  "KickByAnyone",
		fails: "Kick/OwnerOnly",
		wrap:  func(m *epchat.MemoryStore) epchat.Store { return kickByAnyone{m} },
	},
	{
		name:  "KickNotMemberAsNotFound",
		fails: "Kick/NotMember",
		wrap:  func(m *epchat.MemoryStore) epchat.Store { return kickWrongSentinel{m} },
	},
	{
		name:  "KickHandsOverToNobody",
		fails: "Kick/HostKicksOwner",
		wrap:  func(m *epchat.MemoryStore) epchat.Store { return kickNoHandOver{m} },
	},
	{
		name:  "KickInTwoSteps",
		fails: "Concurrency/KickRevokesAtOnce",
		wrap:  func(m *epchat.MemoryStore) epchat.Store { return &kickTwoSteps{MemoryStore: m} },
	},
	{
		name:  "LockIgnoredByInvites",
		fails: "Lock/RefusesInvites",
		wrap:  func(m *epchat.MemoryStore) epchat.Store { return &lockIgnoredByInvites{MemoryStore: m} },
	},
	{
		name:  "LockedRedeemBurnsInvite",
		fails: "Lock/RedeemKeepsInvite",
		wrap:  func(m *epchat.MemoryStore) epchat.Store { return &lockedBurnsInvite{MemoryStore: m} },
	},
	{
		name:  "LockByAnyone",
		fails: "Lock/OwnerOnly",
		wrap:  func(m *epchat.MemoryStore) epchat.Store { return lockByAnyone{m} },
	},
	{
		name:  "LockKeptFromCreate",
		fails: "Lock/CreatedOpen",
		wrap:  func(m *epchat.MemoryStore) epchat.Store { return &lockFromCreate{MemoryStore: m} },
	},
	{
		name:  "LockCheckThenAct",
		fails: "Concurrency/LockRacesRedeem",
		wrap:  func(m *epchat.MemoryStore) epchat.Store { return &lockCheckThenAct{MemoryStore: m} },
	},
	{
		name:  "SeatlessKeptAsLong",
		fails: "Sweeps/ForgetSeatlessSooner",
		wrap:  func(m *epchat.MemoryStore) epchat.Store { return seatlessKept{m} },
	},
	{
		name:  "UserCapOffByOne",
		fails: "Users/MaxUsers",
		wrap:  func(m *epchat.MemoryStore) epchat.Store { return userCapOffByOne{m} },
	},
	{
		name:  "DeleteKeepsUser",
		fails: "Users/DeleteUser",
		wrap:  func(m *epchat.MemoryStore) epchat.Store { return deleteKeepsUser{m} },
	},
}

// failLine matches the line go test prints for a failed (sub)test.
var failLine = regexp.MustCompile(`--- FAIL: (\S+) \(`)

func TestSuiteFailsBrokenStores(t *testing.T) {
	if os.Getenv(brokenEnv) != "" {
		t.Skip("in a child process")
	}
	for _, bs := range brokenStores {
		t.Run(bs.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.CommandContext(t.Context(), os.Args[0],
				"-test.run=^TestBrokenStoreChild$", "-test.count=1", "-test.timeout=2m")
			cmd.Env = append(os.Environ(), brokenEnv+"="+bs.name)
			out, err := cmd.CombinedOutput()
			for _, bad := range []string{"WARNING: DATA RACE", "panic: "} {
				if strings.Contains(string(out), bad) {
					t.Fatalf("the child hit %q; it must fail by assertion only:\n%s", bad, out)
				}
			}
			var failed []string
			for _, m := range failLine.FindAllStringSubmatch(string(out), -1) {
				failed = append(failed, strings.TrimPrefix(m[1], "TestBrokenStoreChild/"))
			}
			if bs.fails == "" {
				if err != nil {
					t.Fatalf("the suite failed the control store (%v), subtests %q:\n%s", err, failed, out)
				}
				return
			}
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() == 0 {
				t.Fatalf("the suite passed a store with %s (err %v):\n%s", bs.name, err, out)
			}
			if !slices.Contains(failed, bs.fails) {
				t.Fatalf("the suite failed %q, not %s:\n%s", failed, bs.fails, out)
			}
			t.Logf("failed subtests: %q", failed)
		})
	}
}

// TestBrokenStoreChild runs the suite on the broken store named in the
// environment; it is a helper process of TestSuiteFailsBrokenStores.
func TestBrokenStoreChild(t *testing.T) {
	name := os.Getenv(brokenEnv)
	if name == "" {
		t.Skip("runs only as a child of TestSuiteFailsBrokenStores")
	}
	i := slices.IndexFunc(brokenStores, func(bs brokenStore) bool { return bs.name == name })
	if i < 0 {
		t.Fatalf("no broken store %q", name)
	}
	storetest.Run(t, func(*testing.T) epchat.Store {
		return brokenStores[i].wrap(epchat.NewMemoryStore())
	})
}

// passThrough breaks nothing: the suite must pass it.
type passThrough struct{ *epchat.MemoryStore }

// madeInvites wraps a MemoryStore and keeps a copy of each invite it made,
// for the broken stores that act on their own copy.
type madeInvites struct {
	*epchat.MemoryStore
	mu   sync.Mutex
	made map[epchat.TokenHash]epchat.Invite
}

func (s *madeInvites) CreateInvite(ctx context.Context, inv epchat.Invite, by string, now time.Time) error {
	err := s.MemoryStore.CreateInvite(ctx, inv, by, now)
	if err == nil {
		s.mu.Lock()
		if s.made == nil {
			s.made = make(map[epchat.TokenHash]epchat.Invite)
		}
		s.made[inv.Token] = inv
		s.mu.Unlock()
	}
	return err
}

// copyOf returns the copy of the invite with token hash, if one is kept.
func (s *madeInvites) copyOf(token epchat.TokenHash) (epchat.Invite, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inv, ok := s.made[token]
	return inv, ok
}

// reusableInvites puts an invite back after each successful Redeem.
type reusableInvites struct{ madeInvites }

func (s *reusableInvites) Redeem(ctx context.Context, token epchat.TokenHash, m epchat.Member, now time.Time, maxRooms int) (epchat.Room, error) {
	r, err := s.MemoryStore.Redeem(ctx, token, m, now, maxRooms)
	if err == nil {
		inv, _ := s.copyOf(token)
		_ = s.MemoryStore.CreateInvite(ctx, inv, "", now)
	}
	return r, err
}

// lookupConsumes spends the invite it is asked about, as an Invite
// written with Redeem's statements could.
type lookupConsumes struct {
	*epchat.MemoryStore
	mu    sync.Mutex
	spent map[epchat.TokenHash]bool
}

func (s *lookupConsumes) Invite(ctx context.Context, token epchat.TokenHash, now time.Time) (epchat.Invite, error) {
	inv, err := s.MemoryStore.Invite(ctx, token, now)
	if err == nil {
		s.mu.Lock()
		if s.spent == nil {
			s.spent = make(map[epchat.TokenHash]bool)
		}
		s.spent[token] = true
		s.mu.Unlock()
	}
	return inv, err
}

func (s *lookupConsumes) Redeem(ctx context.Context, token epchat.TokenHash, m epchat.Member, now time.Time, maxRooms int) (epchat.Room, error) {
	s.mu.Lock()
	spent := s.spent[token]
	s.mu.Unlock()
	if spent {
		return epchat.Room{}, epchat.ErrInviteInvalid
	}
	return s.MemoryStore.Redeem(ctx, token, m, now, maxRooms)
}

// lookupInclusive still finds an invite at its ExpiresAt.
type lookupInclusive struct{ *epchat.MemoryStore }

func (s lookupInclusive) Invite(ctx context.Context, token epchat.TokenHash, now time.Time) (epchat.Invite, error) {
	return s.MemoryStore.Invite(ctx, token, now.Add(-time.Nanosecond))
}

// lookupOutlivesKick answers Invite from a cache of its own that a
// redemption and a close update but a kick does not: it keeps finding
// the invites a kick revoked.
type lookupOutlivesKick struct{ madeInvites }

func (s *lookupOutlivesKick) Redeem(ctx context.Context, token epchat.TokenHash, m epchat.Member, now time.Time, maxRooms int) (epchat.Room, error) {
	r, err := s.MemoryStore.Redeem(ctx, token, m, now, maxRooms)
	if err == nil {
		s.mu.Lock()
		delete(s.made, token)
		s.mu.Unlock()
	}
	return r, err
}

func (s *lookupOutlivesKick) CloseRoom(ctx context.Context, room string) (epchat.ClosedRoom, error) {
	c, err := s.MemoryStore.CloseRoom(ctx, room)
	s.mu.Lock()
	for h, inv := range s.made {
		if inv.Room == room {
			delete(s.made, h)
		}
	}
	s.mu.Unlock()
	return c, err
}

func (s *lookupOutlivesKick) Invite(ctx context.Context, token epchat.TokenHash, now time.Time) (epchat.Invite, error) {
	inv, ok := s.copyOf(token)
	if !ok || !now.Before(inv.ExpiresAt) {
		return epchat.Invite{}, epchat.ErrInviteInvalid
	}
	return inv, nil
}

// seatsNonUsers seats an id that is no user, as a store that never checks
// the seat's user would: it makes the user on the way (in CreateRoom when
// rooms is set, else in Redeem).
type seatsNonUsers struct {
	*epchat.MemoryStore
	rooms bool
}

func (s seatsNonUsers) makeUser(ctx context.Context, id string, now time.Time) {
	tok := sha256.Sum256([]byte("made for " + id))
	_ = s.MemoryStore.CreateUser(ctx, epchat.User{ID: id, Nickname: id, Token: tok, SeenAt: now}, 0)
}

func (s seatsNonUsers) CreateRoom(ctx context.Context, r epchat.Room, owner *epchat.Member, maxRooms int) error {
	err := s.MemoryStore.CreateRoom(ctx, r, owner, maxRooms)
	if s.rooms && owner != nil && errors.Is(err, epchat.ErrNotFound) {
		s.makeUser(ctx, owner.ID, r.CreatedAt)
		err = s.MemoryStore.CreateRoom(ctx, r, owner, maxRooms)
	}
	return err
}

func (s seatsNonUsers) Redeem(ctx context.Context, token epchat.TokenHash, m epchat.Member, now time.Time, maxRooms int) (epchat.Room, error) {
	r, err := s.MemoryStore.Redeem(ctx, token, m, now, maxRooms)
	if !s.rooms && errors.Is(err, epchat.ErrNotFound) {
		s.makeUser(ctx, m.ID, now)
		r, err = s.MemoryStore.Redeem(ctx, token, m, now, maxRooms)
	}
	return r, err
}

// offByOne enforces one seat more than the Limit it reports.
type offByOne struct{ *epchat.MemoryStore }

func (s offByOne) CreateRoom(ctx context.Context, r epchat.Room, owner *epchat.Member, maxRooms int) error {
	r.Limit++
	return s.MemoryStore.CreateRoom(ctx, r, owner, maxRooms)
}

func (s offByOne) Room(ctx context.Context, room string) (epchat.Room, []epchat.Member, error) {
	r, ms, err := s.MemoryStore.Room(ctx, room)
	r.Limit--
	return r, ms, err
}

func (s offByOne) Rooms(ctx context.Context) ([]epchat.RoomInfo, error) {
	rs, err := s.MemoryStore.Rooms(ctx)
	for i := range rs {
		rs[i].Limit--
	}
	return rs, err
}

func (s offByOne) Redeem(ctx context.Context, token epchat.TokenHash, m epchat.Member, now time.Time, maxRooms int) (epchat.Room, error) {
	r, err := s.MemoryStore.Redeem(ctx, token, m, now, maxRooms)
	r.Limit--
	return r, err
}

func (s offByOne) CloseRoom(ctx context.Context, room string) (epchat.ClosedRoom, error) {
	c, err := s.MemoryStore.CloseRoom(ctx, room)
	c.Room.Limit--
	return c, err
}

func (s offByOne) CloseIdleRooms(ctx context.Context, before time.Time) ([]epchat.ClosedRoom, error) {
	cs, err := s.MemoryStore.CloseIdleRooms(ctx, before)
	for i := range cs {
		cs[i].Room.Limit--
	}
	return cs, err
}

// closeKeepsInvites forgets to delete the invites of a room closed by
// CloseRoom: they still count as pending and they seat their redeemer in a
// later room of the same id.
type closeKeepsInvites struct {
	*epchat.MemoryStore
	mu      sync.Mutex
	invites map[epchat.TokenHash]epchat.Invite // pending
	orphans map[epchat.TokenHash]epchat.Invite // of closed rooms, never deleted
}

func (s *closeKeepsInvites) CreateInvite(ctx context.Context, inv epchat.Invite, by string, now time.Time) error {
	err := s.MemoryStore.CreateInvite(ctx, inv, by, now)
	if err == nil {
		s.mu.Lock()
		if s.invites == nil {
			s.invites = make(map[epchat.TokenHash]epchat.Invite)
			s.orphans = make(map[epchat.TokenHash]epchat.Invite)
		}
		s.invites[inv.Token] = inv
		s.mu.Unlock()
	}
	return err
}

func (s *closeKeepsInvites) CloseRoom(ctx context.Context, room string) (epchat.ClosedRoom, error) {
	c, err := s.MemoryStore.CloseRoom(ctx, room)
	if err == nil {
		s.mu.Lock()
		for h, inv := range s.invites {
			if inv.Room == room {
				s.orphans[h] = inv
				delete(s.invites, h)
			}
		}
		s.mu.Unlock()
	}
	return c, err
}

func (s *closeKeepsInvites) Redeem(ctx context.Context, token epchat.TokenHash, m epchat.Member, now time.Time, maxRooms int) (epchat.Room, error) {
	r, err := s.MemoryStore.Redeem(ctx, token, m, now, maxRooms)
	s.mu.Lock()
	orphan, ok := s.orphans[token]
	if err == nil {
		delete(s.invites, token)
	}
	s.mu.Unlock()
	if !errors.Is(err, epchat.ErrInviteInvalid) || !ok || !orphan.ExpiresAt.After(now) {
		return r, err
	}
	fresh := orphan
	fresh.Token = sha256.Sum256(token[:])
	if s.MemoryStore.CreateInvite(ctx, fresh, "", now) != nil {
		return r, err
	}
	s.mu.Lock()
	delete(s.orphans, token)
	s.mu.Unlock()
	return s.MemoryStore.Redeem(ctx, fresh.Token, m, now, maxRooms)
}

func (s *closeKeepsInvites) ExpireInvites(ctx context.Context, now time.Time) (int, error) {
	n, err := s.MemoryStore.ExpireInvites(ctx, now)
	s.mu.Lock()
	defer s.mu.Unlock()
	for h, inv := range s.orphans {
		if !inv.ExpiresAt.After(now) {
			delete(s.orphans, h)
			n++
		}
	}
	return n, err
}

// handOverByID reports the remaining member with the smallest id as the new
// owner, not the earliest-joined.
type handOverByID struct{ *epchat.MemoryStore }

func (s handOverByID) Leave(ctx context.Context, room, user string) (epchat.LeaveResult, error) {
	res, err := s.MemoryStore.Leave(ctx, room, user)
	if err != nil || res.NewOwner == "" {
		return res, err
	}
	_, ms, err := s.MemoryStore.Room(ctx, room)
	if err != nil {
		return res, err
	}
	for _, m := range ms {
		if m.ID < res.NewOwner {
			res.NewOwner = m.ID
		}
	}
	return res, nil
}

// checkThenAct checks an invite in one step and consumes it in another,
// with a wait in between: two racing callers can both pass the check, and
// the second, trusting it, seats its user anyway. The first caller past
// the check waits (up to 100 ms) for a second one, so the race is lost
// however the racers are scheduled: with a bare yield it was sometimes won
// on a loaded machine, and the suite looked as if it missed this store.
type checkThenAct struct {
	*epchat.MemoryStore
	mu      sync.Mutex
	gen     map[string]int // room id -> how many times it was created
	invites map[epchat.TokenHash]checkedInvite
	used    map[epchat.TokenHash]bool
	checked int           // callers past the check
	two     chan struct{} // closed when a second caller passed the check
}

type checkedInvite struct {
	epchat.Invite
	gen int
}

func (s *checkThenAct) init() {
	if s.gen == nil {
		s.gen = make(map[string]int)
		s.invites = make(map[epchat.TokenHash]checkedInvite)
		s.used = make(map[epchat.TokenHash]bool)
		s.two = make(chan struct{})
	}
}

func (s *checkThenAct) CreateRoom(ctx context.Context, r epchat.Room, owner *epchat.Member, maxRooms int) error {
	err := s.MemoryStore.CreateRoom(ctx, r, owner, maxRooms)
	if err == nil {
		s.mu.Lock()
		s.init()
		s.gen[r.ID]++
		s.mu.Unlock()
	}
	return err
}

func (s *checkThenAct) CreateInvite(ctx context.Context, inv epchat.Invite, by string, now time.Time) error {
	err := s.MemoryStore.CreateInvite(ctx, inv, by, now)
	if err == nil {
		s.mu.Lock()
		s.init()
		s.invites[inv.Token] = checkedInvite{inv, s.gen[inv.Room]}
		s.mu.Unlock()
	}
	return err
}

func (s *checkThenAct) Redeem(ctx context.Context, token epchat.TokenHash, m epchat.Member, now time.Time, maxRooms int) (epchat.Room, error) {
	// Check.
	s.mu.Lock()
	s.init()
	inv, ok := s.invites[token]
	valid := ok && !s.used[token] && inv.ExpiresAt.After(now) && inv.gen == s.gen[inv.Room]
	if valid {
		if s.checked++; s.checked == 2 {
			close(s.two)
		}
	}
	s.mu.Unlock()
	if !valid {
		return epchat.Room{}, epchat.ErrInviteInvalid
	}
	r, ms, err := s.MemoryStore.Room(ctx, inv.Room)
	if err != nil {
		return epchat.Room{}, epchat.ErrInviteInvalid
	}
	if slices.ContainsFunc(ms, func(x epchat.Member) bool { return x.ID == m.ID }) {
		return epchat.Room{}, epchat.ErrAlreadyMember
	}
	if len(ms) >= r.Limit {
		return epchat.Room{}, epchat.ErrRoomFull
	}
	if rooms, _ := s.MemoryStore.UserRooms(ctx, m.ID); maxRooms > 0 && len(rooms) >= maxRooms {
		return epchat.Room{}, epchat.ErrTooManyRooms
	}
	select { // widen the gap between check and act
	case <-s.two:
	case <-time.After(100 * time.Millisecond):
	}
	// Act, on the strength of the check.
	r, err = s.MemoryStore.Redeem(ctx, token, m, now, maxRooms)
	if errors.Is(err, epchat.ErrInviteInvalid) {
		fresh := inv.Invite
		fresh.Token = sha256.Sum256(append(token[:], m.ID...))
		if err := s.MemoryStore.CreateInvite(ctx, fresh, "", now); err != nil {
			return epchat.Room{}, err
		}
		r, err = s.MemoryStore.Redeem(ctx, fresh.Token, m, now, maxRooms)
	}
	if err == nil {
		s.mu.Lock()
		s.used[token] = true
		s.mu.Unlock()
	}
	return r, err
}

// expiredCount counts every invite not redeemed or swept against the cap of
// pending invites, expired or not.
type expiredCount struct {
	*epchat.MemoryStore
	mu      sync.Mutex
	invites map[epchat.TokenHash]epchat.Invite
}

func (s *expiredCount) CreateInvite(ctx context.Context, inv epchat.Invite, by string, now time.Time) error {
	if r, _, err := s.MemoryStore.Room(ctx, inv.Room); err == nil {
		s.mu.Lock()
		n := 0
		for _, other := range s.invites {
			if other.Room == inv.Room {
				n++
			}
		}
		s.mu.Unlock()
		if n >= r.Limit {
			return epchat.ErrTooManyInvites
		}
	}
	err := s.MemoryStore.CreateInvite(ctx, inv, by, now)
	if err == nil {
		s.mu.Lock()
		if s.invites == nil {
			s.invites = make(map[epchat.TokenHash]epchat.Invite)
		}
		s.invites[inv.Token] = inv
		s.mu.Unlock()
	}
	return err
}

func (s *expiredCount) Redeem(ctx context.Context, token epchat.TokenHash, m epchat.Member, now time.Time, maxRooms int) (epchat.Room, error) {
	r, err := s.MemoryStore.Redeem(ctx, token, m, now, maxRooms)
	if err == nil {
		s.mu.Lock()
		delete(s.invites, token)
		s.mu.Unlock()
	}
	return r, err
}

func (s *expiredCount) ExpireInvites(ctx context.Context, now time.Time) (int, error) {
	n, err := s.MemoryStore.ExpireInvites(ctx, now)
	s.mu.Lock()
	defer s.mu.Unlock()
	for h, inv := range s.invites {
		if !inv.ExpiresAt.After(now) {
			delete(s.invites, h)
		}
	}
	return n, err
}

// expiryInclusive still accepts an invite at its ExpiresAt.
type expiryInclusive struct{ *epchat.MemoryStore }

func (s expiryInclusive) Redeem(ctx context.Context, token epchat.TokenHash, m epchat.Member, now time.Time, maxRooms int) (epchat.Room, error) {
	return s.MemoryStore.Redeem(ctx, token, m, now.Add(-time.Nanosecond), maxRooms)
}

// idleInclusive closes rooms whose last activity is at the cut-off, too.
type idleInclusive struct{ *epchat.MemoryStore }

func (s idleInclusive) CloseIdleRooms(ctx context.Context, before time.Time) ([]epchat.ClosedRoom, error) {
	return s.MemoryStore.CloseIdleRooms(ctx, before.Add(time.Nanosecond))
}

// burnsInvite consumes an invite even when Redeem fails with ErrRoomFull,
// ErrAlreadyMember or ErrTooManyRooms.
type burnsInvite struct {
	*epchat.MemoryStore
	mu     sync.Mutex
	burned map[epchat.TokenHash]bool
}

func (s *burnsInvite) Redeem(ctx context.Context, token epchat.TokenHash, m epchat.Member, now time.Time, maxRooms int) (epchat.Room, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.burned[token] {
		return epchat.Room{}, epchat.ErrInviteInvalid
	}
	r, err := s.MemoryStore.Redeem(ctx, token, m, now, maxRooms)
	if errors.Is(err, epchat.ErrRoomFull) || errors.Is(err, epchat.ErrAlreadyMember) || errors.Is(err, epchat.ErrTooManyRooms) {
		if s.burned == nil {
			s.burned = make(map[epchat.TokenHash]bool)
		}
		s.burned[token] = true
	}
	return r, err
}

// membersByID lists members sorted by id, not in join order.
type membersByID struct{ *epchat.MemoryStore }

func (s membersByID) Room(ctx context.Context, room string) (epchat.Room, []epchat.Member, error) {
	r, ms, err := s.MemoryStore.Room(ctx, room)
	slices.SortFunc(ms, func(a, b epchat.Member) int { return strings.Compare(a.ID, b.ID) })
	return r, ms, err
}

// exactNicknames refuses a joiner only when its nickname equals a
// member's byte for byte, not when it merely looks the same. It tells the
// wrapped store a nickname made unique by the member id behind a
// zero-width space (which NicknameKey drops), and strips it on the way
// out; it checks under a lock of its own, so only the comparison is
// wrong.
type exactNicknames struct {
	*epchat.MemoryStore
	mu    sync.Mutex
	rooms map[epchat.TokenHash]string // invite -> room
}

func (s *exactNicknames) CreateInvite(ctx context.Context, inv epchat.Invite, by string, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rooms == nil {
		s.rooms = make(map[epchat.TokenHash]string)
	}
	s.rooms[inv.Token] = inv.Room
	return s.MemoryStore.CreateInvite(ctx, inv, by, now)
}

func (s *exactNicknames) Redeem(ctx context.Context, token epchat.TokenHash, m epchat.Member, now time.Time, maxRooms int) (epchat.Room, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ms, err := s.Room(ctx, s.rooms[token]); err == nil {
		for _, o := range ms {
			if o.Nickname == m.Nickname {
				return epchat.Room{}, epchat.ErrNicknameTaken
			}
		}
	}
	m.Nickname += "\u200b" + m.ID
	return s.MemoryStore.Redeem(ctx, token, m, now, maxRooms)
}

func (s *exactNicknames) Room(ctx context.Context, room string) (epchat.Room, []epchat.Member, error) {
	r, ms, err := s.MemoryStore.Room(ctx, room)
	return r, plainNicks(ms), err
}

// plainNicks strips what exactNicknames added to the nicknames.
func plainNicks(ms []epchat.Member) []epchat.Member {
	for i := range ms {
		ms[i].Nickname, _, _ = strings.Cut(ms[i].Nickname, "\u200b")
	}
	return ms
}

// racySeq keeps its own sequence numbers, read and written in two steps.
type racySeq struct {
	*epchat.MemoryStore
	mu  sync.Mutex
	seq map[string]uint64
}

func (s *racySeq) Message(ctx context.Context, room, user string, now time.Time) (uint64, error) {
	if _, err := s.MemoryStore.Message(ctx, room, user, now); err != nil {
		return 0, err
	}
	s.mu.Lock()
	cur := s.seq[room]
	s.mu.Unlock()
	runtime.Gosched()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seq == nil {
		s.seq = make(map[string]uint64)
	}
	s.seq[room] = cur + 1
	return cur + 1, nil
}

// wrongSentinel answers ErrNotFound where the contract says ErrNotMember.
type wrongSentinel struct{ *epchat.MemoryStore }

func (s wrongSentinel) Leave(ctx context.Context, room, user string) (epchat.LeaveResult, error) {
	res, err := s.MemoryStore.Leave(ctx, room, user)
	if errors.Is(err, epchat.ErrNotMember) {
		err = epchat.ErrNotFound
	}
	return res, err
}

// belowZero lets Detach take Conns below zero.
type belowZero struct {
	*epchat.MemoryStore
	mu    sync.Mutex
	conns map[string]int
}

func (s *belowZero) add(user string, d int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns == nil {
		s.conns = make(map[string]int)
	}
	s.conns[user] += d
}

func (s *belowZero) Attach(ctx context.Context, user string, now time.Time) error {
	err := s.MemoryStore.Attach(ctx, user, now)
	if err == nil {
		s.add(user, 1)
	}
	return err
}

func (s *belowZero) Detach(ctx context.Context, user string, now time.Time) error {
	err := s.MemoryStore.Detach(ctx, user, now)
	if err == nil {
		s.add(user, -1)
	}
	return err
}

func (s *belowZero) UserByToken(ctx context.Context, token epchat.TokenHash) (epchat.User, error) {
	u, err := s.MemoryStore.UserByToken(ctx, token)
	if err == nil {
		s.mu.Lock()
		u.Conns = s.conns[u.ID]
		s.mu.Unlock()
	}
	return u, err
}

// forgetKeepsUsers empties the seats of forgotten users but keeps the users:
// their token still works.
type forgetKeepsUsers struct {
	*epchat.MemoryStore
	mu    sync.Mutex
	users map[string]epchat.User
}

func (s *forgetKeepsUsers) CreateUser(ctx context.Context, u epchat.User, maxUsers int) error {
	err := s.MemoryStore.CreateUser(ctx, u, maxUsers)
	if err == nil {
		s.mu.Lock()
		if s.users == nil {
			s.users = make(map[string]epchat.User)
		}
		s.users[u.ID] = u
		s.mu.Unlock()
	}
	return err
}

func (s *forgetKeepsUsers) ForgetUsers(ctx context.Context, before, seatless time.Time) ([]epchat.Departure, error) {
	ds, err := s.MemoryStore.ForgetUsers(ctx, before, seatless)
	for _, d := range ds {
		s.mu.Lock()
		u := s.users[d.User]
		s.mu.Unlock()
		_ = s.MemoryStore.CreateUser(ctx, u, 0)
	}
	return ds, err
}

// kickKeepsSeat revokes the room's invites but leaves the kicked member
// seated, as a kick that forgot its DELETE would.
type kickKeepsSeat struct{ *epchat.MemoryStore }

func (s kickKeepsSeat) Kick(ctx context.Context, room, by, member string) (epchat.LeaveResult, error) {
	r, ms, err := s.MemoryStore.Room(ctx, room)
	if err != nil {
		return epchat.LeaveResult{}, err
	}
	if by != "" && (r.Owner != by || by == member) {
		return epchat.LeaveResult{}, epchat.ErrForbidden
	}
	if !slices.ContainsFunc(ms, func(m epchat.Member) bool { return m.ID == member }) {
		return epchat.LeaveResult{}, epchat.ErrNotMember
	}
	return epchat.LeaveResult{Room: room, User: member}, nil
}

// kickKeepsInvites kicks as Leave does: the invites pending stay valid.
type kickKeepsInvites struct{ *epchat.MemoryStore }

func (s kickKeepsInvites) Kick(ctx context.Context, room, by, member string) (epchat.LeaveResult, error) {
	r, _, err := s.MemoryStore.Room(ctx, room)
	if err != nil {
		return epchat.LeaveResult{}, err
	}
	if by != "" && (r.Owner != by || by == member) {
		return epchat.LeaveResult{}, epchat.ErrForbidden
	}
	return s.MemoryStore.Leave(ctx, room, member)
}

// kickByAnyone forgets to check who asks.
type kickByAnyone struct{ *epchat.MemoryStore }

func (s kickByAnyone) Kick(ctx context.Context, room, by, member string) (epchat.LeaveResult, error) {
	return s.MemoryStore.Kick(ctx, room, "", member)
}

// kickWrongSentinel says ErrNotFound for a member with no seat.
type kickWrongSentinel struct{ *epchat.MemoryStore }

func (s kickWrongSentinel) Kick(ctx context.Context, room, by, member string) (epchat.LeaveResult, error) {
	res, err := s.MemoryStore.Kick(ctx, room, by, member)
	if errors.Is(err, epchat.ErrNotMember) {
		err = epchat.ErrNotFound
	}
	return res, err
}

// kickNoHandOver kicks the owner without passing ownership on.
type kickNoHandOver struct{ *epchat.MemoryStore }

func (s kickNoHandOver) Kick(ctx context.Context, room, by, member string) (epchat.LeaveResult, error) {
	res, err := s.MemoryStore.Kick(ctx, room, by, member)
	res.NewOwner = ""
	return res, err
}

// kickTwoSteps frees the seat in one step and revokes the invites in
// another, with a yield in between: the kicked member can redeem an old
// invite in the gap.
type kickTwoSteps struct {
	*epchat.MemoryStore
	mu      sync.Mutex
	invites map[string][]epchat.TokenHash // by room
	revoked map[epchat.TokenHash]bool
}

func (s *kickTwoSteps) CreateInvite(ctx context.Context, inv epchat.Invite, by string, now time.Time) error {
	err := s.MemoryStore.CreateInvite(ctx, inv, by, now)
	if err == nil {
		s.mu.Lock()
		if s.invites == nil {
			s.invites = make(map[string][]epchat.TokenHash)
			s.revoked = make(map[epchat.TokenHash]bool)
		}
		s.invites[inv.Room] = append(s.invites[inv.Room], inv.Token)
		s.mu.Unlock()
	}
	return err
}

func (s *kickTwoSteps) Redeem(ctx context.Context, token epchat.TokenHash, m epchat.Member, now time.Time, maxRooms int) (epchat.Room, error) {
	s.mu.Lock()
	revoked := s.revoked[token]
	s.mu.Unlock()
	if revoked {
		return epchat.Room{}, epchat.ErrInviteInvalid
	}
	return s.MemoryStore.Redeem(ctx, token, m, now, maxRooms)
}

func (s *kickTwoSteps) Kick(ctx context.Context, room, by, member string) (epchat.LeaveResult, error) {
	r, _, err := s.MemoryStore.Room(ctx, room)
	if err != nil {
		return epchat.LeaveResult{}, err
	}
	if by != "" && (r.Owner != by || by == member) {
		return epchat.LeaveResult{}, epchat.ErrForbidden
	}
	res, err := s.MemoryStore.Leave(ctx, room, member)
	if err != nil {
		return res, err
	}
	for range 10 {
		runtime.Gosched()
	}
	s.mu.Lock()
	for _, h := range s.invites[room] {
		s.revoked[h] = true
	}
	s.mu.Unlock()
	return res, nil
}

// lockIgnoredByInvites records the lock but lets invites be made.
type lockIgnoredByInvites struct {
	*epchat.MemoryStore
	mu     sync.Mutex
	locked map[string]bool
}

func (s *lockIgnoredByInvites) SetLocked(ctx context.Context, room, by string, locked bool) error {
	if err := s.MemoryStore.SetLocked(ctx, room, by, locked); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.locked == nil {
		s.locked = make(map[string]bool)
	}
	s.locked[room] = locked
	return nil
}

func (s *lockIgnoredByInvites) CreateInvite(ctx context.Context, inv epchat.Invite, by string, now time.Time) error {
	s.mu.Lock()
	locked := s.locked[inv.Room]
	s.mu.Unlock()
	if locked {
		// Unlock around the call, as a store that never checks would.
		s.MemoryStore.SetLocked(ctx, inv.Room, "", false)
		defer s.MemoryStore.SetLocked(ctx, inv.Room, "", true)
	}
	return s.MemoryStore.CreateInvite(ctx, inv, by, now)
}

// lockedBurnsInvite spends an invite that a locked room refused.
type lockedBurnsInvite struct {
	*epchat.MemoryStore
	mu     sync.Mutex
	burned map[epchat.TokenHash]bool
}

func (s *lockedBurnsInvite) Redeem(ctx context.Context, token epchat.TokenHash, m epchat.Member, now time.Time, maxRooms int) (epchat.Room, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.burned[token] {
		return epchat.Room{}, epchat.ErrInviteInvalid
	}
	r, err := s.MemoryStore.Redeem(ctx, token, m, now, maxRooms)
	if errors.Is(err, epchat.ErrRoomLocked) {
		if s.burned == nil {
			s.burned = make(map[epchat.TokenHash]bool)
		}
		s.burned[token] = true
	}
	return r, err
}

// lockByAnyone forgets to check who asks.
type lockByAnyone struct{ *epchat.MemoryStore }

func (s lockByAnyone) SetLocked(ctx context.Context, room, by string, locked bool) error {
	return s.MemoryStore.SetLocked(ctx, room, "", locked)
}

// lockFromCreate keeps the Locked field of the room it is given, as an
// INSERT of every column would.
type lockFromCreate struct{ *epchat.MemoryStore }

func (s *lockFromCreate) CreateRoom(ctx context.Context, r epchat.Room, owner *epchat.Member, maxRooms int) error {
	if err := s.MemoryStore.CreateRoom(ctx, r, owner, maxRooms); err != nil {
		return err
	}
	if r.Locked {
		return s.MemoryStore.SetLocked(ctx, r.ID, "", true)
	}
	return nil
}

// lockCheckThenAct reads the lock in one step and seats in another: it
// takes a room it saw open for open, and seats through the lock (lifting
// it, as a write of the whole room record read at the check would), so a
// lock that lands in between is lost.
type lockCheckThenAct struct{ *epchat.MemoryStore }

func (s *lockCheckThenAct) Redeem(ctx context.Context, token epchat.TokenHash, m epchat.Member, now time.Time, maxRooms int) (epchat.Room, error) {
	rooms, _ := s.MemoryStore.Rooms(ctx)
	time.Sleep(time.Millisecond) // widen the gap between check and act
	for _, ri := range rooms {
		if !ri.Locked {
			if r, _, err := s.MemoryStore.Room(ctx, ri.ID); err == nil && r.Locked {
				s.MemoryStore.SetLocked(ctx, ri.ID, "", false)
			}
		}
	}
	return s.MemoryStore.Redeem(ctx, token, m, now, maxRooms)
}

// seatlessKept applies the user idle cut to every user, seated or not: it
// ignores the sooner cut of users who hold no seat.
type seatlessKept struct{ *epchat.MemoryStore }

func (s seatlessKept) ForgetUsers(ctx context.Context, before, _ time.Time) ([]epchat.Departure, error) {
	return s.MemoryStore.ForgetUsers(ctx, before, before)
}

// userCapOffByOne lets one user more than the cap in: a <= written <.
type userCapOffByOne struct{ *epchat.MemoryStore }

func (s userCapOffByOne) CreateUser(ctx context.Context, u epchat.User, maxUsers int) error {
	if maxUsers > 0 {
		maxUsers++
	}
	return s.MemoryStore.CreateUser(ctx, u, maxUsers)
}

// deleteKeepsUser leaves the user's rooms but does not delete the user:
// its session token still works.
type deleteKeepsUser struct{ *epchat.MemoryStore }

func (s deleteKeepsUser) DeleteUser(ctx context.Context, user string, now time.Time) ([]epchat.LeaveResult, error) {
	rooms, err := s.MemoryStore.UserRooms(ctx, user)
	if err != nil {
		return nil, err
	}
	var out []epchat.LeaveResult
	for _, r := range rooms {
		res, err := s.MemoryStore.Leave(ctx, r, user)
		if err != nil {
			return nil, err
		}
		out = append(out, res)
	}
	return out, nil
}

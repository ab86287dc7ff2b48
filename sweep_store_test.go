package epchat_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/epchat-go/epchat"
)

// countingStore is a Store that counts the calls made to it.
type countingStore struct {
	epchat.Store // a method added to the contract passes through uncounted
	calls        atomic.Int64
}

func (s *countingStore) count() { s.calls.Add(1) }

func (s *countingStore) CreateUser(ctx context.Context, u epchat.User, maxUsers int) error {
	s.count()
	return s.Store.CreateUser(ctx, u, maxUsers)
}

func (s *countingStore) UserByToken(ctx context.Context, token epchat.TokenHash) (epchat.User, error) {
	s.count()
	return s.Store.UserByToken(ctx, token)
}

func (s *countingStore) Attach(ctx context.Context, user string, now time.Time) error {
	s.count()
	return s.Store.Attach(ctx, user, now)
}

func (s *countingStore) Detach(ctx context.Context, user string, now time.Time) error {
	s.count()
	return s.Store.Detach(ctx, user, now)
}

func (s *countingStore) TouchUser(ctx context.Context, user string, now time.Time) error {
	s.count()
	return s.Store.TouchUser(ctx, user, now)
}

func (s *countingStore) DeleteUser(ctx context.Context, user string, now time.Time) ([]epchat.LeaveResult, error) {
	s.count()
	return s.Store.DeleteUser(ctx, user, now)
}

func (s *countingStore) CreateRoom(ctx context.Context, r epchat.Room, owner *epchat.Member, maxRooms int) error {
	s.count()
	return s.Store.CreateRoom(ctx, r, owner, maxRooms)
}

func (s *countingStore) Room(ctx context.Context, room string) (epchat.Room, []epchat.Member, error) {
	s.count()
	return s.Store.Room(ctx, room)
}

func (s *countingStore) Rooms(ctx context.Context) ([]epchat.RoomInfo, error) {
	s.count()
	return s.Store.Rooms(ctx)
}

func (s *countingStore) UserRooms(ctx context.Context, user string) ([]string, error) {
	s.count()
	return s.Store.UserRooms(ctx, user)
}

func (s *countingStore) CloseRoom(ctx context.Context, room string) (epchat.ClosedRoom, error) {
	s.count()
	return s.Store.CloseRoom(ctx, room)
}

func (s *countingStore) CreateInvite(ctx context.Context, inv epchat.Invite, by string, now time.Time) error {
	s.count()
	return s.Store.CreateInvite(ctx, inv, by, now)
}

func (s *countingStore) Redeem(ctx context.Context, token epchat.TokenHash, m epchat.Member, now time.Time, maxRooms int) (epchat.Room, error) {
	s.count()
	return s.Store.Redeem(ctx, token, m, now, maxRooms)
}

func (s *countingStore) Leave(ctx context.Context, room, user string) (epchat.LeaveResult, error) {
	s.count()
	return s.Store.Leave(ctx, room, user)
}

func (s *countingStore) Kick(ctx context.Context, room, by, member string) (epchat.LeaveResult, error) {
	s.count()
	return s.Store.Kick(ctx, room, by, member)
}

func (s *countingStore) SetLocked(ctx context.Context, room, by string, locked bool) error {
	s.count()
	return s.Store.SetLocked(ctx, room, by, locked)
}

func (s *countingStore) Message(ctx context.Context, room, user string, now time.Time) (uint64, error) {
	s.count()
	return s.Store.Message(ctx, room, user, now)
}

func (s *countingStore) CloseIdleRooms(ctx context.Context, before time.Time) ([]epchat.ClosedRoom, error) {
	s.count()
	return s.Store.CloseIdleRooms(ctx, before)
}

func (s *countingStore) VacateUsers(ctx context.Context, before time.Time) ([]epchat.Departure, error) {
	s.count()
	return s.Store.VacateUsers(ctx, before)
}

func (s *countingStore) ForgetUsers(ctx context.Context, before, seatless time.Time) ([]epchat.Departure, error) {
	s.count()
	return s.Store.ForgetUsers(ctx, before, seatless)
}

func (s *countingStore) ExpireInvites(ctx context.Context, now time.Time) (int, error) {
	s.count()
	return s.Store.ExpireInvites(ctx, now)
}

// TestIdleHubStoreCalls: a Hub where nothing happens asks its Store for
// the work of the time rules once a minute, not every second: here two
// members sit silent in a room for nine minutes, their invite long
// expired, before the room's idle timeout of an hour. (The test client answers pings only when it reads: keepalive
// is left out.)
func TestIdleHubStoreCalls(t *testing.T) {
	store := &countingStore{Store: epchat.NewMemoryStore()}
	th := newTestHub(t, epchat.WithStore(store), epchat.WithPingInterval(time.Hour),
		epchat.WithRoomIdleTimeout(time.Hour))
	ana, ben := th.client(t, "Ana"), th.client(t, "Ben")
	room := th.room(t, ana, ben)
	th.clock.Advance(epchat.DefaultInviteTTL + time.Second) // the invites made expire
	before := store.calls.Load()
	const minutes = 9
	for range minutes * 60 {
		th.clock.Advance(time.Second)
	}
	// Four rules once a minute.
	if got, most := store.calls.Load()-before, int64(4*(minutes+1)); got > most {
		t.Errorf("%d Store calls in %d idle minutes, want at most %d", got, minutes, most)
	}
	ana.MustCall("members", map[string]any{"type": "members", "room": room})
}

// TestStoreSweepFindsOthersWork: a room this process never saw active
// (another process's, or one from before a restart on a lasting Store)
// is closed by the sweep every rule gets once a minute, however quiet
// this process is.
func TestStoreSweepFindsOthersWork(t *testing.T) {
	th := newTestHub(t)
	th.clock.Advance(time.Second) // the first sweep, with nothing to do
	now := th.clock.Now()
	r := epchat.Room{ID: "elsewhere", Limit: 2, CreatedAt: now, ActiveAt: now}
	if err := th.store.CreateRoom(context.Background(), r, nil, 0); err != nil {
		t.Fatal(err)
	}
	var idle time.Duration
	for idle = time.Second; idle <= epchat.DefaultRoomIdleTimeout+2*time.Minute; idle += time.Second {
		th.clock.Advance(time.Second)
		if _, _, err := th.store.Room(context.Background(), r.ID); err != nil {
			break
		}
	}
	if idle <= epchat.DefaultRoomIdleTimeout || idle > epchat.DefaultRoomIdleTimeout+time.Minute {
		t.Fatalf("room closed after %v idle, want within a minute after %v", idle, epchat.DefaultRoomIdleTimeout)
	}
}

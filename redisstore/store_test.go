package redisstore

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/epchat-go/epchat"
	"github.com/redis/go-redis/v9"
)

var t0 = time.Date(2025, 11, 24, 12, 0, 0, 0, time.UTC)

func hashOf(s string) epchat.TokenHash { return sha256.Sum256([]byte(s)) }

// mustRoom creates a room owned by owner with the given seats.
func mustRoom(t testing.TB, s *Store, id, owner string, limit int, at time.Time) {
	t.Helper()
	r := epchat.Room{
		ID:        id,
		Owner:     owner,
		Limit:     limit,
		CreatedAt: at,
		ActiveAt:  at,
	}
	m := &epchat.Member{ID: owner, Nickname: "owner", JoinedAt: at}
	ensureUser(t, s, owner, at)
	if err := s.CreateRoom(bg, r, m, 0); err != nil {
		t.Fatal(err)
	}
}

// mustInvite creates an invite to room, valid for 5 minutes after at.
func mustInvite(t testing.TB, s *Store, token, room string, at time.Time) epchat.TokenHash {
	t.Helper()
	inv := epchat.Invite{
		Token:     hashOf(token),
		Room:      room,
		ExpiresAt: at.Add(5 * time.Minute),
	}
	if err := s.CreateInvite(bg, inv, "", at); err != nil {
		t.Fatal(err)
	}
	return inv.Token
}

// mustJoin seats user in room with a fresh invite.
func mustJoin(t testing.TB, s *Store, room, user string, at time.Time) {
	t.Helper()
	tok := mustInvite(t, s, room+"/"+user+"/"+at.String(), room, at)
	m := epchat.Member{ID: user, Nickname: "nick " + user, JoinedAt: at}
	ensureUser(t, s, user, at)
	if _, err := s.Redeem(bg, tok, m, at, 0); err != nil {
		t.Fatal(err)
	}
}

// ensureUser makes user id, connected, unless it exists: only users are
// seated, and one made here for a seat is never away, so the sweeps count
// only the users a test makes itself.
func ensureUser(t testing.TB, s *Store, id string, at time.Time) {
	t.Helper()
	u := epchat.User{ID: id, Nickname: "nick " + id, Token: hashOf("seat " + id), SeenAt: at}
	err := s.CreateUser(bg, u, 0)
	if errors.Is(err, epchat.ErrExists) {
		return
	}
	if err == nil {
		err = s.Attach(bg, id, at)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func mustUser(t testing.TB, s *Store, id string, at time.Time) {
	t.Helper()
	u := epchat.User{
		ID:       id,
		Nickname: "nick " + id,
		Token:    hashOf("session " + id),
		SeenAt:   at,
	}
	if err := s.CreateUser(bg, u, 0); err != nil {
		t.Fatal(err)
	}
}

func userOf(t testing.TB, s *Store, id string) epchat.User {
	t.Helper()
	u, err := s.UserByToken(bg, hashOf("session "+id))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func memberIDs(ms []epchat.Member) string {
	var ids []string
	for _, m := range ms {
		ids = append(ids, m.ID)
	}
	return strings.Join(ids, ",")
}

func TestNewRejectsBadOptions(t *testing.T) {
	c := newClient(t)
	tests := []struct {
		name string
		c    redis.UniversalClient
		opts []Option
	}{
		{
			name: "empty prefix",
			c:    c,
			opts: []Option{WithPrefix("")},
		},
		{
			name: "prefix with a brace",
			c:    c,
			opts: []Option{WithPrefix("a{b")},
		},
		{
			name: "node timeout under a second",
			c:    c,
			opts: []Option{WithNodeTimeout(500 * time.Millisecond)},
		},
		{
			name: "nil client",
			c:    nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.c, append(tt.opts, WithManualHeartbeat())...)
			if err == nil {
				s.Close()
				t.Fatal("New accepted it")
			}
		})
	}
}

func TestNewReportsUnreachableRedis(t *testing.T) {
	newClient(t) // skip without redis-server, like the others
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer c.Close()
	if _, err := New(c, WithManualHeartbeat()); err == nil {
		t.Fatal("New succeeded without a Redis")
	}
}

// TestPrefixIsolatesDeployments: two deployments on one Redis do not see
// each other's rooms, users or invites, even with the same ids.
func TestPrefixIsolatesDeployments(t *testing.T) {
	c := newClient(t)
	a := newStoreOn(t, c, freshPrefix())
	b := newStoreOn(t, c, freshPrefix())
	mustUser(t, a, "ann", t0)
	mustRoom(t, a, "room", "ann", 2, t0)
	tok := mustInvite(t, a, "invite", "room", t0)

	if _, _, err := b.Room(bg, "room"); !errors.Is(err, epchat.ErrNotFound) {
		t.Errorf("Room in the other deployment: %v, want ErrNotFound", err)
	}
	if _, err := b.UserByToken(bg, hashOf("session ann")); !errors.Is(err, epchat.ErrNotFound) {
		t.Errorf("UserByToken in the other deployment: %v, want ErrNotFound", err)
	}
	if _, err := b.Redeem(bg, tok, epchat.Member{ID: "bob"}, t0, 0); !errors.Is(err, epchat.ErrInviteInvalid) {
		t.Errorf("Redeem in the other deployment: %v, want ErrInviteInvalid", err)
	}
	mustRoom(t, b, "room", "bea", 2, t0) // the same id is free there
	if rs, _ := b.Rooms(bg); len(rs) != 1 || rs[0].Owner != "bea" {
		t.Errorf("Rooms of the other deployment = %+v, want only bea's room", rs)
	}
	ensureUser(t, a, "bob", t0)
	if _, err := a.Redeem(bg, tok, epchat.Member{ID: "bob"}, t0, 0); err != nil {
		t.Errorf("Redeem in the first deployment: %v", err)
	}
}

// TestHandOverFollowsJoinOrder: ownership goes to the earliest joined
// member even when every JoinedAt is equal and the ids sort the other way.
func TestHandOverFollowsJoinOrder(t *testing.T) {
	s := newStore(t)
	mustRoom(t, s, "room", "mid", 4, t0)
	for _, u := range []string{"zed", "amy", "kim"} {
		mustJoin(t, s, "room", u, t0)
	}
	_, ms, err := s.Room(bg, "room")
	if err != nil {
		t.Fatal(err)
	}
	if got := memberIDs(ms); got != "mid,zed,amy,kim" {
		t.Fatalf("members = %s, want join order mid,zed,amy,kim", got)
	}
	for _, step := range []struct {
		leaver string
		owner  string
	}{
		{
			leaver: "mid",
			owner:  "zed",
		},
		{
			leaver: "amy", // not the owner: no hand-over
			owner:  "",
		},
		{
			leaver: "zed",
			owner:  "kim",
		},
	} {
		res, err := s.Leave(bg, "room", step.leaver)
		if err != nil {
			t.Fatal(err)
		}
		if res.NewOwner != step.owner || res.Closed {
			t.Fatalf("%s leaves: %+v, want new owner %q", step.leaver, res, step.owner)
		}
	}
	res, err := s.Leave(bg, "room", "kim")
	if err != nil || !res.Closed {
		t.Fatalf("last leaver: %+v, %v; want the room closed", res, err)
	}
	if _, _, err := s.Room(bg, "room"); !errors.Is(err, epchat.ErrNotFound) {
		t.Fatalf("room after the last leaver: %v, want ErrNotFound", err)
	}
}

// TestInviteExpiresToTheNanosecond: the rule compares ExpiresAt with the
// now passed in, exactly; Redis's own clock plays no part.
func TestInviteExpiresToTheNanosecond(t *testing.T) {
	tests := []struct {
		name string
		at   time.Duration // after ExpiresAt
		want error
	}{
		{
			name: "a nanosecond before",
			at:   -time.Nanosecond,
			want: nil,
		},
		{
			name: "at expiry",
			at:   0,
			want: epchat.ErrInviteInvalid,
		},
		{
			name: "a day after (Redis clock would still say valid)",
			at:   24 * time.Hour,
			want: epchat.ErrInviteInvalid,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			mustRoom(t, s, "room", "ann", 2, t0)
			ensureUser(t, s, "bob", t0)
			tok := mustInvite(t, s, "invite", "room", t0)
			exp := t0.Add(5 * time.Minute)
			_, err := s.Redeem(bg, tok, epchat.Member{ID: "bob"}, exp.Add(tt.at), 0)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Redeem: %v, want %v", err, tt.want)
			}
		})
	}
}

// TestInviteKeyBackstop: an invite's key carries a TTL a while after its
// expiry, so that it cannot outlive a deployment that stopped sweeping.
func TestInviteKeyBackstop(t *testing.T) {
	s := newStore(t)
	mustRoom(t, s, "room", "ann", 2, t0)
	tok := mustInvite(t, s, "invite", "room", t0)
	ttl, err := s.c.PTTL(bg, s.p+"i:"+hexHash(tok)).Result()
	if err != nil {
		t.Fatal(err)
	}
	if min, max := inviteBackstop, 5*time.Minute+inviteBackstop; ttl <= min || ttl > max {
		t.Fatalf("invite key TTL = %v, want in (%v, %v]", ttl, min, max)
	}
}

// TestRoomsListsEveryRoom: more rooms than one batch of the listing.
func TestRoomsListsEveryRoom(t *testing.T) {
	s := newStore(t)
	const n = 300
	for i := range n {
		mustRoom(t, s, fmt.Sprint("room", i), fmt.Sprint("user", i), 3, t0)
	}
	mustJoin(t, s, "room7", "guest", t0)
	rs, err := s.Rooms(bg)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, r := range rs {
		seen[r.ID] = r.Members
	}
	if len(rs) != n || len(seen) != n {
		t.Fatalf("Rooms listed %d rooms (%d distinct), want %d", len(rs), len(seen), n)
	}
	if seen["room7"] != 2 || seen["room8"] != 1 {
		t.Fatalf("member counts room7=%d room8=%d, want 2 and 1", seen["room7"], seen["room8"])
	}
}

// TestSweepsTakeManyBatches: a sweep with more work than one script call
// (sweepBatch items) does it all.
func TestSweepsTakeManyBatches(t *testing.T) {
	s := newStore(t)
	const n = 3*sweepBatch + 5
	mustRoom(t, s, "big", "owner", 2*n, t0)
	for i := range n {
		mustInvite(t, s, fmt.Sprint("invite", i), "big", t0)
	}
	for i := range n {
		id := fmt.Sprint("user", i)
		mustUser(t, s, id, t0)
		mustRoom(t, s, id, id, 2, t0)
	}
	later := t0.Add(10 * 24 * time.Hour)
	if got, err := s.ExpireInvites(bg, later); got != n || err != nil {
		t.Fatalf("ExpireInvites = %d, %v; want %d", got, err, n)
	}
	if got, err := s.VacateUsers(bg, later); len(got) != n || err != nil {
		t.Fatalf("VacateUsers vacated %d users, %v; want %d", len(got), err, n)
	}
	if got, err := s.ForgetUsers(bg, later, later); len(got) != n || err != nil {
		t.Fatalf("ForgetUsers forgot %d users, %v; want %d", len(got), err, n)
	}
	for i := range n {
		mustRoom(t, s, fmt.Sprint("room", i), "someone", 2, t0)
	}
	if got, err := s.CloseIdleRooms(bg, later); len(got) != n+1 || err != nil {
		t.Fatalf("CloseIdleRooms closed %d rooms, %v; want %d", len(got), err, n+1)
	}
}

// TestErrorsOfRedisAreNotSentinels: a failure of Redis is an error that
// matches no rule sentinel, so the Hub treats it as a Store failure.
func TestErrorsOfRedisAreNotSentinels(t *testing.T) {
	c := newClient(t)
	s := newStoreOn(t, c, freshPrefix())
	mustRoom(t, s, "room", "ann", 2, t0)
	c.Close()
	_, err := s.Message(bg, "room", "ann", t0)
	if err == nil {
		t.Fatal("Message succeeded on a closed client")
	}
	for _, e := range sentinels {
		if errors.Is(err, e) {
			t.Fatalf("error %v matches sentinel %v", err, e)
		}
	}
}

// TestNewRefusesPersistentRedis: a Redis that writes snapshots (a stock
// redis-server's settings) is refused with an error that says how to run
// it, unless WithPersistenceAllowed: restarted from its snapshot it would
// bring spent invites and kicked members back, under the same epoch, and
// no process would notice. (Only the save rule is tried on a real server:
// appendonly yes would write a file at once; persistent is checked on its
// own for it.)
func TestNewRefusesPersistentRedis(t *testing.T) {
	addr, _ := ownRedis(t, "--save", "3600 1")
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { c.Close() })
	_, err := New(c, WithPrefix(freshPrefix()), WithManualHeartbeat())
	if err == nil || !strings.Contains(err.Error(), "writes its data to disk") || !strings.Contains(err.Error(), "--save ''") {
		t.Fatalf("New on a Redis that saves snapshots: %v; want a refusal saying how to run it", err)
	}
	if persists, err := WritesToDisk(bg, c); !persists || err != nil {
		t.Fatalf("WritesToDisk on a Redis that saves snapshots: %v, %v; want true", persists, err)
	}
	if persists, err := WritesToDisk(bg, newClient(t)); persists || err != nil {
		t.Fatalf("WritesToDisk on the tests' Redis: %v, %v; want false", persists, err)
	}
	s, err := New(c, WithPrefix(freshPrefix()), WithManualHeartbeat(), WithPersistenceAllowed())
	if err != nil {
		t.Fatalf("with WithPersistenceAllowed: %v", err)
	}
	s.Close()
	for _, tc := range []struct {
		save, aof string
		want      bool
	}{{"", "no", false}, {"3600 1 300 100", "no", true}, {"", "yes", true}} {
		if got := persistent(tc.save, tc.aof); got != tc.want {
			t.Errorf("persistent(%q, %q) = %v, want %v", tc.save, tc.aof, got, tc.want)
		}
	}
}

package redisstore

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/epchat-go/epchat"
)

// race runs f(0..n-1) in n goroutines released at once, and waits.
func race(n int, f func(i int)) {
	var start, done sync.WaitGroup
	start.Add(1)
	for i := range n {
		done.Go(func() {
			start.Wait()
			f(i)
		})
	}
	start.Done()
	done.Wait()
}

// TestRaceOneTokenOneSeat: of 50 concurrent redeemers of one token, one is
// seated; the others are told the invite is invalid.
func TestRaceOneTokenOneSeat(t *testing.T) {
	s := newStore(t)
	mustRoom(t, s, "room", "owner", 60, t0)
	tok := mustInvite(t, s, "the invite", "room", t0)
	errs := make([]error, 50)
	for i := range errs {
		ensureUser(t, s, fmt.Sprint("guest", i), t0)
	}
	race(50, func(i int) {
		m := epchat.Member{ID: fmt.Sprint("guest", i), JoinedAt: t0}
		_, errs[i] = s.Redeem(bg, tok, m, t0, 0)
	})
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, epchat.ErrInviteInvalid):
			t.Fatalf("Redeem: %v, want nil or ErrInviteInvalid", err)
		}
	}
	_, ms, err := s.Room(bg, "room")
	if err != nil {
		t.Fatal(err)
	}
	if ok != 1 || len(ms) != 2 {
		t.Fatalf("%d redeemers succeeded, room has %d members; want 1 and 2", ok, len(ms))
	}
}

// TestRaceLastSeat: 20 holders of distinct invites race for the last seat:
// one gets it, the others get ErrRoomFull and keep their invites.
func TestRaceLastSeat(t *testing.T) {
	s := newStore(t)
	const limit = 20
	mustRoom(t, s, "room", "owner", limit, t0)
	for i := range limit - 2 {
		mustJoin(t, s, "room", fmt.Sprint("member", i), t0)
	}
	toks := make([]epchat.TokenHash, 20)
	for i := range toks {
		toks[i] = mustInvite(t, s, fmt.Sprint("invite", i), "room", t0)
	}
	errs := make([]error, len(toks))
	for i := range toks {
		ensureUser(t, s, fmt.Sprint("racer", i), t0)
	}
	race(len(toks), func(i int) {
		m := epchat.Member{ID: fmt.Sprint("racer", i), JoinedAt: t0}
		_, errs[i] = s.Redeem(bg, toks[i], m, t0, 0)
	})
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner < 0:
			winner = i
		case err == nil:
			t.Fatalf("racers %d and %d both got the last seat", winner, i)
		case !errors.Is(err, epchat.ErrRoomFull):
			t.Fatalf("racer %d: %v, want ErrRoomFull", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("nobody got the last seat")
	}
	_, ms, _ := s.Room(bg, "room")
	if len(ms) != limit {
		t.Fatalf("room has %d members, want %d", len(ms), limit)
	}
	// A loser's invite was not consumed: it works once a seat is free.
	if _, err := s.Leave(bg, "room", "member0"); err != nil {
		t.Fatal(err)
	}
	loser := (winner + 1) % len(toks)
	ensureUser(t, s, "late", t0)
	if _, err := s.Redeem(bg, toks[loser], epchat.Member{ID: "late"}, t0, 0); err != nil {
		t.Fatalf("the loser's invite after a seat freed: %v", err)
	}
}

// TestRaceMaxRooms: one user redeeming invites to 10 rooms at once, with a
// limit of 3 rooms, ends up in exactly 3.
func TestRaceMaxRooms(t *testing.T) {
	s := newStore(t)
	toks := make([]epchat.TokenHash, 10)
	for i := range toks {
		id := fmt.Sprint("room", i)
		mustRoom(t, s, id, "owner", 5, t0)
		toks[i] = mustInvite(t, s, id, id, t0)
	}
	errs := make([]error, len(toks))
	ensureUser(t, s, "roamer", t0)
	race(len(toks), func(i int) {
		_, errs[i] = s.Redeem(bg, toks[i], epchat.Member{ID: "roamer"}, t0, 3)
	})
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, epchat.ErrTooManyRooms):
			t.Fatalf("Redeem: %v, want nil or ErrTooManyRooms", err)
		}
	}
	rs, _ := s.UserRooms(bg, "roamer")
	if ok != 3 || len(rs) != 3 {
		t.Fatalf("%d redeems succeeded, user in %d rooms; want 3 and 3", ok, len(rs))
	}
}

// TestRaceMessageSeq: concurrent messages get every sequence number once,
// with no gap.
func TestRaceMessageSeq(t *testing.T) {
	s := newStore(t)
	mustRoom(t, s, "room", "owner", 10, t0)
	for i := range 7 {
		mustJoin(t, s, "room", fmt.Sprint("member", i), t0)
	}
	const senders, each = 8, 50
	seqs := make([][]uint64, senders)
	race(senders, func(i int) {
		user := "owner"
		if i > 0 {
			user = fmt.Sprint("member", i-1)
		}
		for range each {
			seq, err := s.Message(bg, "room", user, t0)
			if err != nil {
				t.Error(err)
				return
			}
			seqs[i] = append(seqs[i], seq)
		}
	})
	var all []uint64
	for _, ss := range seqs {
		if !slices.IsSorted(ss) {
			t.Errorf("one sender's seqs go back: %v", ss)
		}
		all = append(all, ss...)
	}
	slices.Sort(all)
	for i, seq := range all {
		if seq != uint64(i+1) {
			t.Fatalf("seqs = %v..., want 1..%d each once", all[:i+1], senders*each)
		}
	}
	r, _, _ := s.Room(bg, "room")
	if len(all) != senders*each || r.Seq != senders*each {
		t.Fatalf("%d seqs, room Seq %d; want %d", len(all), r.Seq, senders*each)
	}
}

// TestRaceEveryoneLeaves: all members leave at once: one departure closes
// the room, and each hand-over names a member still seated then.
func TestRaceEveryoneLeaves(t *testing.T) {
	s := newStore(t)
	mustRoom(t, s, "room", "m0", 12, t0)
	for i := 1; i < 12; i++ {
		mustJoin(t, s, "room", fmt.Sprint("m", i), t0)
	}
	res := make([]epchat.LeaveResult, 12)
	race(12, func(i int) {
		var err error
		res[i], err = s.Leave(bg, "room", fmt.Sprint("m", i))
		if err != nil {
			t.Error(err)
		}
	})
	closed := 0
	for _, r := range res {
		if r.Closed {
			closed++
		}
	}
	if closed != 1 {
		t.Fatalf("%d departures closed the room, want 1", closed)
	}
	if _, _, err := s.Room(bg, "room"); !errors.Is(err, epchat.ErrNotFound) {
		t.Fatalf("room after everyone left: %v", err)
	}
}

// sweepers runs sweep from several goroutines on two Stores (two
// processes) at once and returns what each call returned.
func sweepers[T any](t *testing.T, stores []*Store, sweep func(*Store) ([]T, error)) []T {
	t.Helper()
	var mu sync.Mutex
	var all []T
	race(8, func(i int) {
		got, err := sweep(stores[i%len(stores)])
		if err != nil {
			t.Error(err)
		}
		mu.Lock()
		all = append(all, got...)
		mu.Unlock()
	})
	return all
}

// TestRaceSweeps: several processes sweeping at once return each room,
// user and invite exactly once between them.
func TestRaceSweeps(t *testing.T) {
	c := newClient(t)
	prefix := freshPrefix()
	stores := []*Store{newStoreOn(t, c, prefix), newStoreOn(t, newClient(t), prefix)}
	s := stores[0]
	const n = 150
	mustRoom(t, s, "big", "owner", 2*n, t0)
	for i := range n {
		mustInvite(t, s, fmt.Sprint("invite", i), "big", t0)
		id := fmt.Sprint("user", i)
		mustUser(t, s, id, t0)
		mustRoom(t, s, id, id, 2, t0)
	}
	later := t0.Add(10 * 24 * time.Hour)

	once := func(what string, ids []string) {
		t.Helper()
		seen := map[string]bool{}
		for _, id := range ids {
			if seen[id] {
				t.Errorf("%s: %s returned twice", what, id)
			}
			seen[id] = true
		}
		if len(seen) != n {
			t.Errorf("%s: %d returned, want %d", what, len(seen), n)
		}
	}
	counts := sweepers(t, stores, func(s *Store) ([]int, error) {
		n, err := s.ExpireInvites(bg, later)
		return []int{n}, err
	})
	total := 0
	for _, c := range counts {
		total += c
	}
	if total != n {
		t.Errorf("ExpireInvites counted %d invites in all, want %d", total, n)
	}

	var vacated []string
	for _, d := range sweepers(t, stores, func(s *Store) ([]epchat.Departure, error) {
		return s.VacateUsers(bg, later)
	}) {
		vacated = append(vacated, d.User)
	}
	once("VacateUsers", vacated)

	var forgot []string
	for _, d := range sweepers(t, stores, func(s *Store) ([]epchat.Departure, error) {
		return s.ForgetUsers(bg, later, later)
	}) {
		forgot = append(forgot, d.User)
	}
	once("ForgetUsers", forgot)

	for i := range n - 1 {
		mustRoom(t, s, fmt.Sprint("room", i), "someone", 2, t0)
	}
	var closed []string
	for _, c := range sweepers(t, stores, func(s *Store) ([]epchat.ClosedRoom, error) {
		return s.CloseIdleRooms(bg, later)
	}) {
		closed = append(closed, c.Room.ID)
	}
	once("CloseIdleRooms", closed) // n-1 rooms and "big"
}

package storetest

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/epchat-go/epchat"
)

// outcomes counts the errors of racing calls by kind, nil included, and
// fails the rule on any error not in allowed.
func (f *fixture) outcomes(what string, errs []error, allowed ...error) (succeeded int) {
	f.t.Helper()
	for i, err := range errs {
		if err == nil {
			succeeded++
			continue
		}
		if !slices.ContainsFunc(allowed, func(a error) bool { return errors.Is(err, a) }) {
			f.t.Fatalf("%s #%d: unexpected error %v (allowed: %v)", what, i, err, allowed)
		}
	}
	return succeeded
}

var concurrencyRules = []rule{
	{name: "RedeemOneToken", run: func(f *fixture) {
		const n = 50
		f.user("own")
		f.room("r1", "own", n+10)
		tok := f.invite("r1")
		for i := range n {
			f.user(fmt.Sprintf("u%02d", i))
		}
		errs := make([]error, n)
		race(n, func(i int) {
			_, errs[i] = f.s.Redeem(f.ctx, tok, member(fmt.Sprintf("u%02d", i), t0), t0, 0)
		})
		if ok := f.outcomes("Redeem", errs, epchat.ErrInviteInvalid); ok != 1 {
			f.t.Fatalf("%d of %d racing Redeem calls with one token succeeded, want exactly 1", ok, n)
		}
		winner := fmt.Sprintf("u%02d", slices.Index(errs, nil))
		f.seated("r1", "own", winner)
		for i := range n {
			if u := fmt.Sprintf("u%02d", i); u != winner {
				f.userRooms(u)
			}
		}
	}},
	{name: "NicknameRace", run: func(f *fixture) {
		// Joiners with one nickname race into a room, each with its own
		// invite: exactly one is seated; the others' invites are kept.
		const n = 16
		f.user("own")
		f.room("r1", "own", n+1)
		toks := make([]epchat.TokenHash, n)
		for i := range n {
			f.user(fmt.Sprintf("u%02d", i))
			toks[i] = f.invite("r1")
		}
		errs := make([]error, n)
		race(n, func(i int) {
			m := epchat.Member{ID: fmt.Sprintf("u%02d", i), Nickname: "Twin", JoinedAt: t0}
			_, errs[i] = f.s.Redeem(f.ctx, toks[i], m, t0, 0)
		})
		if ok := f.outcomes("Redeem", errs, epchat.ErrNicknameTaken); ok != 1 {
			f.t.Fatalf("%d of %d racing Redeem calls with one nickname succeeded, want exactly 1", ok, n)
		}
		w := slices.Index(errs, nil)
		f.seated("r1", "own", fmt.Sprintf("u%02d", w))
		loser := (w + 1) % n
		_, err := f.s.Redeem(f.ctx, toks[loser], member(fmt.Sprintf("u%02d", loser), t0), t0, 0)
		f.ok(err, "Redeem of an invite that lost the nickname race, with another nickname")
	}},
	{name: "LastSeat", run: func(f *fixture) {
		const n = 20
		f.user("own")
		f.room("r1", "own", n)
		seated := []string{"own"}
		for i := range n - 2 {
			id := fmt.Sprintf("s%02d", i)
			f.user(id)
			f.join("r1", id)
			seated = append(seated, id)
		}
		toks := make([]epchat.TokenHash, n)
		for i := range n {
			f.user(fmt.Sprintf("u%02d", i))
			toks[i] = f.invite("r1")
		}
		errs := make([]error, n)
		race(n, func(i int) {
			_, errs[i] = f.s.Redeem(f.ctx, toks[i], member(fmt.Sprintf("u%02d", i), t0), t0, 0)
		})
		if ok := f.outcomes("Redeem", errs, epchat.ErrRoomFull); ok != 1 {
			f.t.Fatalf("%d of %d racing Redeem calls for the last seat succeeded, want exactly 1", ok, n)
		}
		w := slices.Index(errs, nil)
		winner := fmt.Sprintf("u%02d", w)
		f.seated("r1", append(seated, winner)...)
		// The losers' invites were not consumed: one gets the seat the
		// winner gives back.
		f.leave("r1", winner)
		loser := (w + 1) % n
		_, err := f.s.Redeem(f.ctx, toks[loser], member(fmt.Sprintf("u%02d", loser), t0), t0, 0)
		f.ok(err, "Redeem of an invite that lost the race, once a seat is free")
	}},
	{name: "JoinLeaveWithinLimit", run: func(f *fixture) {
		// Workers join and leave a small room over and over while a
		// watcher reads it: no one ever sees more members than seats.
		const (
			limit    = 4
			workers  = 8
			attempts = 40
		)
		f.user("own")
		f.room("r1", "own", limit)
		for w := range workers {
			f.user(fmt.Sprintf("w%d", w))
		}
		var (
			joins   atomic.Int64
			full    atomic.Int64
			stop    = make(chan struct{})
			mu      sync.Mutex
			failure error
		)
		fail := func(err error) {
			mu.Lock()
			defer mu.Unlock()
			if failure == nil {
				failure = err
			}
		}
		checkMembers := func(what string, ms []epchat.Member) {
			if len(ms) > limit {
				fail(fmt.Errorf("%s: %d members in a room of %d seats: %q", what, len(ms), limit, ids(ms)))
			}
			seen := make(map[string]bool)
			for _, m := range ms {
				if seen[m.ID] {
					fail(fmt.Errorf("%s: %q seated twice: %q", what, m.ID, ids(ms)))
				}
				seen[m.ID] = true
			}
		}
		var watcher sync.WaitGroup
		watcher.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, ms, err := f.s.Room(f.ctx, "r1")
				if err != nil {
					fail(fmt.Errorf("Room while members come and go: %w", err))
					return
				}
				checkMembers("Room", ms)
				runtime.Gosched()
			}
		})
		race(workers, func(w int) {
			id := fmt.Sprintf("w%d", w)
			var tok *epchat.TokenHash
			for range attempts {
				if tok == nil {
					h := f.nextInvite()
					err := f.s.CreateInvite(f.ctx, epchat.Invite{Token: h, Room: "r1", ExpiresAt: at(time.Hour)}, "", t0)
					if errors.Is(err, epchat.ErrRoomFull) || errors.Is(err, epchat.ErrTooManyInvites) {
						runtime.Gosched()
						continue
					}
					if err != nil {
						fail(fmt.Errorf("CreateInvite: %w", err))
						return
					}
					tok = &h
					runtime.Gosched() // let others take seats before this one redeems
				}
				_, err := f.s.Redeem(f.ctx, *tok, member(id, t0), t0, 0)
				if errors.Is(err, epchat.ErrRoomFull) {
					full.Add(1)
					runtime.Gosched() // keep the invite: it was not consumed
					continue
				}
				if err != nil {
					fail(fmt.Errorf("Redeem by %s: %w", id, err))
					return
				}
				tok = nil
				joins.Add(1)
				runtime.Gosched() // hold the seat a while: let the room fill up
				if _, err := f.s.Leave(f.ctx, "r1", id); err != nil {
					fail(fmt.Errorf("Leave by %s: %w", id, err))
					return
				}
			}
		})
		close(stop)
		watcher.Wait()
		if failure != nil {
			f.t.Fatal(failure)
		}
		if joins.Load() == 0 {
			f.t.Fatal("no worker ever joined: the rule was not exercised")
		}
		f.t.Logf("%d joins by %d workers into %d seats, %d redeems met a full room", joins.Load(), workers, limit, full.Load())
		f.seated("r1", "own")
		for w := range workers {
			f.userRooms(fmt.Sprintf("w%d", w))
		}
	}},
	{name: "Message", run: func(f *fixture) {
		const (
			senders = 4
			each    = 50
		)
		f.user("s0")
		f.room("r1", "s0", senders)
		for i := 1; i < senders; i++ {
			f.user(fmt.Sprintf("s%d", i))
			f.join("r1", fmt.Sprintf("s%d", i))
		}
		seqs := make([][]uint64, senders)
		errs := make([]error, senders)
		race(senders, func(i int) {
			for k := range each {
				seq, err := f.s.Message(f.ctx, "r1", fmt.Sprintf("s%d", i), at(time.Duration(k)*time.Second))
				if err != nil {
					errs[i] = err
					return
				}
				seqs[i] = append(seqs[i], seq)
			}
		})
		f.outcomes("Message", errs)
		all := slices.Sorted(slices.Values(slices.Concat(seqs...)))
		for i, seq := range all {
			if seq != uint64(i+1) {
				f.t.Fatalf("racing Message calls got seqs %v..., want each of 1..%d exactly once", all[max(0, i-2):min(len(all), i+3)], senders*each)
			}
		}
		for i, s := range seqs {
			if !slices.IsSorted(s) {
				f.t.Fatalf("sender s%d saw its seqs go backwards: %v", i, s)
			}
		}
		if r, _ := f.get("r1"); r.Seq != senders*each {
			f.t.Fatalf("Room.Seq = %d after %d messages", r.Seq, senders*each)
		}
	}},
	{name: "CloseRoomOnce", run: func(f *fixture) {
		const n = 20
		f.users("ana", "ben")
		f.room("r1", "ana", 5)
		f.join("r1", "ben")
		errs := make([]error, n)
		race(n, func(i int) {
			_, errs[i] = f.s.CloseRoom(f.ctx, "r1")
		})
		if ok := f.outcomes("CloseRoom", errs, epchat.ErrNotFound); ok != 1 {
			f.t.Fatalf("%d of %d racing CloseRoom calls got the room, want exactly 1", ok, n)
		}
		f.gone("r1")
	}},
	{name: "LastLeaver", run: func(f *fixture) {
		const n = 10
		f.user("m0")
		f.room("r1", "m0", n)
		for i := 1; i < n; i++ {
			f.user(fmt.Sprintf("m%d", i))
			f.join("r1", fmt.Sprintf("m%d", i))
		}
		errs := make([]error, n)
		res := make([]epchat.LeaveResult, n)
		race(n, func(i int) {
			res[i], errs[i] = f.s.Leave(f.ctx, "r1", fmt.Sprintf("m%d", i))
		})
		f.outcomes("Leave", errs)
		closed := 0
		for _, r := range res {
			if r.Closed {
				closed++
			}
		}
		if closed != 1 {
			f.t.Fatalf("%d of %d racing departures closed the room, want exactly 1 (the last)", closed, n)
		}
		f.gone("r1")
		for i := range n {
			f.userRooms(fmt.Sprintf("m%d", i))
		}
	}},
	{name: "MaxRooms", run: func(f *fixture) {
		const (
			rooms    = 10
			maxRooms = 3
		)
		f.users("own", "ana")
		toks := make([]epchat.TokenHash, rooms)
		for i := range rooms {
			f.room(fmt.Sprintf("r%d", i), "own", 5)
			toks[i] = f.invite(fmt.Sprintf("r%d", i))
		}
		errs := make([]error, rooms)
		race(rooms, func(i int) {
			_, errs[i] = f.s.Redeem(f.ctx, toks[i], member("ana", t0), t0, maxRooms)
		})
		if ok := f.outcomes("Redeem", errs, epchat.ErrTooManyRooms); ok != maxRooms {
			f.t.Fatalf("%d of %d racing Redeem calls by one user succeeded, want maxRooms = %d", ok, rooms, maxRooms)
		}
		got, err := f.s.UserRooms(f.ctx, "ana")
		f.ok(err, "UserRooms")
		if len(got) != maxRooms {
			f.t.Fatalf("ana is seated in %d rooms, want %d", len(got), maxRooms)
		}
	}},
	{name: "InviteCap", run: func(f *fixture) {
		const (
			n     = 20
			limit = 5
		)
		f.user("own")
		f.room("r1", "own", limit)
		errs := make([]error, n)
		race(n, func(i int) {
			errs[i] = f.s.CreateInvite(f.ctx, inv(fmt.Sprint("racer ", i), "r1", at(time.Hour)), "own", t0)
		})
		if ok := f.outcomes("CreateInvite", errs, epchat.ErrTooManyInvites); ok != limit {
			f.t.Fatalf("%d of %d racing CreateInvite calls succeeded, want Limit = %d", ok, n, limit)
		}
	}},
}

package storetest

import (
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/epchat-go/epchat"
)

// kick kicks member out of room at the request of by, failing the rule on
// an error.
func (f *fixture) kick(room, by, member string) epchat.LeaveResult {
	f.t.Helper()
	res, err := f.s.Kick(f.ctx, room, by, member)
	f.ok(err, "Kick(%q, by %q, %q)", room, by, member)
	return res
}

// lock sets the lock of room at the request of by, failing the rule on an
// error.
func (f *fixture) lock(room, by string, locked bool) {
	f.t.Helper()
	f.ok(f.s.SetLocked(f.ctx, room, by, locked), "SetLocked(%q, by %q, %v)", room, by, locked)
}

// locked fails the rule unless Room and Rooms both say room is locked
// as want.
func (f *fixture) locked(room string, want bool) {
	f.t.Helper()
	if r, _ := f.get(room); r.Locked != want {
		f.t.Fatalf("Room(%q).Locked = %v, want %v", room, r.Locked, want)
	}
	infos, err := f.s.Rooms(f.ctx)
	f.ok(err, "Rooms")
	for _, ri := range infos {
		if ri.ID == room && ri.Locked != want {
			f.t.Fatalf("Rooms lists %q with Locked %v, want %v", room, ri.Locked, want)
		}
	}
}

var kickRules = []rule{
	{name: "FreesSeat", run: func(f *fixture) {
		f.users("ana", "ben", "cat")
		f.room("r1", "ana", 2)
		f.join("r1", "ben")
		got := f.kick("r1", "ana", "ben")
		want := epchat.LeaveResult{
			Room: "r1",
			User: "ben",
		}
		if got != want {
			f.t.Fatalf("Kick = %+v, want %+v", got, want)
		}
		f.seated("r1", "ana")
		f.userRooms("ben")
		if _, err := f.s.Message(f.ctx, "r1", "ben", t0); !errors.Is(err, epchat.ErrNotMember) {
			f.t.Fatalf("Message of a kicked member: %v, want ErrNotMember", err)
		}
		// The seat is free at once: the room of 2 takes a new member.
		f.join("r1", "cat")
		f.seated("r1", "ana", "cat")
	}},
	{name: "RevokesInvites", run: func(f *fixture) {
		f.users("ana", "ben", "cat", "dan")
		f.room("r1", "ana", 5)
		f.room("r2", "ana", 5)
		f.join("r1", "ben")
		f.ok(f.s.CreateInvite(f.ctx, inv("by ana", "r1", at(time.Hour)), "ana", t0), "CreateInvite by the owner")
		f.ok(f.s.CreateInvite(f.ctx, inv("by host", "r1", at(time.Hour)), "", t0), "CreateInvite by the host")
		f.ok(f.s.CreateInvite(f.ctx, inv("other room", "r2", at(time.Hour)), "ana", t0), "CreateInvite to r2")
		f.kick("r1", "ana", "ben")
		f.is(f.lookupErr("by ana", t0), epchat.ErrInviteInvalid, "Invite of an invite made before the kick")
		f.is(f.lookupErr("by host", t0), epchat.ErrInviteInvalid, "Invite of a host invite made before the kick")
		f.is(f.redeem("by ana", "ben", t0), epchat.ErrInviteInvalid, "Redeem by the kicked member of an invite made before the kick")
		f.is(f.redeem("by host", "dan", t0), epchat.ErrInviteInvalid, "Redeem by another user of an invite made before the kick")
		f.ok(f.redeem("other room", "cat", t0), "Redeem of an invite to another room")
		// A new invite readmits the kicked member.
		f.ok(f.s.CreateInvite(f.ctx, inv("after", "r1", at(time.Hour)), "ana", t0), "CreateInvite after the kick")
		f.ok(f.redeem("after", "ben", at(time.Second)), "Redeem by the kicked member of an invite made after the kick")
		f.seated("r1", "ana", "ben")
		if n := f.expireAll(); n != 0 {
			f.t.Fatalf("%d invites left pending after the kick and the redemptions, want 0", n)
		}
	}},
	{name: "OwnerOnly", run: func(f *fixture) {
		f.users("ana", "ben", "cat")
		f.room("r1", "ana", 5)
		f.join("r1", "ben", "cat")
		f.ok(f.s.CreateInvite(f.ctx, inv("pending", "r1", at(time.Hour)), "ana", t0), "CreateInvite")
		for _, tt := range []struct{ by, member, what string }{
			{"ben", "cat", "by a member who is not the owner"},
			{"ghost", "cat", "by an unknown user"},
			{"ben", "ana", "of the owner by a member"},
			{"ana", "ana", "of the owner by the owner"},
		} {
			_, err := f.s.Kick(f.ctx, "r1", tt.by, tt.member)
			f.is(err, epchat.ErrForbidden, "Kick %s", tt.what)
		}
		f.seated("r1", "ana", "ben", "cat")
		if r, _ := f.get("r1"); r.Owner != "ana" {
			f.t.Fatalf("owner after refused kicks = %q, want ana", r.Owner)
		}
		f.users("dan")
		f.ok(f.redeem("pending", "dan", t0), "Redeem of an invite pending through refused kicks")
	}},
	{name: "NotMember", run: func(f *fixture) {
		f.users("ana", "ben", "cat")
		f.room("r1", "ana", 5)
		f.join("r1", "ben")
		f.ok(f.s.CreateInvite(f.ctx, inv("pending", "r1", at(time.Hour)), "ana", t0), "CreateInvite")
		_, err := f.s.Kick(f.ctx, "r1", "ana", "cat")
		f.is(err, epchat.ErrNotMember, "Kick of a user with no seat")
		_, err = f.s.Kick(f.ctx, "r1", "", "cat")
		f.is(err, epchat.ErrNotMember, "Kick by the host of a user with no seat")
		f.seated("r1", "ana", "ben")
		f.ok(f.redeem("pending", "cat", t0), "Redeem of an invite pending through a refused kick")
	}},
	{name: "NotFound", run: func(f *fixture) {
		f.users("ana", "ben")
		_, err := f.s.Kick(f.ctx, "nope", "ana", "ben")
		f.is(err, epchat.ErrNotFound, "Kick in an unknown room")
		_, err = f.s.Kick(f.ctx, "nope", "", "ben")
		f.is(err, epchat.ErrNotFound, "Kick by the host in an unknown room")
	}},
	{name: "HostKicksOwner", run: func(f *fixture) {
		f.users("oli", "bea", "cal")
		f.room("r1", "oli", 5)
		f.join("r1", "bea", "cal")
		got := f.kick("r1", "", "oli")
		want := epchat.LeaveResult{
			Room:     "r1",
			User:     "oli",
			NewOwner: "bea",
		}
		if got != want {
			f.t.Fatalf("Kick of the owner by the host = %+v, want %+v (ownership to the earliest-joined)", got, want)
		}
		if r, _ := f.get("r1"); r.Owner != "bea" {
			f.t.Fatalf("owner after the owner was kicked = %q, want bea", r.Owner)
		}
		f.seated("r1", "bea", "cal")
	}},
	{name: "LastClosesRoom", run: func(f *fixture) {
		f.users("ana")
		f.room("r1", "ana", 5)
		f.invite("r1")
		got := f.kick("r1", "", "ana")
		want := epchat.LeaveResult{
			Room:   "r1",
			User:   "ana",
			Closed: true,
		}
		if got != want {
			f.t.Fatalf("Kick of the last member = %+v, want %+v", got, want)
		}
		f.gone("r1")
		f.userRooms("ana")
		if n := f.expireAll(); n != 0 {
			f.t.Fatalf("%d invites left of a room closed by a kick, want 0", n)
		}
	}},
}

var lockRules = []rule{
	{name: "RefusesInvites", run: func(f *fixture) {
		f.users("ana", "ben")
		f.room("r1", "ana", 5)
		f.locked("r1", false)
		f.lock("r1", "ana", true)
		f.locked("r1", true)
		f.is(f.s.CreateInvite(f.ctx, inv("by ana", "r1", at(time.Hour)), "ana", t0), epchat.ErrRoomLocked, "CreateInvite by the owner of a locked room")
		f.is(f.s.CreateInvite(f.ctx, inv("by host", "r1", at(time.Hour)), "", t0), epchat.ErrRoomLocked, "CreateInvite by the host of a locked room")
		f.is(f.s.CreateInvite(f.ctx, inv("by ben", "r1", at(time.Hour)), "ben", t0), epchat.ErrForbidden, "CreateInvite by a non-owner of a locked room")
		f.lock("r1", "ana", false)
		f.locked("r1", false)
		f.ok(f.s.CreateInvite(f.ctx, inv("by ana", "r1", at(time.Hour)), "ana", t0), "CreateInvite after unlock")
		f.ok(f.redeem("by ana", "ben", t0), "Redeem of an invite made after unlock")
	}},
	{name: "RedeemKeepsInvite", run: func(f *fixture) {
		f.users("ana", "ben")
		f.room("r1", "ana", 5)
		f.ok(f.s.CreateInvite(f.ctx, inv("i", "r1", at(time.Hour)), "ana", t0), "CreateInvite")
		f.lock("r1", "", true)
		_, err := f.s.Redeem(f.ctx, hash("i"), member("ben", t0), t0, 0)
		f.is(err, epchat.ErrRoomLocked, "Redeem into a locked room")
		f.seated("r1", "ana")
		f.userRooms("ben")
		f.lock("r1", "", false)
		f.ok(f.redeem("i", "ben", at(time.Minute)), "Redeem after unlock of the invite refused while locked")
		f.seated("r1", "ana", "ben")
	}},
	{name: "ExpiredStaysInvalid", run: func(f *fixture) {
		f.users("ana", "ben")
		f.room("r1", "ana", 5)
		f.ok(f.s.CreateInvite(f.ctx, inv("i", "r1", at(time.Minute)), "ana", t0), "CreateInvite")
		f.lock("r1", "ana", true)
		f.is(f.redeem("i", "ben", at(time.Minute)), epchat.ErrInviteInvalid, "Redeem of an expired invite into a locked room")
	}},
	{name: "MembersStay", run: func(f *fixture) {
		f.users("ana", "ben", "cat")
		f.room("r1", "ana", 5)
		f.join("r1", "ben", "cat")
		f.lock("r1", "ana", true)
		f.seated("r1", "ana", "ben", "cat")
		seq, err := f.s.Message(f.ctx, "r1", "ben", at(time.Second))
		f.ok(err, "Message in a locked room")
		if seq != 1 {
			f.t.Fatalf("Message in a locked room: seq %d, want 1", seq)
		}
		f.leave("r1", "cat")
		f.kick("r1", "ana", "ben")
		f.seated("r1", "ana")
		f.locked("r1", true)
	}},
	{name: "OwnerOnly", run: func(f *fixture) {
		f.users("ana", "ben")
		f.room("r1", "ana", 5)
		f.join("r1", "ben")
		f.is(f.s.SetLocked(f.ctx, "r1", "ben", true), epchat.ErrForbidden, "SetLocked by a member who is not the owner")
		f.is(f.s.SetLocked(f.ctx, "r1", "ghost", true), epchat.ErrForbidden, "SetLocked by an unknown user")
		f.locked("r1", false)
		f.lock("r1", "ana", true)
		f.is(f.s.SetLocked(f.ctx, "r1", "ben", false), epchat.ErrForbidden, "SetLocked(false) by a member who is not the owner")
		f.locked("r1", true)
	}},
	{name: "Idempotent", run: func(f *fixture) {
		f.user("ana")
		f.room("r1", "ana", 5)
		f.lock("r1", "ana", true)
		f.lock("r1", "ana", true)
		f.locked("r1", true)
		f.lock("r1", "", false)
		f.lock("r1", "", false)
		f.locked("r1", false)
	}},
	{name: "NotFound", run: func(f *fixture) {
		f.is(f.s.SetLocked(f.ctx, "nope", "", true), epchat.ErrNotFound, "SetLocked of an unknown room")
		f.user("ana")
		f.room("r1", "ana", 5)
		f.lock("r1", "ana", true)
		f.leave("r1", "ana")
		f.is(f.s.SetLocked(f.ctx, "r1", "", false), epchat.ErrNotFound, "SetLocked of a closed room")
	}},
	{name: "CreatedOpen", run: func(f *fixture) {
		f.user("ana")
		r := epchat.Room{
			ID:        "r1",
			Owner:     "ana",
			Limit:     5,
			CreatedAt: t0,
			ActiveAt:  t0,
			Locked:    true,
		}
		m := member("ana", t0)
		f.ok(f.s.CreateRoom(f.ctx, r, &m, 0), "CreateRoom with Locked set")
		f.locked("r1", false)
	}},
}

// moderationRaces are the Concurrency rules of kick and lock.
var moderationRaces = []rule{
	{name: "KickRevokesAtOnce", run: func(f *fixture) {
		// The kicked member holds an invite made before the kick and
		// redeems it again and again while the kick runs: a store that
		// frees the seat in one step and revokes the invites in another
		// lets them back in between.
		const rounds = 40
		f.user("own")
		for i := range rounds {
			ben := fmt.Sprintf("ben%02d", i)
			room := fmt.Sprintf("r%02d", i)
			f.user(ben)
			f.room(room, "own", 5)
			f.join(room, ben)
			tok := f.invite(room)
			var kickErr, redeemErr error
			race(2, func(g int) {
				if g == 0 {
					_, kickErr = f.s.Kick(f.ctx, room, "own", ben)
					return
				}
				for range 1000 {
					_, redeemErr = f.s.Redeem(f.ctx, tok, member(ben, t0), t0, 0)
					if !errors.Is(redeemErr, epchat.ErrAlreadyMember) {
						return
					}
				}
			})
			f.ok(kickErr, "Kick racing a redeem")
			if redeemErr != nil && !errors.Is(redeemErr, epchat.ErrInviteInvalid) && !errors.Is(redeemErr, epchat.ErrAlreadyMember) {
				f.t.Fatalf("Redeem racing a kick: %v, want ErrAlreadyMember or ErrInviteInvalid", redeemErr)
			}
			f.seated(room, "own")
			_, err := f.s.Redeem(f.ctx, tok, member(ben, t0), t0, 0)
			f.is(err, epchat.ErrInviteInvalid, "Redeem after the kick of the invite made before it")
		}
	}},
	{name: "LockRacesRedeem", run: func(f *fixture) {
		// Each redeem racing a lock either seats its user or is refused
		// with ErrRoomLocked and keeps its invite; none is lost.
		const n = 20
		f.user("own")
		f.room("r1", "own", n+1)
		toks := make([]epchat.TokenHash, n)
		for i := range n {
			f.user(fmt.Sprintf("u%02d", i))
			toks[i] = f.invite("r1")
		}
		errs := make([]error, n+1)
		var started atomic.Int32
		race(n+1, func(i int) {
			if i == n {
				// Lock amid the redeems, not before them all.
				for started.Load() < n/2 {
					runtime.Gosched()
				}
				errs[i] = f.s.SetLocked(f.ctx, "r1", "own", true)
				return
			}
			started.Add(1)
			_, errs[i] = f.s.Redeem(f.ctx, toks[i], member(fmt.Sprintf("u%02d", i), t0), t0, 0)
		})
		f.ok(errs[n], "SetLocked racing redeems")
		seated := f.outcomes("Redeem", errs[:n], epchat.ErrRoomLocked)
		_, ms := f.get("r1")
		if len(ms) != 1+seated {
			f.t.Fatalf("%d redeems racing a lock succeeded, but %d members are seated, want %d", seated, len(ms), 1+seated)
		}
		f.locked("r1", true)
		f.lock("r1", "own", false)
		for i := range n {
			if errs[i] != nil {
				_, err := f.s.Redeem(f.ctx, toks[i], member(fmt.Sprintf("u%02d", i), t0), t0, 0)
				f.ok(err, "Redeem after unlock of invite %d, refused by the lock", i)
			}
		}
		_, ms = f.get("r1")
		if len(ms) != n+1 {
			f.t.Fatalf("%d members after unlock, want %d", len(ms), n+1)
		}
	}},
}

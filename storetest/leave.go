package storetest

import (
	"slices"
	"time"

	"github.com/epchat-go/epchat"
)

var leaveRules = []rule{
	{name: "Member", run: func(f *fixture) {
		f.users("ana", "ben", "cat")
		f.room("r1", "ana", 5)
		f.join("r1", "ben", "cat")
		got := f.leave("r1", "ben")
		want := epchat.LeaveResult{
			Room: "r1",
			User: "ben",
		}
		if got != want {
			f.t.Fatalf("Leave = %+v, want %+v", got, want)
		}
		f.seated("r1", "ana", "cat")
		if r, _ := f.get("r1"); r.Owner != "ana" {
			f.t.Fatalf("owner after a member left = %q, want ana", r.Owner)
		}
		f.userRooms("ben")
	}},
	{name: "OwnerHandsOver", run: func(f *fixture) {
		// Join order becomes oli, cal, bea: the earliest-joined is
		// neither the first by id nor the one who joined first ever.
		f.users("oli", "bea", "cal")
		f.room("r1", "oli", 5)
		f.join("r1", "bea", "cal")
		f.leave("r1", "bea")
		f.join("r1", "bea")
		got := f.leave("r1", "oli")
		want := epchat.LeaveResult{
			Room:     "r1",
			User:     "oli",
			NewOwner: "cal",
		}
		if got != want {
			f.t.Fatalf("Leave of the owner = %+v, want %+v (ownership to the earliest-joined)", got, want)
		}
		if r, _ := f.get("r1"); r.Owner != "cal" {
			f.t.Fatalf("owner after hand-over = %q, want cal", r.Owner)
		}
		f.seated("r1", "cal", "bea")
	}},
	{name: "OwnerlessNoHandOver", run: func(f *fixture) {
		f.users("ben", "cat")
		f.room("r1", "", 5)
		f.join("r1", "ben", "cat")
		if got := f.leave("r1", "ben"); got.NewOwner != "" || got.Closed {
			f.t.Fatalf("Leave from a room without owner = %+v, want no new owner", got)
		}
		if r, _ := f.get("r1"); r.Owner != "" {
			f.t.Fatalf("a room without owner got owner %q", r.Owner)
		}
	}},
	{name: "LastClosesRoom", run: func(f *fixture) {
		f.users("ana", "ben")
		f.room("r1", "ana", 5)
		f.room("r2", "ben", 5)
		tok := f.invite("r1")
		got := f.leave("r1", "ana")
		want := epchat.LeaveResult{
			Room:   "r1",
			User:   "ana",
			Closed: true,
		}
		if got != want {
			f.t.Fatalf("Leave of the last member = %+v, want %+v", got, want)
		}
		f.gone("r1")
		if ids := f.roomIDs(); !slices.Equal(ids, []string{"r2"}) {
			f.t.Fatalf("Rooms = %q, want [r2]", ids)
		}
		_, err := f.s.Redeem(f.ctx, tok, member("ben", t0), t0, 0)
		f.is(err, epchat.ErrInviteInvalid, "Redeem of an invite to the closed room")
		_, err = f.s.CloseRoom(f.ctx, "r1")
		f.is(err, epchat.ErrNotFound, "CloseRoom after the last member left")
		if n := f.expireAll(); n != 0 {
			f.t.Fatalf("ExpireInvites found %d invites of the closed room, want 0", n)
		}
	}},
	{name: "NotMember", run: func(f *fixture) {
		f.users("ana", "ben")
		f.room("r1", "ana", 5)
		_, err := f.s.Leave(f.ctx, "r1", "ben")
		f.is(err, epchat.ErrNotMember, "Leave by a user not seated there")
		_, err = f.s.Leave(f.ctx, "r1", "ghost")
		f.is(err, epchat.ErrNotMember, "Leave by an unknown user")
		f.seated("r1", "ana")
	}},
	{name: "NotFound", run: func(f *fixture) {
		f.user("ana")
		_, err := f.s.Leave(f.ctx, "nope", "ana")
		f.is(err, epchat.ErrNotFound, "Leave of an unknown room")
	}},
}

var messageRules = []rule{
	{name: "Seq", run: func(f *fixture) {
		f.users("ana", "ben")
		f.room("r1", "ana", 5)
		f.join("r1", "ben")
		for i, from := range []string{"ana", "ben", "ana"} {
			seq, err := f.s.Message(f.ctx, "r1", from, at(time.Duration(i+1)*time.Minute))
			f.ok(err, "Message %d", i+1)
			if seq != uint64(i+1) {
				f.t.Fatalf("Message %d got seq %d, want %d", i+1, seq, i+1)
			}
		}
		r, _ := f.get("r1")
		if r.Seq != 3 || !sameInstant(r.ActiveAt, at(3*time.Minute)) || !sameInstant(r.CreatedAt, t0) {
			f.t.Fatalf("Room after 3 messages: Seq %d ActiveAt %v CreatedAt %v, want 3, %v, %v", r.Seq, r.ActiveAt, r.CreatedAt, at(3*time.Minute), t0)
		}
	}},
	{name: "NotMember", run: func(f *fixture) {
		f.users("ana", "ben")
		f.room("r1", "ana", 5)
		_, err := f.s.Message(f.ctx, "r1", "ben", at(time.Minute))
		f.is(err, epchat.ErrNotMember, "Message by a user not seated there")
		_, err = f.s.Message(f.ctx, "r1", "ghost", at(time.Minute))
		f.is(err, epchat.ErrNotMember, "Message by an unknown user")
		if r, _ := f.get("r1"); r.Seq != 0 || !sameInstant(r.ActiveAt, t0) {
			f.t.Fatalf("refused messages changed the room: Seq %d ActiveAt %v", r.Seq, r.ActiveAt)
		}
	}},
	{name: "AfterLeave", run: func(f *fixture) {
		f.users("ana", "ben")
		f.room("r1", "ana", 5)
		f.join("r1", "ben")
		f.leave("r1", "ben")
		_, err := f.s.Message(f.ctx, "r1", "ben", at(time.Minute))
		f.is(err, epchat.ErrNotMember, "Message after leaving")
	}},
	{name: "NotFound", run: func(f *fixture) {
		f.user("ana")
		_, err := f.s.Message(f.ctx, "nope", "ana", t0)
		f.is(err, epchat.ErrNotFound, "Message to an unknown room")
	}},
}

var closeRules = []rule{
	{name: "Cascade", run: func(f *fixture) {
		f.users("ana", "ben", "cat")
		f.room("r1", "ana", 5)
		f.join("r1", "ben")
		f.room("r2", "ana", 5)
		old := f.invite("r1")
		f.invite("r2")
		closed, err := f.s.CloseRoom(f.ctx, "r1")
		f.ok(err, "CloseRoom")
		if closed.Room.ID != "r1" || closed.Room.Owner != "ana" || !slices.Equal(ids(closed.Members), []string{"ana", "ben"}) {
			f.t.Fatalf("CloseRoom returned %s owned by %q with %q, want r1 owned by ana with [ana ben]",
				closed.Room.ID, closed.Room.Owner, ids(closed.Members))
		}
		f.gone("r1")
		if ids := f.roomIDs(); !slices.Equal(ids, []string{"r2"}) {
			f.t.Fatalf("Rooms = %q, want [r2]", ids)
		}
		f.userRooms("ana", "r2")
		f.userRooms("ben")
		_, err = f.s.CloseRoom(f.ctx, "r1")
		f.is(err, epchat.ErrNotFound, "second CloseRoom")
		_, err = f.s.Redeem(f.ctx, old, member("cat", t0), t0, 0)
		f.is(err, epchat.ErrInviteInvalid, "Redeem of an invite to the closed room")

		// Nothing of r1 remains: a new room with its id starts empty,
		// ben's seat no longer counts, the old invite stays dead.
		f.room("r1", "cat", 5)
		f.seated("r1", "cat")
		solo := epchat.Room{
			ID:        "r3",
			Owner:     "ben",
			Limit:     2,
			CreatedAt: t0,
			ActiveAt:  t0,
		}
		ben := member("ben", t0)
		f.ok(f.s.CreateRoom(f.ctx, solo, &ben, 1), "CreateRoom with maxRooms 1 by a member of the closed room")
		_, err = f.s.Redeem(f.ctx, old, member("ana", t0), t0, 0)
		f.is(err, epchat.ErrInviteInvalid, "Redeem of the closed room's invite into a new room of the same id")
		f.seated("r1", "cat")
		if n := f.expireAll(); n != 1 {
			f.t.Fatalf("ExpireInvites found %d invites, want 1 (the one of r2)", n)
		}
	}},
	{name: "NotFound", run: func(f *fixture) {
		_, err := f.s.CloseRoom(f.ctx, "nope")
		f.is(err, epchat.ErrNotFound, "CloseRoom of an unknown room")
	}},
}

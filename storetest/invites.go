package storetest

import (
	"time"

	"github.com/epchat-go/epchat"
)

// inv is an invite to room with token hash label, expiring at exp.
func inv(label, room string, exp time.Time) epchat.Invite {
	return epchat.Invite{
		Token:     hash(label),
		Room:      room,
		ExpiresAt: exp,
	}
}

// lookupErr is Invite's error for the token hash label at now.
func (f *fixture) lookupErr(label string, now time.Time) error {
	_, err := f.s.Invite(f.ctx, hash(label), now)
	return err
}

// redeem redeems the invite with token hash label for user at now, with no
// room limit.
func (f *fixture) redeem(label, user string, now time.Time) error {
	_, err := f.s.Redeem(f.ctx, hash(label), member(user, now), now, 0)
	return err
}

// findInvite asserts that Invite finds the invite with token hash label at
// now, with its room, owner flag and expiry as created.
func (f *fixture) findInvite(label string, now time.Time, want epchat.Invite) {
	f.t.Helper()
	got, err := f.s.Invite(f.ctx, hash(label), now)
	f.ok(err, "Invite(%s)", label)
	if got.Token != want.Token || got.Room != want.Room || got.Owner != want.Owner || !got.ExpiresAt.Equal(want.ExpiresAt) {
		f.t.Fatalf("Invite(%s) = %+v, want %+v", label, got, want)
	}
}

var inviteRules = []rule{
	{name: "Lookup", run: func(f *fixture) {
		f.users("ana", "ben", "cat")
		f.room("r1", "ana", 5)
		f.is(f.lookupErr("nope", t0), epchat.ErrInviteInvalid, "Invite of an unknown token")
		i1 := inv("i1", "r1", at(5*time.Minute))
		f.ok(f.s.CreateInvite(f.ctx, i1, "ana", t0), "CreateInvite i1")
		owner := inv("owner", "r1", at(time.Hour))
		owner.Owner = true
		f.ok(f.s.CreateInvite(f.ctx, owner, "", t0), "CreateInvite of an owner invite")
		f.findInvite("owner", t0, owner)
		// Looking does not consume: the invite is found again, then
		// redeemed; a redeemed invite is found no more.
		f.findInvite("i1", t0, i1)
		f.findInvite("i1", at(5*time.Minute-time.Nanosecond), i1)
		f.is(f.lookupErr("i1", at(5*time.Minute)), epchat.ErrInviteInvalid, "Invite at the instant it expires")
		f.ok(f.redeem("i1", "ben", at(time.Minute)), "Redeem after two lookups")
		f.is(f.lookupErr("i1", at(time.Minute)), epchat.ErrInviteInvalid, "Invite of a redeemed invite")
		// A locked room's invite is still pending (it works again once
		// the room is unlocked): Invite finds it.
		i2 := inv("i2", "r1", at(time.Hour))
		f.ok(f.s.CreateInvite(f.ctx, i2, "ana", t0), "CreateInvite i2")
		f.lock("r1", "ana", true)
		f.findInvite("i2", t0, i2)
		_, err := f.s.CloseRoom(f.ctx, "r1")
		f.ok(err, "CloseRoom")
		f.is(f.lookupErr("i2", t0), epchat.ErrInviteInvalid, "Invite of a closed room's invite")
		f.is(f.lookupErr("owner", t0), epchat.ErrInviteInvalid, "Invite of a closed room's owner invite")
	}},
	{name: "OwnerOnly", run: func(f *fixture) {
		f.users("ana", "ben", "cat")
		f.room("r1", "ana", 5)
		f.join("r1", "ben")
		f.is(f.s.CreateInvite(f.ctx, inv("by ben", "r1", at(time.Hour)), "ben", t0), epchat.ErrForbidden, "CreateInvite by a member who is not the owner")
		f.is(f.s.CreateInvite(f.ctx, inv("by ghost", "r1", at(time.Hour)), "ghost", t0), epchat.ErrForbidden, "CreateInvite by an unknown user")
		f.ok(f.s.CreateInvite(f.ctx, inv("by ana", "r1", at(time.Hour)), "ana", t0), "CreateInvite by the owner")
		f.ok(f.s.CreateInvite(f.ctx, inv("by host", "r1", at(time.Hour)), "", t0), "CreateInvite by the host (by \"\")")
		f.is(f.redeem("by ben", "cat", t0), epchat.ErrInviteInvalid, "Redeem of a refused invite")
		f.ok(f.redeem("by ana", "cat", t0), "Redeem of the owner's invite")
	}},
	{name: "OwnerlessRoom", run: func(f *fixture) {
		f.user("ana")
		f.room("r1", "", 5)
		f.is(f.s.CreateInvite(f.ctx, inv("by ana", "r1", at(time.Hour)), "ana", t0), epchat.ErrForbidden, "CreateInvite by a user in a room without owner")
		f.ok(f.s.CreateInvite(f.ctx, inv("by host", "r1", at(time.Hour)), "", t0), "CreateInvite by the host")
	}},
	{name: "RoomGone", run: func(f *fixture) {
		f.is(f.s.CreateInvite(f.ctx, inv("x", "nope", at(time.Hour)), "", t0), epchat.ErrNotFound, "CreateInvite to an unknown room")
	}},
	{name: "RoomFull", run: func(f *fixture) {
		f.users("ana", "ben")
		f.room("r1", "ana", 2)
		f.join("r1", "ben")
		f.is(f.s.CreateInvite(f.ctx, inv("x", "r1", at(time.Hour)), "ana", t0), epchat.ErrRoomFull, "CreateInvite to a full room")
	}},
	{name: "AtMostLimitPending", run: func(f *fixture) {
		f.users("ana", "ben")
		f.room("r1", "ana", 3)
		for _, label := range []string{"i1", "i2", "i3"} {
			f.ok(f.s.CreateInvite(f.ctx, inv(label, "r1", at(time.Hour)), "ana", t0), "CreateInvite %s of 3", label)
		}
		f.is(f.s.CreateInvite(f.ctx, inv("i4", "r1", at(time.Hour)), "ana", t0), epchat.ErrTooManyInvites, "CreateInvite beyond Limit pending")
		f.is(f.redeem("i4", "ben", t0), epchat.ErrInviteInvalid, "Redeem of the refused invite")
	}},
	{name: "ExpiredDoNotCount", run: func(f *fixture) {
		f.user("ana")
		f.room("r1", "ana", 2)
		f.ok(f.s.CreateInvite(f.ctx, inv("i1", "r1", at(5*time.Minute)), "ana", t0), "CreateInvite i1")
		f.ok(f.s.CreateInvite(f.ctx, inv("i2", "r1", at(10*time.Minute)), "ana", t0), "CreateInvite i2")
		f.is(f.s.CreateInvite(f.ctx, inv("i3", "r1", at(time.Hour)), "ana", at(5*time.Minute-time.Nanosecond)), epchat.ErrTooManyInvites,
			"CreateInvite while 2 invites are pending, 1ns before the first expires")
		// i1 is expired at its ExpiresAt: it no longer counts, swept or not.
		f.ok(f.s.CreateInvite(f.ctx, inv("i3", "r1", at(time.Hour)), "ana", at(5*time.Minute)), "CreateInvite at the instant i1 expires")
		f.is(f.s.CreateInvite(f.ctx, inv("i4", "r1", at(time.Hour)), "ana", at(5*time.Minute)), epchat.ErrTooManyInvites, "CreateInvite with i2 and i3 pending")
	}},
	{name: "RedeemedDoNotCount", run: func(f *fixture) {
		f.users("ana", "ben")
		f.room("r1", "ana", 3)
		for _, label := range []string{"i1", "i2", "i3"} {
			f.ok(f.s.CreateInvite(f.ctx, inv(label, "r1", at(time.Hour)), "ana", t0), "CreateInvite %s", label)
		}
		f.ok(f.redeem("i1", "ben", t0), "Redeem i1")
		f.ok(f.s.CreateInvite(f.ctx, inv("i4", "r1", at(time.Hour)), "ana", t0), "CreateInvite after one of 3 was redeemed")
		f.is(f.s.CreateInvite(f.ctx, inv("i5", "r1", at(time.Hour)), "ana", t0), epchat.ErrTooManyInvites, "CreateInvite with 3 pending")
	}},
	{name: "TokenTaken", run: func(f *fixture) {
		f.users("ana", "ben", "cat")
		f.room("r1", "ana", 5)
		f.room("r2", "ben", 5)
		f.ok(f.s.CreateInvite(f.ctx, inv("same", "r1", at(time.Hour)), "ana", t0), "CreateInvite")
		f.is(f.s.CreateInvite(f.ctx, inv("same", "r2", at(time.Hour)), "ben", t0), epchat.ErrExists, "CreateInvite with a taken token hash")
		f.ok(f.redeem("same", "cat", t0), "Redeem")
		f.userRooms("cat", "r1")
	}},
}

var redeemRules = []rule{
	{name: "NeedsUser", run: func(f *fixture) {
		// Only users are seated: a member that is no user is refused, and
		// the invite is kept for someone who is.
		f.users("ana", "ben")
		f.room("r1", "ana", 5)
		tok := f.invite("r1")
		_, err := f.s.Redeem(f.ctx, tok, member("nobody", t0), t0, 0)
		f.is(err, epchat.ErrNotFound, "Redeem by an id that is no user")
		f.seated("r1", "ana")
		f.userRooms("nobody")
		_, err = f.s.Redeem(f.ctx, tok, member("ben", t0), t0, 0)
		f.ok(err, "Redeem of the same invite by a user")
		f.seated("r1", "ana", "ben")
		// A user deleted is no user any more.
		f.user("cat")
		_, err = f.s.DeleteUser(f.ctx, "cat", t0)
		f.ok(err, "DeleteUser(cat)")
		_, err = f.s.Redeem(f.ctx, f.invite("r1"), member("cat", t0), t0, 0)
		f.is(err, epchat.ErrNotFound, "Redeem by a deleted user")
	}},
	{name: "Seats", run: func(f *fixture) {
		f.users("ana", "ben", "cat")
		f.room("r1", "ana", 5)
		f.join("r1", "ben")
		seq, err := f.s.Message(f.ctx, "r1", "ana", at(time.Second))
		f.ok(err, "Message")
		f.ok(f.s.CreateInvite(f.ctx, inv("i", "r1", at(time.Hour)), "ana", t0), "CreateInvite")
		m := member("cat", at(time.Minute))
		r, err := f.s.Redeem(f.ctx, hash("i"), m, at(time.Minute), 0)
		f.ok(err, "Redeem")
		if r.ID != "r1" || r.Owner != "ana" || r.Limit != 5 || r.Seq != seq {
			f.t.Fatalf("Redeem returned room %+v, want r1 owned by ana, limit 5, seq %d", r, seq)
		}
		_, ms := f.get("r1")
		last := ms[len(ms)-1]
		if last.ID != "cat" || last.Nickname != m.Nickname || !sameInstant(last.JoinedAt, m.JoinedAt) {
			f.t.Fatalf("the redeemer is seated as %+v, want %+v, last", last, m)
		}
		f.seated("r1", "ana", "ben", "cat")
		f.userRooms("cat", "r1")
	}},
	{name: "OneTime", run: func(f *fixture) {
		f.users("ana", "ben", "cat")
		f.room("r1", "ana", 5)
		f.ok(f.s.CreateInvite(f.ctx, inv("i", "r1", at(time.Hour)), "ana", t0), "CreateInvite")
		f.ok(f.redeem("i", "ben", t0), "first Redeem")
		f.is(f.redeem("i", "cat", t0), epchat.ErrInviteInvalid, "second Redeem of one invite")
		f.seated("r1", "ana", "ben")
		f.userRooms("cat")
	}},
	{name: "Unknown", run: func(f *fixture) {
		f.users("ana", "ben")
		f.room("r1", "ana", 5)
		f.is(f.redeem("never made", "ben", t0), epchat.ErrInviteInvalid, "Redeem of an unknown invite")
	}},
	{name: "Expiry", run: func(f *fixture) {
		f.users("ana", "ben", "cat", "dan")
		f.room("r1", "ana", 5)
		exp := at(5 * time.Minute)
		for _, label := range []string{"i1", "i2", "i3"} {
			f.ok(f.s.CreateInvite(f.ctx, inv(label, "r1", exp), "ana", t0), "CreateInvite")
		}
		f.ok(f.redeem("i1", "ben", exp.Add(-time.Nanosecond)), "Redeem 1ns before ExpiresAt")
		f.is(f.redeem("i2", "cat", exp), epchat.ErrInviteInvalid, "Redeem at exactly ExpiresAt")
		f.is(f.redeem("i3", "dan", exp.Add(time.Minute)), epchat.ErrInviteInvalid, "Redeem after ExpiresAt")
		f.seated("r1", "ana", "ben")
	}},
	{name: "RoomGone", run: func(f *fixture) {
		f.users("ana", "ben")
		f.room("r1", "ana", 5)
		f.ok(f.s.CreateInvite(f.ctx, inv("closed", "r1", at(time.Hour)), "ana", t0), "CreateInvite")
		_, err := f.s.CloseRoom(f.ctx, "r1")
		f.ok(err, "CloseRoom")
		f.is(f.redeem("closed", "ben", t0), epchat.ErrInviteInvalid, "Redeem into a closed room")
		f.room("r2", "ana", 5)
		f.ok(f.s.CreateInvite(f.ctx, inv("left", "r2", at(time.Hour)), "ana", t0), "CreateInvite")
		f.leave("r2", "ana")
		f.is(f.redeem("left", "ben", t0), epchat.ErrInviteInvalid, "Redeem into a room its last member left")
		f.userRooms("ben")
	}},
	{name: "AlreadyMemberKeepsInvite", run: func(f *fixture) {
		f.users("ana", "ben")
		f.room("r1", "ana", 5)
		f.ok(f.s.CreateInvite(f.ctx, inv("i", "r1", at(time.Hour)), "ana", t0), "CreateInvite")
		f.is(f.redeem("i", "ana", t0), epchat.ErrAlreadyMember, "Redeem by a member")
		f.seated("r1", "ana")
		f.ok(f.redeem("i", "ben", t0), "Redeem of the invite a member tried")
	}},
	{name: "RoomFullKeepsInvite", run: func(f *fixture) {
		f.users("ana", "ben", "cat")
		f.room("r1", "ana", 2)
		f.ok(f.s.CreateInvite(f.ctx, inv("i1", "r1", at(time.Hour)), "ana", t0), "CreateInvite i1")
		f.ok(f.s.CreateInvite(f.ctx, inv("i2", "r1", at(time.Hour)), "ana", t0), "CreateInvite i2")
		f.ok(f.redeem("i1", "ben", t0), "Redeem of the last seat")
		f.is(f.redeem("i2", "cat", t0), epchat.ErrRoomFull, "Redeem into a full room")
		f.seated("r1", "ana", "ben")
		f.leave("r1", "ben")
		f.ok(f.redeem("i2", "cat", t0), "Redeem of the invite that met a full room, once a seat is free")
		f.seated("r1", "ana", "cat")
	}},
	{name: "TooManyRoomsKeepsInvite", run: func(f *fixture) {
		f.users("ana", "ben")
		f.room("r0", "ben", 5)
		f.room("r1", "ana", 5)
		f.room("r2", "ana", 5)
		f.ok(f.s.CreateInvite(f.ctx, inv("i1", "r1", at(time.Hour)), "ana", t0), "CreateInvite")
		f.ok(f.s.CreateInvite(f.ctx, inv("i2", "r2", at(time.Hour)), "ana", t0), "CreateInvite")
		_, err := f.s.Redeem(f.ctx, hash("i1"), member("ben", t0), t0, 1)
		f.is(err, epchat.ErrTooManyRooms, "Redeem by a user seated in maxRooms rooms")
		f.seated("r1", "ana")
		_, err = f.s.Redeem(f.ctx, hash("i1"), member("ben", t0), t0, 2)
		f.ok(err, "Redeem of the same invite below maxRooms")
		_, err = f.s.Redeem(f.ctx, hash("i2"), member("ben", t0), t0, 0)
		f.ok(err, "Redeem with maxRooms 0 (no limit)")
		f.userRooms("ben", "r0", "r1", "r2")
	}},
	{name: "NicknameTakenKeepsInvite", run: func(f *fixture) {
		// A joiner whose nickname looks like a member's (the same
		// epchat.NicknameKey: case, look-alike letters) is refused, and
		// the invite still works for another nickname.
		f.users("ana", "ben")
		f.room("r1", "ana", 5) // seated as "nick of ana"
		tok := f.invite("r1")
		for _, nick := range []string{"nick of ana", "NICK OF ANA", "nick of \u0430na"} {
			_, err := f.s.Redeem(f.ctx, tok, epchat.Member{ID: "ben", Nickname: nick, JoinedAt: t0}, t0, 0)
			f.is(err, epchat.ErrNicknameTaken, "Redeem as %+q into a room where %q is seated", nick, "nick of ana")
		}
		f.seated("r1", "ana")
		_, err := f.s.Redeem(f.ctx, tok, epchat.Member{ID: "ben", Nickname: "nick of ben", JoinedAt: t0}, t0, 0)
		f.ok(err, "Redeem of the same invite with another nickname")
		if _, ms := f.get("r1"); len(ms) != 2 || ms[1].Nickname != "nick of ben" {
			f.t.Fatalf("seated after the Redeem: %+v", ms)
		}
		// Once the member leaves, its nickname is free.
		f.leave("r1", "ana")
		f.user("cat")
		_, err = f.s.Redeem(f.ctx, f.invite("r1"), epchat.Member{ID: "cat", Nickname: "Nick of Ana", JoinedAt: t0}, t0, 0)
		f.ok(err, "Redeem as the nickname of a member who left")
	}},
	{name: "OwnerInvite", run: func(f *fixture) {
		f.users("ben", "cat")
		f.room("r1", "", 5)
		f.ok(f.s.CreateInvite(f.ctx, inv("plain", "r1", at(time.Hour)), "", t0), "CreateInvite")
		own := inv("owner", "r1", at(time.Hour))
		own.Owner = true
		f.ok(f.s.CreateInvite(f.ctx, own, "", t0), "CreateInvite of an owner invite")
		r, err := f.s.Redeem(f.ctx, hash("plain"), member("ben", t0), t0, 0)
		f.ok(err, "Redeem of a plain invite")
		if r.Owner != "" {
			f.t.Fatalf("a plain invite made %q the owner", r.Owner)
		}
		r, err = f.s.Redeem(f.ctx, hash("owner"), member("cat", t0), t0, 0)
		f.ok(err, "Redeem of the owner invite")
		if r.Owner != "cat" {
			f.t.Fatalf("Redeem of the owner invite returned owner %q, want cat", r.Owner)
		}
		if got, _ := f.get("r1"); got.Owner != "cat" {
			f.t.Fatalf("owner after the owner invite = %q, want cat", got.Owner)
		}
		f.seated("r1", "ben", "cat")
	}},
	{name: "OwnerInviteKeepsOwner", run: func(f *fixture) {
		f.users("ana", "ben")
		f.room("r1", "ana", 5)
		own := inv("owner", "r1", at(time.Hour))
		own.Owner = true
		f.ok(f.s.CreateInvite(f.ctx, own, "", t0), "CreateInvite of an owner invite")
		r, err := f.s.Redeem(f.ctx, hash("owner"), member("ben", t0), t0, 0)
		f.ok(err, "Redeem")
		if got, _ := f.get("r1"); r.Owner != "ana" || got.Owner != "ana" {
			f.t.Fatalf("owner invite into an owned room: owner %q (returned %q), want ana", got.Owner, r.Owner)
		}
	}},
}

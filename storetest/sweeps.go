package storetest

import (
	"maps"
	"slices"
	"time"

	"github.com/epchat-go/epchat"
)

// departures indexes ds by user, and fails the rule unless the users are
// exactly want.
func (f *fixture) departures(what string, ds []epchat.Departure, want ...string) map[string][]epchat.LeaveResult {
	f.t.Helper()
	out := make(map[string][]epchat.LeaveResult)
	for _, d := range ds {
		if _, dup := out[d.User]; dup {
			f.t.Fatalf("%s returned %q twice", what, d.User)
		}
		out[d.User] = d.Left
	}
	if got := slices.Sorted(maps.Keys(out)); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		f.t.Fatalf("%s returned users %q, want %q", what, got, slices.Sorted(slices.Values(want)))
	}
	return out
}

// left indexes the results of one departure by room, and fails the rule
// unless the rooms are exactly want.
func (f *fixture) left(user string, rs []epchat.LeaveResult, want ...string) map[string]epchat.LeaveResult {
	f.t.Helper()
	out := make(map[string]epchat.LeaveResult)
	for _, r := range rs {
		if r.User != user {
			f.t.Fatalf("a LeaveResult of %q names user %q", user, r.User)
		}
		out[r.Room] = r
	}
	if got := slices.Sorted(maps.Keys(out)); len(rs) != len(want) || !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		f.t.Fatalf("%q left rooms %q, want %q", user, got, slices.Sorted(slices.Values(want)))
	}
	return out
}

// detached gives user one connection at t0 and takes it away at when.
func (f *fixture) detached(user string, when time.Time) {
	f.t.Helper()
	f.ok(f.s.Attach(f.ctx, user, t0), "Attach(%q)", user)
	f.ok(f.s.Detach(f.ctx, user, when), "Detach(%q)", user)
}

var sweepRules = []rule{
	{name: "CloseIdleRooms", run: func(f *fixture) {
		cut := at(10 * time.Minute)
		f.users("ana", "ben", "cat", "dan")
		f.room("quiet", "ana", 5) // ActiveAt t0
		f.join("quiet", "ben")
		tok := f.invite("quiet")
		f.room("early", "ben", 5) // last message 1ns before the cut
		f.room("edge", "cat", 5)  // last message at the cut
		f.room("host", "", 5)     // nobody ever joined
		// late is created after the cut.
		r := epchat.Room{
			ID:        "late",
			Owner:     "dan",
			Limit:     5,
			CreatedAt: at(11 * time.Minute),
			ActiveAt:  at(11 * time.Minute),
		}
		dan := member("dan", r.CreatedAt)
		f.ok(f.s.CreateRoom(f.ctx, r, &dan, 0), "CreateRoom")
		_, err := f.s.Message(f.ctx, "early", "ben", cut.Add(-time.Nanosecond))
		f.ok(err, "Message")
		_, err = f.s.Message(f.ctx, "edge", "cat", cut)
		f.ok(err, "Message")

		closed, err := f.s.CloseIdleRooms(f.ctx, cut)
		f.ok(err, "CloseIdleRooms")
		got := make(map[string]epchat.ClosedRoom)
		for _, c := range closed {
			got[c.Room.ID] = c
		}
		if ids := slices.Sorted(maps.Keys(got)); len(closed) != 3 || !slices.Equal(ids, []string{"early", "host", "quiet"}) {
			f.t.Fatalf("CloseIdleRooms closed %q, want [early host quiet] (ActiveAt strictly before the cut)", ids)
		}
		if m := ids(got["quiet"].Members); !slices.Equal(m, []string{"ana", "ben"}) {
			f.t.Fatalf("closed room quiet had members %q, want [ana ben]", m)
		}
		if got["early"].Room.Seq != 1 {
			f.t.Fatalf("closed room early has Seq %d, want 1", got["early"].Room.Seq)
		}
		f.gone("quiet")
		f.gone("early")
		f.seated("edge", "cat")
		f.seated("late", "dan")
		f.userRooms("ana")
		f.userRooms("ben")
		_, err = f.s.Redeem(f.ctx, tok, member("cat", t0), t0, 0)
		f.is(err, epchat.ErrInviteInvalid, "Redeem of an invite to an idle-closed room")
		more, err := f.s.CloseIdleRooms(f.ctx, cut)
		f.ok(err, "CloseIdleRooms again")
		if len(more) != 0 {
			f.t.Fatalf("a second CloseIdleRooms closed %d rooms, want 0", len(more))
		}
	}},
	{name: "VacateUsers", run: func(f *fixture) {
		cut := at(time.Hour)
		f.users("ana", "ben", "cat", "dan", "eve", "fay")
		f.detached("ana", cut.Add(-time.Nanosecond)) // gone before the cut
		f.ok(f.s.Attach(f.ctx, "ben", t0), "Attach") // connected
		f.detached("cat", cut)                       // gone at the cut
		f.detached("dan", t0)                        // gone, but no seat
		f.detached("eve", t0)                        // gone, alone in a room
		// fay never connected: her DetachedAt is the zero instant, before any cut.
		f.room("r1", "ana", 5)
		f.join("r1", "ben")
		f.room("r2", "cat", 5)
		f.join("r2", "ana", "fay")
		f.room("r3", "eve", 5)

		ds, err := f.s.VacateUsers(f.ctx, cut)
		f.ok(err, "VacateUsers")
		byUser := f.departures("VacateUsers", ds, "ana", "eve", "fay")
		ana := f.left("ana", byUser["ana"], "r1", "r2")
		if ana["r1"].NewOwner != "ben" || ana["r1"].Closed {
			f.t.Fatalf("ana leaving r1 = %+v, want ownership to ben", ana["r1"])
		}
		if ana["r2"].NewOwner != "" || ana["r2"].Closed {
			f.t.Fatalf("ana leaving r2 = %+v, want a plain departure", ana["r2"])
		}
		if eve := f.left("eve", byUser["eve"], "r3"); !eve["r3"].Closed {
			f.t.Fatalf("eve leaving r3 = %+v, want the room closed", eve["r3"])
		}
		f.left("fay", byUser["fay"], "r2")

		f.seated("r1", "ben")
		if r, _ := f.get("r1"); r.Owner != "ben" {
			f.t.Fatalf("owner of r1 = %q, want ben", r.Owner)
		}
		f.seated("r2", "cat")
		f.gone("r3")
		f.userRooms("ana")
		// The users remain: their token still identifies them.
		for _, id := range []string{"ana", "eve", "fay"} {
			if u := f.lookup(tokenOf(id)); u.ID != id {
				f.t.Fatalf("token of vacated %s names %q", id, u.ID)
			}
		}
		f.ok(f.s.Attach(f.ctx, "ana", cut), "Attach of a vacated user")
		again, err := f.s.VacateUsers(f.ctx, cut)
		f.ok(err, "VacateUsers again")
		f.departures("second VacateUsers", again)
	}},
	{name: "ForgetUsers", run: func(f *fixture) {
		cut := at(5 * 24 * time.Hour)
		f.users("ana", "ben", "cat", "dan", "eve")
		f.ok(f.s.Attach(f.ctx, "ben", t0), "Attach")        // connected
		f.ok(f.s.TouchUser(f.ctx, "cat", cut), "TouchUser") // seen at the cut
		f.ok(f.s.TouchUser(f.ctx, "ana", cut.Add(-time.Nanosecond)), "TouchUser")
		f.room("r1", "ana", 5)
		f.join("r1", "ben", "cat")
		f.room("r2", "eve", 5)

		ds, err := f.s.ForgetUsers(f.ctx, cut, cut)
		f.ok(err, "ForgetUsers")
		byUser := f.departures("ForgetUsers", ds, "ana", "dan", "eve")
		if ana := f.left("ana", byUser["ana"], "r1"); ana["r1"].NewOwner != "ben" {
			f.t.Fatalf("ana leaving r1 = %+v, want ownership to ben", ana["r1"])
		}
		f.left("dan", byUser["dan"])
		if eve := f.left("eve", byUser["eve"], "r2"); !eve["r2"].Closed {
			f.t.Fatalf("eve leaving r2 = %+v, want the room closed", eve["r2"])
		}

		f.seated("r1", "ben", "cat")
		f.gone("r2")
		for _, id := range []string{"ana", "dan", "eve"} {
			_, err := f.s.UserByToken(f.ctx, tokenOf(id))
			f.is(err, epchat.ErrNotFound, "UserByToken of forgotten %s", id)
			f.is(f.s.Attach(f.ctx, id, cut), epchat.ErrNotFound, "Attach of forgotten %s", id)
			f.is(f.s.TouchUser(f.ctx, id, cut), epchat.ErrNotFound, "TouchUser of forgotten %s", id)
			f.userRooms(id)
		}
		for _, id := range []string{"ben", "cat"} {
			f.lookup(tokenOf(id))
		}
		f.user("ana") // the id and the token are free again
	}},
	{name: "ForgetSeatlessSooner", run: func(f *fixture) {
		// The user idle cut is t0; users in no room are cut an hour later.
		cut, seatless := t0, at(time.Hour)
		f.users("ana", "ben", "cat", "dan", "eve", "fay", "gus")
		f.detached("ana", seatless.Add(-time.Nanosecond)) // no seat, gone before the seatless cut
		f.detached("ben", seatless)                       // no seat, gone at the seatless cut
		f.detached("cat", at(time.Minute))                // seated, gone before the seatless cut
		f.ok(f.s.Attach(f.ctx, "dan", t0), "Attach")      // no seat, connected
		f.detached("eve", at(time.Minute))                // left her room, so no seat now
		// fay never connected: SeenAt t0, no seat.
		f.detached("gus", cut.Add(-time.Nanosecond)) // seated, gone before the user idle cut
		f.room("r1", "cat", 5)
		f.room("r2", "eve", 5)
		f.join("r2", "cat", "gus")
		f.leave("r2", "eve")

		ds, err := f.s.ForgetUsers(f.ctx, cut, seatless)
		f.ok(err, "ForgetUsers")
		byUser := f.departures("ForgetUsers", ds, "ana", "eve", "fay", "gus")
		for _, id := range []string{"ana", "eve", "fay"} {
			f.left(id, byUser[id])
		}
		f.left("gus", byUser["gus"], "r2")
		for _, id := range []string{"ana", "eve", "fay", "gus"} {
			_, err := f.s.UserByToken(f.ctx, tokenOf(id))
			f.is(err, epchat.ErrNotFound, "UserByToken of forgotten %s", id)
		}
		for _, id := range []string{"ben", "cat", "dan"} {
			f.lookup(tokenOf(id))
		}
		f.seated("r1", "cat")
		f.seated("r2", "cat")
		// Past the user idle cut, the seated are forgotten too.
		later := at(6 * 24 * time.Hour)
		ds, err = f.s.ForgetUsers(f.ctx, later, later)
		f.ok(err, "ForgetUsers later")
		byUser = f.departures("ForgetUsers later", ds, "ben", "cat")
		f.left("cat", byUser["cat"], "r1", "r2")
		f.gone("r1")
	}},
	{name: "ExpireInvites", run: func(f *fixture) {
		f.users("ana", "ben", "cat")
		f.room("r1", "ana", 5)
		f.room("r2", "ben", 5)
		f.ok(f.s.CreateInvite(f.ctx, inv("1m", "r1", at(time.Minute)), "", t0), "CreateInvite")
		f.ok(f.s.CreateInvite(f.ctx, inv("2m", "r1", at(2*time.Minute)), "", t0), "CreateInvite")
		f.ok(f.s.CreateInvite(f.ctx, inv("3m", "r1", at(3*time.Minute)), "", t0), "CreateInvite")
		f.ok(f.s.CreateInvite(f.ctx, inv("r2 1m", "r2", at(time.Minute)), "", t0), "CreateInvite")
		n, err := f.s.ExpireInvites(f.ctx, at(2*time.Minute))
		f.ok(err, "ExpireInvites")
		if n != 3 {
			f.t.Fatalf("ExpireInvites = %d, want 3 (expired at or before now, in every room)", n)
		}
		f.ok(f.redeem("3m", "cat", at(2*time.Minute)), "Redeem of the invite left")
		n, err = f.s.ExpireInvites(f.ctx, at(2*time.Minute))
		f.ok(err, "ExpireInvites")
		if n != 0 {
			f.t.Fatalf("second ExpireInvites = %d, want 0", n)
		}
		if n := f.expireAll(); n != 0 {
			f.t.Fatalf("ExpireInvites after the last invite was redeemed = %d, want 0", n)
		}
	}},
}

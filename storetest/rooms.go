package storetest

import (
	"time"

	"github.com/epchat-go/epchat"
)

var roomRules = []rule{
	{name: "OwnerNeedsUser", run: func(f *fixture) {
		// Only users are seated: an owner that is no user gets no room.
		r := epchat.Room{ID: "r1", Owner: "nobody", Limit: 5, CreatedAt: t0, ActiveAt: t0}
		owner := member("nobody", t0)
		f.is(f.s.CreateRoom(f.ctx, r, &owner, 0), epchat.ErrNotFound, "CreateRoom with an owner that is no user")
		f.gone("r1")
		f.userRooms("nobody")
		f.user("nobody") // the id is free to become a user, in no room
		f.userRooms("nobody")
	}},
	{name: "CreateWithOwner", run: func(f *fixture) {
		f.user("ana")
		r := epchat.Room{
			ID:        "r1",
			Owner:     "ana",
			Limit:     5,
			CreatedAt: at(time.Second),
			ActiveAt:  at(2 * time.Second),
		}
		owner := member("ana", at(time.Second))
		f.ok(f.s.CreateRoom(f.ctx, r, &owner, 0), "CreateRoom")
		got, ms := f.get("r1")
		if got.ID != "r1" || got.Owner != "ana" || got.Limit != 5 || got.Seq != 0 {
			f.t.Fatalf("Room = %+v, want id r1, owner ana, limit 5, seq 0", got)
		}
		if !sameInstant(got.CreatedAt, r.CreatedAt) || !sameInstant(got.ActiveAt, r.ActiveAt) {
			f.t.Fatalf("Room: CreatedAt %v ActiveAt %v, want %v %v", got.CreatedAt, got.ActiveAt, r.CreatedAt, r.ActiveAt)
		}
		if len(ms) != 1 || ms[0].ID != "ana" || ms[0].Nickname != owner.Nickname || !sameInstant(ms[0].JoinedAt, owner.JoinedAt) {
			f.t.Fatalf("members = %+v, want only the owner %+v", ms, owner)
		}
		f.userRooms("ana", "r1")
	}},
	{name: "CreateWithoutOwner", run: func(f *fixture) {
		r := epchat.Room{
			ID:        "r1",
			Limit:     3,
			CreatedAt: t0,
			ActiveAt:  t0,
		}
		f.ok(f.s.CreateRoom(f.ctx, r, nil, 1), "CreateRoom without owner")
		got, ms := f.get("r1")
		if got.Owner != "" || got.Limit != 3 || len(ms) != 0 {
			f.t.Fatalf("Room = %+v with %d members, want no owner, limit 3, no member", got, len(ms))
		}
	}},
	{name: "IDTaken", run: func(f *fixture) {
		f.users("ana", "ben")
		f.room("r1", "ana", 5)
		r := epchat.Room{
			ID:        "r1",
			Owner:     "ben",
			Limit:     9,
			CreatedAt: t0,
			ActiveAt:  t0,
		}
		m := member("ben", t0)
		f.is(f.s.CreateRoom(f.ctx, r, &m, 0), epchat.ErrExists, "CreateRoom with a taken id")
		got, _ := f.get("r1")
		if got.Owner != "ana" || got.Limit != 5 {
			f.t.Fatalf("the first room was changed: %+v", got)
		}
		f.seated("r1", "ana")
		f.userRooms("ben")
	}},
	{name: "MaxRooms", run: func(f *fixture) {
		f.user("ana")
		create := func(id string, maxRooms int) error {
			r := epchat.Room{
				ID:        id,
				Owner:     "ana",
				Limit:     2,
				CreatedAt: t0,
				ActiveAt:  t0,
			}
			m := member("ana", t0)
			return f.s.CreateRoom(f.ctx, r, &m, maxRooms)
		}
		f.ok(create("r1", 2), "CreateRoom 1 of 2")
		f.ok(create("r2", 2), "CreateRoom 2 of 2")
		f.is(create("r3", 2), epchat.ErrTooManyRooms, "CreateRoom 3 of 2")
		f.gone("r3")
		f.userRooms("ana", "r1", "r2")
		f.ok(create("r3", 3), "CreateRoom 3 of 3")
		f.ok(create("r4", 0), "CreateRoom with maxRooms 0 (no limit)")
		f.ok(create("r5", -1), "CreateRoom with maxRooms -1 (no limit)")
		f.userRooms("ana", "r1", "r2", "r3", "r4", "r5")
		hostRoom := epchat.Room{
			ID:        "r6",
			Limit:     2,
			CreatedAt: t0,
			ActiveAt:  t0,
		}
		f.ok(f.s.CreateRoom(f.ctx, hostRoom, nil, 1), "CreateRoom without owner and maxRooms 1")
	}},
	{name: "NotFound", run: func(f *fixture) {
		f.user("ana")
		f.room("r1", "ana", 2)
		f.gone("r2")
	}},
	{name: "JoinOrder", run: func(f *fixture) {
		// Everyone joins at the same instant and the ids are not in
		// alphabetical order: join order is the order of seating.
		f.users("zoe", "mia", "amy", "lea", "kim")
		f.room("r1", "zoe", 5)
		f.join("r1", "mia", "amy", "lea")
		f.seated("r1", "zoe", "mia", "amy", "lea")
		f.leave("r1", "mia")
		f.join("r1", "mia")
		f.seated("r1", "zoe", "amy", "lea", "mia")
		_, err := f.s.Redeem(f.ctx, f.invite("r1"), member("kim", t0), t0, 0)
		f.ok(err, "Redeem")
		f.seated("r1", "zoe", "amy", "lea", "mia", "kim")
	}},
	{name: "List", run: func(f *fixture) {
		f.users("ana", "ben", "cat", "dan")
		f.room("r1", "ana", 5)
		f.join("r1", "ben", "cat")
		f.room("r2", "dan", 2)
		f.room("r3", "", 4)
		infos, err := f.s.Rooms(f.ctx)
		f.ok(err, "Rooms")
		type seen struct {
			owner   string
			limit   int
			members int
		}
		got := map[string]seen{}
		for _, ri := range infos {
			got[ri.ID] = seen{ri.Owner, ri.Limit, ri.Members}
		}
		want := map[string]seen{
			"r1": {"ana", 5, 3},
			"r2": {"dan", 2, 1},
			"r3": {"", 4, 0},
		}
		if len(infos) != len(want) {
			f.t.Fatalf("Rooms listed %d rooms, want %d: %+v", len(infos), len(want), infos)
		}
		for id, w := range want {
			if got[id] != w {
				f.t.Fatalf("Rooms: %s = %+v, want %+v", id, got[id], w)
			}
		}
	}},
	{name: "UserRooms", run: func(f *fixture) {
		f.users("ana", "ben")
		f.room("r1", "ana", 5)
		f.room("r2", "ben", 5)
		f.join("r2", "ana")
		f.userRooms("ana", "r1", "r2")
		f.userRooms("ben", "r2")
		f.leave("r2", "ana")
		f.userRooms("ana", "r1")
	}},
}

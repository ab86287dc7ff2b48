package storetest

import (
	"fmt"
	"sync"
	"time"

	"github.com/epchat-go/epchat"
)

var userRules = []rule{
	{name: "CreateAndFind", run: func(f *fixture) {
		u := epchat.User{
			ID:         "ana",
			Nickname:   "Ana",
			Token:      tokenOf("ana"),
			SeenAt:     at(time.Minute),
			DetachedAt: at(time.Second),
		}
		f.ok(f.s.CreateUser(f.ctx, u, 0), "CreateUser")
		got := f.lookup(u.Token)
		if got.ID != u.ID || got.Nickname != u.Nickname || got.Token != u.Token {
			f.t.Fatalf("UserByToken = %q %q, want %q %q", got.ID, got.Nickname, u.ID, u.Nickname)
		}
		if !sameInstant(got.SeenAt, u.SeenAt) || !sameInstant(got.DetachedAt, u.DetachedAt) {
			f.t.Fatalf("UserByToken: SeenAt %v DetachedAt %v, want %v %v (instants must be kept to the nanosecond)",
				got.SeenAt, got.DetachedAt, u.SeenAt, u.DetachedAt)
		}
		if got.Conns != 0 {
			f.t.Fatalf("UserByToken: Conns = %d, want 0", got.Conns)
		}
	}},
	{name: "CreatedWithoutConnection", run: func(f *fixture) {
		// "CreateUser adds a user with no connection", whatever Conns says.
		u := epchat.User{
			ID:       "ana",
			Nickname: "Ana",
			Token:    tokenOf("ana"),
			SeenAt:   t0,
			Conns:    3,
		}
		f.ok(f.s.CreateUser(f.ctx, u, 0), "CreateUser")
		if got := f.lookup(u.Token); got.Conns != 0 {
			f.t.Fatalf("Conns of a new user = %d, want 0", got.Conns)
		}
		f.ok(f.s.Detach(f.ctx, "ana", at(time.Minute)), "Detach")
		got := f.lookup(u.Token)
		if got.Conns != 0 || !sameInstant(got.DetachedAt, at(time.Minute)) {
			f.t.Fatalf("after one Detach: Conns %d DetachedAt %v, want 0 and %v", got.Conns, got.DetachedAt, at(time.Minute))
		}
	}},
	{name: "IDTaken", run: func(f *fixture) {
		f.user("ana")
		clash := epchat.User{
			ID:       "ana",
			Nickname: "impostor",
			Token:    tokenOf("other"),
			SeenAt:   t0,
		}
		f.is(f.s.CreateUser(f.ctx, clash, 0), epchat.ErrExists, "CreateUser with a taken id")
		if got := f.lookup(tokenOf("ana")); got.Nickname != "nick of ana" {
			f.t.Fatalf("the first user was changed: nickname %q", got.Nickname)
		}
		_, err := f.s.UserByToken(f.ctx, clash.Token)
		f.is(err, epchat.ErrNotFound, "UserByToken of the refused user's token")
	}},
	{name: "TokenTaken", run: func(f *fixture) {
		f.user("ana")
		clash := epchat.User{
			ID:       "ben",
			Nickname: "Ben",
			Token:    tokenOf("ana"),
			SeenAt:   t0,
		}
		f.is(f.s.CreateUser(f.ctx, clash, 0), epchat.ErrExists, "CreateUser with a taken token")
		if got := f.lookup(tokenOf("ana")); got.ID != "ana" {
			f.t.Fatalf("the token now names %q, want ana", got.ID)
		}
		f.is(f.s.Attach(f.ctx, "ben", t0), epchat.ErrNotFound, "Attach of the refused user")
	}},
	{name: "UnknownToken", run: func(f *fixture) {
		f.user("ana")
		_, err := f.s.UserByToken(f.ctx, hash("nobody's"))
		f.is(err, epchat.ErrNotFound, "UserByToken of an unknown token")
	}},
	{name: "AttachDetach", run: func(f *fixture) {
		u := f.user("ana")
		f.ok(f.s.Attach(f.ctx, "ana", at(1*time.Second)), "Attach")
		f.ok(f.s.Attach(f.ctx, "ana", at(2*time.Second)), "Attach")
		got := f.lookup(u.Token)
		if got.Conns != 2 || !sameInstant(got.SeenAt, at(2*time.Second)) {
			f.t.Fatalf("after two Attach: Conns %d SeenAt %v, want 2 and %v", got.Conns, got.SeenAt, at(2*time.Second))
		}
		f.ok(f.s.Detach(f.ctx, "ana", at(3*time.Second)), "Detach")
		got = f.lookup(u.Token)
		if got.Conns != 1 || !sameInstant(got.SeenAt, at(3*time.Second)) {
			f.t.Fatalf("after one Detach: Conns %d SeenAt %v, want 1 and %v", got.Conns, got.SeenAt, at(3*time.Second))
		}
		if !got.DetachedAt.IsZero() {
			f.t.Fatalf("DetachedAt = %v while a connection is left, want it untouched (zero)", got.DetachedAt)
		}
		f.ok(f.s.Detach(f.ctx, "ana", at(4*time.Second)), "Detach")
		got = f.lookup(u.Token)
		if got.Conns != 0 || !sameInstant(got.DetachedAt, at(4*time.Second)) || !sameInstant(got.SeenAt, at(4*time.Second)) {
			f.t.Fatalf("after the last Detach: Conns %d DetachedAt %v SeenAt %v, want 0 and %v", got.Conns, got.DetachedAt, got.SeenAt, at(4*time.Second))
		}
	}},
	{name: "DetachNeverBelowZero", run: func(f *fixture) {
		u := f.user("ana")
		f.ok(f.s.Detach(f.ctx, "ana", at(1*time.Second)), "Detach")
		f.ok(f.s.Detach(f.ctx, "ana", at(2*time.Second)), "Detach")
		got := f.lookup(u.Token)
		if got.Conns != 0 || !sameInstant(got.SeenAt, at(2*time.Second)) {
			f.t.Fatalf("after Detach without connection: Conns %d SeenAt %v, want 0 and %v", got.Conns, got.SeenAt, at(2*time.Second))
		}
		f.ok(f.s.Attach(f.ctx, "ana", at(3*time.Second)), "Attach")
		if got := f.lookup(u.Token); got.Conns != 1 {
			f.t.Fatalf("Attach after extra Detaches: Conns = %d, want 1", got.Conns)
		}
	}},
	{name: "TouchUser", run: func(f *fixture) {
		u := f.user("ana")
		f.ok(f.s.Attach(f.ctx, "ana", at(time.Second)), "Attach")
		f.ok(f.s.TouchUser(f.ctx, "ana", at(time.Hour)), "TouchUser")
		got := f.lookup(u.Token)
		if !sameInstant(got.SeenAt, at(time.Hour)) || got.Conns != 1 || !got.DetachedAt.IsZero() {
			f.t.Fatalf("after TouchUser: SeenAt %v Conns %d DetachedAt %v, want %v, 1, zero", got.SeenAt, got.Conns, got.DetachedAt, at(time.Hour))
		}
	}},
	{name: "UnknownUser", run: func(f *fixture) {
		f.user("ana")
		f.is(f.s.Attach(f.ctx, "ghost", t0), epchat.ErrNotFound, "Attach of an unknown user")
		f.is(f.s.Detach(f.ctx, "ghost", t0), epchat.ErrNotFound, "Detach of an unknown user")
		f.is(f.s.TouchUser(f.ctx, "ghost", t0), epchat.ErrNotFound, "TouchUser of an unknown user")
		f.userRooms("ghost")
	}},
	{name: "MaxUsers", run: func(f *fixture) {
		mk := func(id string) epchat.User {
			return epchat.User{ID: id, Nickname: "nick of " + id, Token: tokenOf(id), SeenAt: t0}
		}
		f.ok(f.s.CreateUser(f.ctx, mk("ana"), 2), "CreateUser 1 of 2")
		f.ok(f.s.CreateUser(f.ctx, mk("ben"), 2), "CreateUser 2 of 2")
		f.is(f.s.CreateUser(f.ctx, mk("cat"), 2), epchat.ErrTooManyUsers, "CreateUser beyond maxUsers")
		_, err := f.s.UserByToken(f.ctx, tokenOf("cat"))
		f.is(err, epchat.ErrNotFound, "UserByToken of the refused user")
		f.ok(f.s.CreateUser(f.ctx, mk("cat"), 0), "CreateUser with no limit")
		f.is(f.s.CreateUser(f.ctx, mk("dan"), 3), epchat.ErrTooManyUsers, "CreateUser at maxUsers")
		// A user deleted or forgotten frees its place.
		_, err = f.s.DeleteUser(f.ctx, "ana", t0)
		f.ok(err, "DeleteUser")
		f.ok(f.s.CreateUser(f.ctx, mk("dan"), 3), "CreateUser after a DeleteUser")
		_, err = f.s.ForgetUsers(f.ctx, at(time.Hour), at(time.Hour))
		f.ok(err, "ForgetUsers")
		f.ok(f.s.CreateUser(f.ctx, mk("eve"), 1), "CreateUser after ForgetUsers")
		// Racing callers never pass the limit together.
		var made int
		var mu sync.Mutex
		race(16, func(i int) {
			if f.s.CreateUser(f.ctx, mk(fmt.Sprint("racer", i)), 5) == nil {
				mu.Lock()
				made++
				mu.Unlock()
			}
		})
		if made != 4 {
			f.t.Fatalf("%d of 16 racing CreateUser calls passed a limit of 5 with 1 user in, want 4", made)
		}
	}},
	{name: "DeleteUser", run: func(f *fixture) {
		f.users("ana", "ben", "cat")
		f.ok(f.s.Attach(f.ctx, "ana", t0), "Attach") // connected: deleted all the same
		f.room("r1", "ana", 5)
		f.join("r1", "ben")
		f.room("r2", "ana", 5)
		f.room("r3", "cat", 5)
		left, err := f.s.DeleteUser(f.ctx, "ana", at(time.Minute))
		f.ok(err, "DeleteUser")
		byRoom := f.left("ana", left, "r1", "r2")
		if byRoom["r1"].NewOwner != "ben" || byRoom["r1"].Closed {
			f.t.Fatalf("ana leaving r1 = %+v, want ownership to ben", byRoom["r1"])
		}
		if !byRoom["r2"].Closed {
			f.t.Fatalf("ana leaving r2 = %+v, want the room closed", byRoom["r2"])
		}
		f.seated("r1", "ben")
		f.gone("r2")
		f.seated("r3", "cat")
		f.userRooms("ana")
		_, err = f.s.UserByToken(f.ctx, tokenOf("ana"))
		f.is(err, epchat.ErrNotFound, "UserByToken of a deleted user")
		f.is(f.s.Attach(f.ctx, "ana", t0), epchat.ErrNotFound, "Attach of a deleted user")
		f.is(f.s.Detach(f.ctx, "ana", t0), epchat.ErrNotFound, "Detach of a deleted user")
		_, err = f.s.DeleteUser(f.ctx, "ana", t0)
		f.is(err, epchat.ErrNotFound, "DeleteUser again")
		_, err = f.s.DeleteUser(f.ctx, "ghost", t0)
		f.is(err, epchat.ErrNotFound, "DeleteUser of an unknown user")
		ds, err := f.s.ForgetUsers(f.ctx, at(time.Hour), at(time.Hour))
		f.ok(err, "ForgetUsers")
		f.departures("ForgetUsers after DeleteUser", ds, "ben", "cat")
		f.user("ana") // the id and the token are free again
	}},
}

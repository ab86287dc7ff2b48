package storetest

import (
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
		f.ok(f.s.CreateUser(f.ctx, u), "CreateUser")
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
		f.ok(f.s.CreateUser(f.ctx, u), "CreateUser")
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
		f.is(f.s.CreateUser(f.ctx, clash), epchat.ErrExists, "CreateUser with a taken id")
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
		f.is(f.s.CreateUser(f.ctx, clash), epchat.ErrExists, "CreateUser with a taken token")
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
}

package epchat_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/epchat-go/epchat"
	"github.com/epchat-go/epchat/internal/wstest"
)

// Sessions: the user caps and the seatless rule.

// helloCode sends a hello with a new nickname and returns the error code
// of the answer, "" for a welcome.
func helloCode(t *testing.T, c *wstest.Client, nick string) string {
	t.Helper()
	e := c.Call(map[string]any{"type": "hello", "nickname": nick})
	if e.Type() == "welcome" {
		c.ID = e["you"].(map[string]any)["id"].(string)
		c.Token = e.Str("token")
		return ""
	}
	return e.Str("code")
}

// dialOK dials from addr, failing the test if that fails.
func dialOK(t *testing.T, hh *hardHub, addr string) *wstest.Client {
	t.Helper()
	c, err := dialFrom(t, hh.url, addr)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestUsersPerAddrCap: one address makes at most its cap of users, while
// other addresses and returning users are not affected; a user forgotten
// or ended frees its place.
func TestUsersPerAddrCap(t *testing.T) {
	hh := newHardHub(t, byTestAddr, epchat.WithMaxUsersPerAddr(3))
	var made []*wstest.Client
	for i := range 3 {
		made = append(made, mustDialFrom(t, hh, "10.1.1.1", fmt.Sprint("nick-cap-", i)))
	}
	extra, err := dialFrom(t, hh.url, "10.1.1.1")
	if err != nil {
		t.Fatal(err)
	}
	if code := helloCode(t, extra, "nick-cap-extra"); code != "too_many_users" {
		t.Fatalf("fourth user from one address: %q, want too_many_users", code)
	}
	// Another address is not affected.
	mustDialFrom(t, hh, "10.1.1.2", "nick-cap-other")
	// Nor is a returning user from the capped address.
	back, err := dialFrom(t, hh.url, "10.1.1.1")
	if err != nil {
		t.Fatal(err)
	}
	back.MustCall("welcome", map[string]any{"type": "hello", "token": made[0].Token})

	// Full again; a user forgotten by the seatless rule frees its place.
	if code := helloCode(t, dialOK(t, hh, "10.1.1.1"), "nick-cap-fresh"); code != "too_many_users" {
		t.Fatalf("hello at the cap again: %q, want too_many_users", code)
	}
	made[2].Conn.Close()
	hh.waitDetached(t, made[2].Token)
	hh.clock.Advance(epchat.DefaultSeatlessTimeout + time.Minute)
	fresh := dialOK(t, hh, "10.1.1.1")
	if code := helloCode(t, fresh, "nick-cap-fresh"); code != "" {
		t.Fatalf("hello after a user was forgotten: %q, want a welcome", code)
	}
	hh.secret(fresh.Token)
	if st := hh.Stats(); st.Errors["too_many_users"] != 2 {
		t.Fatalf("Stats.Errors[too_many_users] = %d, want 2", st.Errors["too_many_users"])
	}
}

// TestMaxUsersTotal: the Store holds at most WithMaxUsers users, from
// every address together.
func TestMaxUsersTotal(t *testing.T) {
	hh := newHardHub(t, byTestAddr, epchat.WithMaxUsers(2))
	mustDialFrom(t, hh, "10.2.0.1", "nick-total-1")
	mustDialFrom(t, hh, "10.2.0.2", "nick-total-2")
	c, err := dialFrom(t, hh.url, "10.2.0.3")
	if err != nil {
		t.Fatal(err)
	}
	if code := helloCode(t, c, "nick-total-3"); code != "too_many_users" {
		t.Fatalf("third user of 2: %q, want too_many_users", code)
	}
	// The refusal took no place of the address: once a user goes, this
	// one gets in.
	if st := hh.Stats(); st.Users != 2 {
		t.Fatalf("Stats.Users = %d, want 2", st.Users)
	}
}

// TestUserCapOptions: New refuses caps that are no bound.
func TestUserCapOptions(t *testing.T) {
	for _, opt := range []epchat.Option{
		epchat.WithMaxUsers(0),
		epchat.WithMaxUsers(-1),
		epchat.WithMaxUsersPerAddr(0),
		epchat.WithSeatlessUserTimeout(0),
	} {
		if h, err := epchat.New(opt); err == nil {
			h.Shutdown(context.Background())
			t.Errorf("New accepted a cap that is no bound")
		}
	}
}

// TestSeatlessUserForgotten: a user in no room with no connection is
// forgotten after the seatless timeout; a member of a room (within a
// long reconnect grace) is not.
func TestSeatlessUserForgotten(t *testing.T) {
	th := newTestHub(t, quiet, epchat.WithReconnectGrace(time.Hour), epchat.WithRoomIdleTimeout(time.Hour))
	ana, ben, cat := th.client(t, "Ana"), th.client(t, "Ben"), th.client(t, "Cat")
	room := th.room(t, ben, cat)
	for _, c := range []*wstest.Client{ana, ben} {
		c.Conn.Close()
		th.waitDetached(t, c.Token)
	}
	th.clock.Advance(epchat.DefaultSeatlessTimeout - time.Minute)
	again := wstest.Dial(t, th.url)
	again.MustCall("welcome", map[string]any{"type": "hello", "token": ana.Token})
	again.Conn.Close()
	th.waitDetached(t, ana.Token)

	th.clock.Advance(epchat.DefaultSeatlessTimeout + time.Minute)
	late := wstest.Dial(t, th.url)
	if e := late.Call(map[string]any{"type": "hello", "token": ana.Token}); e.Str("code") != "session_invalid" {
		t.Fatalf("seatless user after the timeout: %v, want session_invalid", e)
	}
	// Ben holds a seat: remembered, and still seated.
	w := late.MustCall("welcome", map[string]any{"type": "hello", "token": ben.Token})
	if rooms, _ := w["rooms"].([]any); len(rooms) != 1 || rooms[0].(map[string]any)["room"] != room {
		t.Fatalf("seated user after the seatless timeout: %v", w)
	}
	if st := th.Stats(); st.UsersForgotten != 1 {
		t.Fatalf("Stats.UsersForgotten = %d, want 1", st.UsersForgotten)
	}
}

// TestUsersPerAddrForgottenElsewhere: two Hubs share a Store; users one
// made are forgotten by the other's sweep, which the first never hears of.
// The first stops counting them once they have been gone for the
// reconnect grace plus the seatless timeout plus two minutes.
func TestUsersPerAddrForgottenElsewhere(t *testing.T) {
	shared := epchat.NewMemoryStore()
	a := newHardHub(t, byTestAddr, epchat.WithStore(shared), epchat.WithMaxUsersPerAddr(2))
	b := newTestHub(t, quiet, epchat.WithStore(shared))
	t.Cleanup(func() { a.Shutdown(context.Background()) }) // before b's cleanup looks for Hub goroutines
	a.store, b.store = shared, shared
	var toks []string
	for i := range 2 {
		c := mustDialFrom(t, a, "10.3.0.1", fmt.Sprint("nick-shared-", i))
		toks = append(toks, c.Token)
		c.Conn.Close()
		a.waitDetached(t, c.Token)
	}
	b.clock.Advance(epchat.DefaultSeatlessTimeout + time.Minute)
	for _, tok := range toks {
		if _, err := shared.UserByToken(context.Background(), sha256.Sum256([]byte(tok))); !errors.Is(err, epchat.ErrNotFound) {
			t.Fatalf("b's sweep did not forget a user: %v", err)
		}
	}
	c := dialOK(t, a, "10.3.0.1")
	if code := helloCode(t, c, "nick-shared-x"); code != "too_many_users" {
		t.Fatalf("a still counts them: %q, want too_many_users", code)
	}
	// a's own sweep finds nothing to forget: b did it. Its count lets go
	// of them after their longest life.
	a.clock.Advance(epchat.DefaultReconnectGrace + epchat.DefaultSeatlessTimeout + 3*time.Minute)
	c = dialOK(t, a, "10.3.0.1") // the first one was closed unidentified
	if code := helloCode(t, c, "nick-shared-x"); code != "" {
		t.Fatalf("after the users' life: %q, want a welcome", code)
	}
	a.secret(c.Token)
}

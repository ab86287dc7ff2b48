package epchat_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/epchat-go/epchat"
	"github.com/epchat-go/epchat/epchattest"
)

// Sessions: the user caps, the seatless rule, end_session and
// session_connected, and a restart behind one address.

// helloCode sends a hello with a new nickname and returns the error code
// of the answer, "" for a welcome.
func helloCode(t *testing.T, c *epchattest.Client, nick string) string {
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
func dialOK(t *testing.T, hh *testHub, addr string) *epchattest.Client {
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
	hh := newTestHub(t, byTestAddr, epchat.WithMaxUsersPerAddr(3))
	var made []*epchattest.Client
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
	made[0].Expect("session_connected", "")

	// An ended session frees its place at once.
	made[1].MustCall("ok", map[string]any{"type": "end_session"})
	if code := helloCode(t, extra, "nick-cap-extra"); code != "" {
		t.Fatalf("hello after an end_session: %q, want a welcome", code)
	}
	hh.secret(extra.Token)
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
	hh := newTestHub(t, byTestAddr, epchat.WithMaxUsers(2))
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
		epchat.WithMaxSessionConnections(0),
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
	for _, c := range []*epchattest.Client{ana, ben} {
		c.Conn.Close()
		th.waitDetached(t, c.Token)
	}
	th.clock.Advance(epchat.DefaultSeatlessTimeout - time.Minute)
	again := epchattest.Dial(t, th.url)
	again.MustCall("welcome", map[string]any{"type": "hello", "token": ana.Token})
	again.Conn.Close()
	th.waitDetached(t, ana.Token)

	th.clock.Advance(epchat.DefaultSeatlessTimeout + time.Minute)
	late := epchattest.Dial(t, th.url)
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
	a := newTestHub(t, byTestAddr, epchat.WithStore(shared), epchat.WithMaxUsersPerAddr(2))
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

// TestUsersPerAddrResumedStillCount: users an address made and keeps alive
// with short resumes (hello with the token, then gone, never connected when
// a sweep looks) count against it as long as the Store remembers them, far
// past their life counted from when they were made, and so do users whose
// last connection ended between two sweeps.
func TestUsersPerAddrResumedStillCount(t *testing.T) {
	hh := newTestHub(t, byTestAddr, epchat.WithMaxUsersPerAddr(2))
	var toks []string
	for i := range 2 {
		c := mustDialFrom(t, hh, "10.4.0.1", fmt.Sprint("nick-resumed-", i))
		toks = append(toks, c.Token)
		c.Conn.Close()
		hh.waitDetached(t, c.Token)
	}
	resume := func(tok string) *epchattest.Client {
		c := dialOK(t, hh, "10.4.0.9") // from anywhere
		c.MustCall("welcome", map[string]any{"type": "hello", "token": tok})
		return c
	}
	// Three times the seatless timeout, each user resumed just within it.
	for range 3 {
		hh.clock.Advance(epchat.DefaultSeatlessTimeout - time.Minute)
		for _, tok := range toks {
			c := resume(tok)
			c.Conn.Close()
			hh.waitDetached(t, tok)
		}
	}
	if code := helloCode(t, dialOK(t, hh, "10.4.0.1"), "nick-resumed-x"); code != "too_many_users" {
		t.Fatalf("a third user from an address whose two users the Store still remembers: %q, want too_many_users", code)
	}
	// One user's connection lasts through a sweep that does not look at it
	// (its user was seen recently enough), then ends between two sweeps:
	// it counts from then, and the other, gone since, is forgotten.
	long := resume(toks[0])
	hh.clock.Advance(epchat.DefaultSeatlessTimeout - time.Minute)
	long.Conn.Close()
	hh.waitDetached(t, toks[0])
	hh.clock.Advance(epchat.DefaultSeatlessTimeout - time.Minute)
	c := dialOK(t, hh, "10.4.0.1")
	if code := helloCode(t, c, "nick-resumed-y"); code != "" {
		t.Fatalf("hello once the other user was forgotten: %q, want a welcome", code)
	}
	hh.secret(c.Token)
	if code := helloCode(t, dialOK(t, hh, "10.4.0.1"), "nick-resumed-z"); code != "too_many_users" {
		t.Fatalf("a user whose connection ended %v ago still lives: %q, want too_many_users", epchat.DefaultSeatlessTimeout-time.Minute, code)
	}
}

// TestSessionConnectionsBounded: one session's token opens at most
// WithMaxSessionConnections connections at once, even when the hellos
// come all together; one beyond gets too_many_connections and stays open,
// unidentified, while the others notice nothing (no session_connected
// about it, the rooms' events as before). A connection that closes makes
// room for another; other sessions are not affected.
func TestSessionConnectionsBounded(t *testing.T) {
	const max = 3
	hh := newTestHub(t, epchat.WithMaxSessionConnections(max))
	ana, ben := hh.client(t, "nick-ana-conns"), hh.client(t, "nick-ben-conns")
	room := hh.room(t, ana, ben)
	// Eight hellos with Ana's token at once: two find room beside her.
	tabs := make([]*epchattest.Client, 8)
	ids := make([]string, len(tabs))
	for i := range tabs {
		tabs[i] = epchattest.Dial(t, hh.url)
	}
	for i, c := range tabs {
		ids[i] = c.Send(map[string]any{"type": "hello", "token": ana.Token})
	}
	var in, out []*epchattest.Client
	for i, c := range tabs {
		switch e := c.Reply(ids[i]); {
		case e.Type() == "welcome":
			in = append(in, c)
		case e.Str("code") == "too_many_connections":
			out = append(out, c)
		default:
			t.Fatalf("hello with the token: %v; want welcome or too_many_connections", e)
		}
	}
	if len(in) != max-1 {
		t.Fatalf("%d of %d hellos with one token welcomed beside its first connection; want %d", len(in), len(tabs), max-1)
	}
	// Ana heard of her two other tabs, and of nothing more.
	for range max - 1 {
		ana.Expect("session_connected", "")
	}
	// A refused connection is unidentified: it gets no room event, and
	// its requests get not_identified.
	ben.MustCall("sent", map[string]any{"type": "send", "room": room, "text": "hello all"})
	for _, c := range append([]*epchattest.Client{ana}, in...) {
		if e := c.Expect("message", room); e.Str("text") != "hello all" {
			t.Fatalf("Ana's connection: %v", e)
		}
	}
	for _, c := range out {
		if e := c.Call(map[string]any{"type": "members", "room": room}); e.Str("code") != "not_identified" {
			t.Fatalf("a refused connection's request: %v; want not_identified", e)
		}
		c.None()
	}
	ana.None()
	// Other sessions are not affected.
	if e := epchattest.Dial(t, hh.url).Call(map[string]any{"type": "hello", "token": ben.Token}); e.Type() != "welcome" {
		t.Fatalf("Ben's second connection: %v", e)
	}
	// One of Ana's closes: a refused one tries again and gets in.
	in[0].Conn.Close()
	hh.waitConns(t, ana.Token, max-1)
	if e := out[0].Call(map[string]any{"type": "hello", "token": ana.Token}); e.Type() != "welcome" {
		t.Fatalf("hello once a connection of the session closed: %v; want welcome", e)
	}
	if e := ana.Expect("session_connected", ""); e.Num("connections") != max {
		t.Fatalf("session_connected: %v; want connections %d", e, max)
	}
	if st := hh.Stats(); st.Errors["too_many_connections"] != uint64(len(out)) {
		t.Fatalf("Stats.Errors[too_many_connections] = %d, want %d", st.Errors["too_many_connections"], len(out))
	}
}

// TestEndSession: end_session answers ok, the user leaves every room (the
// others see member_left, reason left), the token stops working, and every
// connection of the session gets session_ended and close 4003.
func TestEndSession(t *testing.T) {
	hh := newTestHub(t)
	ana, ben := hh.client(t, "nick-ana-end"), hh.client(t, "nick-ben-end")
	r1 := hh.room(t, ana, ben)
	r2 := ana.MustCall("joined", map[string]any{"type": "create"}).Str("room")
	tab := epchattest.Dial(t, hh.url)
	tab.MustCall("welcome", map[string]any{"type": "hello", "token": ana.Token})
	if e := ana.Expect("session_connected", ""); e.Num("connections") != 2 {
		t.Fatalf("session_connected: %v, want connections 2", e)
	}

	ana.MustCall("ok", map[string]any{"type": "end_session"})
	for _, c := range []*epchattest.Client{ana, tab} {
		c.MustNext("session_ended")
		if code := c.CloseCode(); code != 4003 {
			t.Fatalf("close code %d, want 4003", code)
		}
		c.None() // not even their own member_left
	}
	e := ben.Expect("member_left", r1)
	if e.Str("member") != ana.ID || e.Str("reason") != "left" {
		t.Fatalf("member_left: %v", e)
	}
	if e := ben.Expect("owner_changed", r1); e.Str("owner") != ben.ID {
		t.Fatalf("owner_changed: %v", e)
	}
	ben.MustCall("members", map[string]any{"type": "members", "room": r1})
	if e := ben.Call(map[string]any{"type": "members", "room": r2}); e.Str("code") != "not_found" {
		t.Fatalf("r2, whose only member ended the session: %v", e)
	}
	late := epchattest.Dial(t, hh.url)
	if e := late.Call(map[string]any{"type": "hello", "token": ana.Token}); e.Str("code") != "session_invalid" {
		t.Fatalf("hello with an ended session's token: %v", e)
	}
	// The departures are counted as they are announced, after the reply:
	// r2's, which nobody hears, may come after everything above.
	waitUntil(t, "Stats: UsersEnded 1, Users 1, MembersLeft.Left 2", func() bool {
		st := hh.Stats()
		return st.UsersEnded == 1 && st.Users == 1 && st.MembersLeft.Left == 2
	})
}

// TestEndSessionRace: several connections of one session end it at once;
// each gets its reply or the end, and the user is ended once.
func TestEndSessionRace(t *testing.T) {
	th := newTestHub(t, quiet)
	ana := th.client(t, "Ana")
	tabs := []*epchattest.Client{ana}
	for range 4 {
		c := epchattest.Dial(t, th.url)
		c.MustCall("welcome", map[string]any{"type": "hello", "token": ana.Token})
		tabs = append(tabs, c)
	}
	for _, c := range tabs {
		// Not Send: a tab another tab's end_session closed already
		// refuses the write, which is what the race is about.
		c.WriteFrame(ws.OpText, []byte(`{"type":"end_session","id":"end"}`))
	}
	for _, c := range tabs {
		if code := c.CloseCode(); code != 4003 {
			t.Fatalf("close code %d, want 4003", code)
		}
	}
	if st := th.Stats(); st.UsersEnded != 1 {
		t.Fatalf("Stats.UsersEnded = %d, want 1", st.UsersEnded)
	}
}

// TestSessionConnected: every open connection of a session is told when
// another presents its token, with the count of connections.
func TestSessionConnected(t *testing.T) {
	th := newTestHub(t)
	ana := th.client(t, "Ana")
	second := epchattest.Dial(t, th.url)
	second.MustCall("welcome", map[string]any{"type": "hello", "token": ana.Token})
	if e := ana.MustNext("session_connected"); e.Num("connections") != 2 {
		t.Fatalf("first tab: %v", e)
	}
	third := epchattest.Dial(t, th.url)
	third.MustCall("welcome", map[string]any{"type": "hello", "token": ana.Token})
	for _, c := range []*epchattest.Client{ana, second} {
		if e := c.MustNext("session_connected"); e.Num("connections") != 3 {
			t.Fatalf("after the third: %v", e)
		}
	}
	third.None()
	// A new identity tells nobody.
	th.client(t, "Ben")
	ana.MustCall("joined", map[string]any{"type": "create"})
	ana.None()
}

// TestEndSessionAcrossHubs: two Hubs share a Store and a Broker; ending
// the session on one closes its connections on the other too, before
// they see anything more of the rooms.
func TestEndSessionAcrossHubs(t *testing.T) {
	store := epchat.NewMemoryStore()
	broker := &memBroker{}
	clk := newClock()
	urls := make([]string, 2)
	for i := range urls {
		hub, err := epchat.New(epchat.WithStore(store), epchat.WithBroker(broker), epchat.WithClock(clk), quiet)
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		mux.Handle("/chat/", http.StripPrefix("/chat", hub))
		srv := httptest.NewServer(mux)
		urls[i] = "ws" + strings.TrimPrefix(srv.URL, "http") + "/chat/"
		t.Cleanup(func() {
			hub.Shutdown(context.Background())
			srv.Close()
		})
	}
	ana, ben := epchattest.Dial(t, urls[0]), epchattest.Dial(t, urls[1])
	ana.Hello("Ana")
	ben.Hello("Ben")
	room := ana.MustCall("joined", map[string]any{"type": "create"}).Str("room")
	tok := ana.MustCall("invite", map[string]any{"type": "invite", "room": room}).Str("token")
	ben.MustCall("joined", map[string]any{"type": "join", "token": tok})
	ana.Expect("member_joined", room)
	tab := epchattest.Dial(t, urls[1]) // Ana's second tab, on the other Hub
	if rooms, _ := tab.MustCall("welcome", map[string]any{"type": "hello", "token": ana.Token})["rooms"].([]any); len(rooms) != 1 {
		t.Fatal("the tab is not in the room")
	}
	// The first tab, on the other Hub, is told.
	if e := ana.MustNext("session_connected"); e.Num("connections") != 2 {
		t.Fatalf("session_connected across hubs: %v", e)
	}

	ana.MustCall("ok", map[string]any{"type": "end_session"})
	for _, c := range []*epchattest.Client{ana, tab} {
		c.MustNext("session_ended")
		if code := c.CloseCode(); code != 4003 {
			t.Fatalf("close code %d, want 4003", code)
		}
		c.None()
	}
	if e := ben.Expect("member_left", room); e.Str("member") != ana.ID || e.Str("reason") != "left" {
		t.Fatalf("member_left: %v", e)
	}
}

// attachPausingStore pauses the next Attach of a user whose id is in
// pause, once the Store counted the connection and before the Hub goes on.
type attachPausingStore struct {
	*epchat.MemoryStore
	mu       sync.Mutex
	pause    string
	attached chan struct{}
	release  chan struct{}
}

func (s *attachPausingStore) Attach(ctx context.Context, user string, now time.Time) error {
	err := s.MemoryStore.Attach(ctx, user, now)
	s.mu.Lock()
	hold := err == nil && user == s.pause
	if hold {
		s.pause = ""
	}
	s.mu.Unlock()
	if hold {
		s.attached <- struct{}{}
		<-s.release
	}
	return err
}

// helloPausedAtAttach starts a Hub whose Store pauses the next Attach of
// Ben's (attachPausingStore), identifies Ben, and dials a second
// connection, tab, for his hello with the token.
func helloPausedAtAttach(t *testing.T) (*testHub, *attachPausingStore, *epchattest.Client, *epchattest.Client) {
	t.Helper()
	ps := &attachPausingStore{MemoryStore: epchat.NewMemoryStore(), attached: make(chan struct{}), release: make(chan struct{})}
	th := newTestHub(t, epchat.WithStore(ps))
	ben := th.client(t, "Ben")
	ps.mu.Lock()
	ps.pause = ben.ID
	ps.mu.Unlock()
	return th, ps, ben, epchattest.Dial(t, th.url)
}

// TestEndSessionDuringResume: Ben ends his session while his second tab's
// hello is between the Store's Attach and the Hub adding the tab to his
// connections, so that the end's round of his connections misses it. The
// tab gets session_ended and closes with 4003, as his other connections
// do, instead of a welcome into a session that no longer exists.
func TestEndSessionDuringResume(t *testing.T) {
	_, ps, ben, tab := helloPausedAtAttach(t)
	tab.Send(map[string]any{"type": "hello", "token": ben.Token})
	<-ps.attached
	ben.MustCall("ok", map[string]any{"type": "end_session"})
	ben.Expect("session_ended", "")
	close(ps.release)
	if e := tab.Next(); e.Type() != "session_ended" {
		t.Fatalf("the tab whose hello raced the session's end got %v; want session_ended", e)
	}
	tab.WaitReaderDone()
	if code := tab.CloseCode(); code != 4003 {
		t.Fatalf("the tab closed with %d; want 4003", code)
	}
}

// TestIdentifyTimeoutWaitsForHello: a hello waiting on the Store (Attach
// paused, as on a stalled Redis) when the identify timeout passes is
// answered, and the connection stays: the timeout is for clients that
// send no hello. Before, the client got close 4000 while its hello was
// under way (after its error reply, with a real stalled Redis).
func TestIdentifyTimeoutWaitsForHello(t *testing.T) {
	th, ps, ben, tab := helloPausedAtAttach(t)
	id := tab.Send(map[string]any{"type": "hello", "token": ben.Token})
	<-ps.attached
	th.clock.Advance(epchat.DefaultIdentifyTimeout) // a sweep runs meanwhile
	close(ps.release)
	if e := tab.Reply(id); e.Type() != "welcome" {
		t.Fatalf("hello under way at the identify timeout: %v; want welcome", e)
	}
	if e := tab.Call(map[string]any{"type": "create"}); e.Type() != "joined" {
		t.Fatalf("create after the welcome: %v", e)
	}
}

package epchat_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/epchat-go/epchat"
	"github.com/epchat-go/epchat/epchattest"
)

// testAddrHeader lets a test client claim a client address, through
// WithClientAddr: every test client dials from 127.0.0.1.
const testAddrHeader = "X-Test-Addr"

var byTestAddr = epchat.WithClientAddr(func(r *http.Request) string {
	if a := r.Header.Get(testAddrHeader); a != "" {
		return a
	}
	return "127.0.0.1"
})

// dialFrom opens a WebSocket with the given test client address.
func dialFrom(t testing.TB, url, addr string) (*epchattest.Client, error) {
	t.Helper()
	d := ws.Dialer{Header: ws.HandshakeHeaderHTTP(http.Header{testAddrHeader: {addr}})}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	nc, br, _, err := d.Dial(ctx, url)
	if err != nil {
		return nil, err
	}
	if br != nil {
		t.Fatal("server sent frames before the client spoke")
	}
	return epchattest.New(t, nc, nc), nil
}

func mustDialFrom(t testing.TB, hh *testHub, addr, nick string) *epchattest.Client {
	t.Helper()
	c, err := dialFrom(t, hh.url, addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", addr, err)
	}
	hh.secret(nick)
	c.Hello(nick)
	hh.secret(c.Token)
	return c
}

// TestMalformedRequests sends requests the server cannot act on. Each gets
// an error event naming it (when its id can be read); the connection stays
// open, and the room goes on.
func TestMalformedRequests(t *testing.T) {
	hh := newTestHub(t, epchat.WithMaxMessageSize(1000), epchat.WithRequestRate(1000, 1000))
	ana, ben := hh.client(t, "nick-ana-malformed"), hh.client(t, "nick-ben-malformed")
	room := hh.room(t, ana, ben)
	huge := strings.Repeat("h", 1900) // within the read limit (3024 bytes)
	tests := []struct {
		name string
		raw  string
		code string
		id   string
	}{
		{
			name: "not JSON",
			raw:  `{"type":"send",`,
			code: "bad_request",
		},
		{
			name: "JSON string",
			raw:  `"send"`,
			code: "bad_request",
		},
		{
			name: "null",
			raw:  `null`,
			code: "bad_request",
		},
		{
			name: "trailing garbage",
			raw:  `{"type":"send","id":"g1","room":"` + room + `","text":"LEAK"} x`,
			code: "bad_request",
			id:   "g1",
		},
		{
			name: "two objects",
			raw:  `{"type":"send","id":"g2","room":"` + room + `","text":"LEAK"}{"type":"members"}`,
			code: "bad_request",
			id:   "g2",
		},
		{
			name: "unknown type",
			raw:  `{"type":"shout","id":"u1","room":"` + room + `","text":"LEAK"}`,
			code: "unknown_type",
			id:   "u1",
		},
		{
			name: "type of the wrong case",
			raw:  `{"type":"SEND","id":"u2","room":"` + room + `","text":"LEAK"}`,
			code: "unknown_type",
			id:   "u2",
		},
		{
			name: "text of the wrong type",
			raw:  `{"type":"send","id":"w1","room":"` + room + `","text":{"x":"LEAK"}}`,
			code: "bad_request",
			id:   "w1",
		},
		{
			name: "type of the wrong type",
			raw:  `{"id":"w2","type":7}`,
			code: "bad_request",
			id:   "w2",
		},
		{
			name: "id of the wrong type",
			raw:  `{"type":"send","id":12,"room":"` + room + `","text":"LEAK"}`,
			code: "bad_request",
		},
		{
			name: "nesting the decoder allows",
			raw:  `{"type":"send","id":"d1","room":"nope","text":"x","x":` + strings.Repeat("[", 30) + strings.Repeat("]", 30) + `}`,
			code: "not_found",
			id:   "d1",
		},
		{
			name: "deep nesting",
			raw:  `{"type":"send","id":"d2","x":` + strings.Repeat("[", 1400) + strings.Repeat("]", 1400) + `}`,
			code: "bad_request",
			id:   "d2",
		},
		{
			name: "deep unterminated nesting",
			raw:  `{"type":"send","x":` + strings.Repeat(`{"a":`, 10001)[:2900],
			code: "bad_request",
		},
		{
			name: "huge text",
			raw:  `{"type":"send","id":"s1","room":"` + room + `","text":"` + huge + `"}`,
			code: "too_large",
			id:   "s1",
		},
		{
			name: "huge id",
			raw:  `{"type":"send","id":"` + huge + `","room":"` + room + `","text":"LEAK"}`,
			code: "bad_request",
		},
		{
			name: "huge type",
			raw:  `{"type":"` + huge + `","id":"s2"}`,
			code: "unknown_type",
			id:   "s2",
		},
		{
			name: "huge room",
			raw:  `{"type":"send","id":"s3","room":"` + huge + `","text":"LEAK"}`,
			code: "not_found",
			id:   "s3",
		},
		{
			name: "huge token",
			raw:  `{"type":"join","id":"s4","token":"` + huge + `"}`,
			code: "bad_request", // a token is at most 64 characters
			id:   "s4",
		},
		{
			name: "escaped invalid surrogate",
			raw:  `{"type":"send","id":"e1","room":"` + room + `","text":"\ud800"}`,
			code: "",
			id:   "e1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hh.secret("LEAK", huge)
			ana.SendRaw(tt.raw)
			if tt.code == "" {
				// Valid JSON: relayed, the lone surrogate as U+FFFD.
				ana.Take("sent", func(e epchattest.Event) bool { return e.Str("id") == tt.id && e.Type() == "sent" })
				expectText(t, ben, room, "\ufffd")
			} else {
				e := ana.Take("error", func(e epchattest.Event) bool { return e.Type() == "error" })
				if e.Str("code") != tt.code || e.Str("id") != tt.id {
					t.Fatalf("got %v, want code %s id %q", e, tt.code, tt.id)
				}
			}
			marker := "marker after " + tt.name
			hh.say(t, ana, room, marker)
			expectText(t, ben, room, marker)
			ben.None()
			ana.None()
		})
	}
}

// TestViolationLimit closes a connection that keeps sending requests the
// server cannot act on, with 1008, after the error of the last one; it
// counts them in windows of the Hub's clock.
func TestViolationLimit(t *testing.T) {
	hh := newTestHub(t, quiet, epchat.WithViolationLimit(5, time.Minute))
	ana, ben := hh.client(t, "nick-ana-viol"), hh.client(t, "nick-ben-viol")
	room := hh.room(t, ana, ben)
	bad := []string{
		`not json`,
		`{"type":"dance","id":"v"}`,
		`{"type":"hello","id":"v","nickname":"again"}`,
		`{"type":"send","id":"v","text":7}`,
	}
	for _, raw := range bad { // 4 of 5
		ben.SendRaw(raw)
		ben.Take("error", func(e epchattest.Event) bool { return e.Type() == "error" })
	}
	// The window ends: the count starts again.
	hh.clock.Advance(time.Minute)
	for _, raw := range bad { // 4 of 5 again
		ben.SendRaw(raw)
		ben.Take("error", func(e epchattest.Event) bool { return e.Type() == "error" })
	}
	hh.say(t, ben, room, "ben is still here")
	expectText(t, ana, room, "ben is still here")

	ben.SendRaw(`{"type":"send","id":"last","room":7}`) // the 5th in this window
	if e := ben.Take("error", func(e epchattest.Event) bool { return e.Type() == "error" }); e.Str("id") != "last" {
		t.Fatalf("last error: %v", e)
	}
	if code := ben.CloseCode(); code != 1008 {
		t.Fatalf("close code %d, want 1008", code)
	}
	hh.say(t, ana, room, "after ben")
	ana.None()
	if hh.logs.count("too many violations") != 1 {
		t.Error("the close was not logged once")
	}
	waitUntil(t, "the close counted", func() bool { return hh.Stats().ConnectionsClosed.Policy == 1 })
}

// TestNotIdentifiedCountsAsViolation: a connection that never says hello
// but keeps sending requests is closed before the identify timeout.
func TestNotIdentifiedCountsAsViolation(t *testing.T) {
	hh := newTestHub(t)
	c := epchattest.Dial(t, hh.url)
	for i := range epchat.DefaultViolationLimit {
		e := c.Call(map[string]any{"type": "create"})
		if e.Str("code") != "not_identified" {
			t.Fatalf("request %d: %v", i, e)
		}
	}
	if code := c.CloseCode(); code != 1008 {
		t.Fatalf("close code %d, want 1008", code)
	}
}

// TestRequestRate bounds the requests of one connection with a token
// bucket on the Hub's clock: the excess is refused with rate_limited and
// not relayed; persistent excess closes the connection with 1008.
func TestRequestRate(t *testing.T) {
	hh := newTestHub(t, quiet, epchat.WithRequestRate(2, 5), epchat.WithViolationLimit(3, time.Minute))
	ana, ben := hh.client(t, "nick-ana-rate"), hh.client(t, "nick-ben-rate") // hello: 1 each
	room := hh.room(t, ana, ben)                                             // ana: create, invite; ben: join
	hh.clock.Advance(2 * time.Second)                                        // both buckets full again (5)

	for i := range 5 {
		hh.say(t, ana, room, fmt.Sprint("burst ", i))
	}
	e := ana.Call(map[string]any{"type": "send", "room": room, "text": "LEAK over the burst"})
	if e.Str("code") != "rate_limited" || e.Str("room") != room {
		t.Fatalf("6th request: %v", e)
	}
	hh.secret("LEAK")
	// Half a second later, one token is back.
	hh.clock.Advance(500 * time.Millisecond)
	hh.say(t, ana, room, "refilled")
	for i := range 5 {
		expectText(t, ben, room, fmt.Sprint("burst ", i))
	}
	expectText(t, ben, room, "refilled")
	ben.None()

	// Ben is not limited by Ana's excess.
	hh.say(t, ben, room, "ben's turn")
	expectText(t, ana, room, "ben's turn")

	// Two more refusals (3 violations in the window): closed with 1008.
	for range 2 {
		ana.Send(map[string]any{"type": "send", "room": room, "text": "LEAK"})
	}
	if code := ana.CloseCode(); code != 1008 {
		t.Fatalf("close code %d, want 1008", code)
	}
	var limited int
	events := ana.Events()
	for _, e := range events {
		if e.Str("code") == "rate_limited" {
			limited++
		}
	}
	if limited != 2 {
		t.Errorf("%d rate_limited errors before the close, want 2: %v", limited, events)
	}
	ben.MustCall("members", map[string]any{"type": "members", "room": room})
	ben.None()
}

// TestTokenGuessing throttles failed invite guesses, per connection and
// per client address, without touching other addresses, and without
// refusing a valid resume from the guessing address.
func TestTokenGuessing(t *testing.T) {
	hh := newTestHub(t, quiet, byTestAddr)
	owner := mustDialFrom(t, hh, "10.0.0.1", "nick-owner-guess")
	room := owner.MustCall("joined", map[string]any{"type": "create"}).Str("room")
	valid := hh.invite(t, owner, room)

	guesser := mustDialFrom(t, hh, "10.6.6.6", "nick-guesser")
	for i := range epchat.DefaultTokenGuessLimit {
		tok := fmt.Sprintf("guess-%02d-%s", i, strings.Repeat("x", 34))
		hh.secret(tok)
		if e := guesser.Call(map[string]any{"type": "join", "token": tok}); e.Str("code") != "invite_invalid" {
			t.Fatalf("guess %d: %v", i, e)
		}
	}
	// Throttled: even the valid token is refused unchecked, and so not
	// spent.
	if e := guesser.Call(map[string]any{"type": "join", "token": valid}); e.Str("code") != "rate_limited" {
		t.Fatalf("join after %d failures: %v", epchat.DefaultTokenGuessLimit, e)
	}
	// A second connection from the same address is throttled too, for
	// joins.
	second := mustDialFrom(t, hh, "10.6.6.6", "nick-guesser-2")
	if e := second.Call(map[string]any{"type": "join", "token": valid}); e.Str("code") != "rate_limited" {
		t.Fatalf("join from the same address: %v", e)
	}
	// But a neighbour behind the same address resumes its session: the
	// invite guess limit never refuses a hello with a token.
	third, err := dialFrom(t, hh.url, "10.6.6.6")
	if err != nil {
		t.Fatal(err)
	}
	w := third.MustCall("welcome", map[string]any{"type": "hello", "token": owner.Token})
	if rooms, _ := w["rooms"].([]any); len(rooms) != 1 {
		t.Fatalf("resume from the guessing address: %v", w)
	}
	// Another address is not affected: the valid token works there.
	friend := mustDialFrom(t, hh, "10.0.0.2", "nick-friend")
	friend.MustCall("joined", map[string]any{"type": "join", "token": valid})
	owner.Expect("member_joined", room)
	hh.say(t, owner, room, "welcome friend")
	expectText(t, friend, room, "welcome friend")

	// The guesser goes on: each refusal is a violation; at the limit it
	// is closed with 1008.
	for range epchat.DefaultViolationLimit - 1 {
		guesser.Send(map[string]any{"type": "join", "token": "more-guessing"})
	}
	if code := guesser.CloseCode(); code != 1008 {
		t.Fatalf("guesser close code %d, want 1008", code)
	}
	// Once the window is over, the address may try again.
	hh.clock.Advance(epchat.DefaultTokenGuessWindow)
	again := hh.invite(t, owner, room)
	second.MustCall("joined", map[string]any{"type": "join", "token": again})
	owner.Expect("member_joined", room)
	friend.Expect("member_joined", room)
}

// TestUnknownSessionTokensAreNotGuesses: hellos with unknown session
// tokens, what every member holds after a restart on a Store that forgot
// them, all get session_invalid; they do not throttle the address's
// invites or its valid resumes, while invite guessing stays limited.
func TestUnknownSessionTokensAreNotGuesses(t *testing.T) {
	hh := newTestHub(t, byTestAddr, epchat.WithTokenGuessLimit(3, time.Minute))
	ana := mustDialFrom(t, hh, "10.0.0.9", "nick-ana-session")
	room := ana.MustCall("joined", map[string]any{"type": "create"}).Str("room")
	c, err := dialFrom(t, hh.url, "10.0.0.9")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		if e := c.Call(map[string]any{"type": "hello", "token": fmt.Sprint("wrong", i)}); e.Str("code") != "session_invalid" {
			t.Fatalf("unknown token %d: %v", i, e)
		}
	}
	c.MustCall("welcome", map[string]any{"type": "hello", "token": ana.Token})
	if e := ana.Next(); e.Type() != "session_connected" {
		t.Fatalf("first connection of the session got %v, want session_connected", e)
	}
	// Invite guessing from that address is still counted and limited.
	valid := hh.invite(t, ana, room)
	ben := mustDialFrom(t, hh, "10.0.0.9", "nick-ben-session")
	for i := range 3 {
		tok := fmt.Sprintf("guess-%02d-%s", i, strings.Repeat("y", 34))
		hh.secret(tok)
		if e := ben.Call(map[string]any{"type": "join", "token": tok}); e.Str("code") != "invite_invalid" {
			t.Fatalf("invite guess %d: %v", i, e)
		}
	}
	if e := ben.Call(map[string]any{"type": "join", "token": valid}); e.Str("code") != "rate_limited" {
		t.Fatalf("join after 3 bad invites: %v", e)
	}
}

// TestConnectionLimits refuses upgrades beyond the limits, in total and
// per client address, with 503 before anything is hijacked; a closed
// connection frees its slot.
func TestConnectionLimits(t *testing.T) {
	hh := newTestHub(t, byTestAddr, epchat.WithMaxConnections(4), epchat.WithMaxConnectionsPerAddr(2))
	var status ws.StatusError
	a1 := mustDialFrom(t, hh, "10.0.0.1", "nick-a1")
	mustDialFrom(t, hh, "10.0.0.1", "nick-a2")
	if _, err := dialFrom(t, hh.url, "10.0.0.1"); !errors.As(err, &status) || status != http.StatusServiceUnavailable {
		t.Fatalf("third connection from one address: %v", err)
	}
	mustDialFrom(t, hh, "10.0.0.2", "nick-b1")
	mustDialFrom(t, hh, "10.0.0.3", "nick-c1")
	if _, err := dialFrom(t, hh.url, "10.0.0.4"); !errors.As(err, &status) || status != http.StatusServiceUnavailable {
		t.Fatalf("fifth connection: %v", err)
	}
	if conns, slots := hh.LiveConns(); conns != 4 || slots != 4 {
		t.Fatalf("%d connections, %d slots, want 4 and 4", conns, slots)
	}
	a1.Conn.Close()
	waitUntil(t, "the slot freed", func() bool { _, slots := hh.LiveConns(); return slots == 3 })
	mustDialFrom(t, hh, "10.0.0.1", "nick-a3")
	if hh.logs.count("limit reached") != 2 {
		t.Errorf("refusals logged %d times, want 2", hh.logs.count("limit reached"))
	}
	if n := hh.Stats().ConnectionsRefused; n != 2 {
		t.Errorf("Stats: %d connections refused, want 2", n)
	}
}

// TestCrossSiteOriginTakesNothing: a cross-site upgrade is refused with
// 403 before the upgrade; it takes no connection slot and spends no
// invite.
func TestCrossSiteOriginTakesNothing(t *testing.T) {
	hh := newTestHub(t, epchat.WithMaxConnectionsPerAddr(3))
	ana := hh.client(t, "nick-ana-origin")
	room := ana.MustCall("joined", map[string]any{"type": "create"}).Str("room")
	tok := hh.invite(t, ana, room)
	for range 5 {
		d := ws.Dialer{Header: ws.HandshakeHeaderHTTP(http.Header{"Origin": {"https://evil.example"}})}
		_, _, _, err := d.Dial(context.Background(), hh.url)
		var status ws.StatusError
		if !errors.As(err, &status) || status != http.StatusForbidden {
			t.Fatalf("cross-site upgrade: %v", err)
		}
	}
	if conns, slots := hh.LiveConns(); conns != 1 || slots != 1 {
		t.Fatalf("%d connections, %d slots after refusals, want 1 and 1", conns, slots)
	}
	ben := hh.client(t, "nick-ben-origin")
	ben.MustCall("joined", map[string]any{"type": "join", "token": tok})
	hh.client(t, "nick-cid-origin") // the third slot of 127.0.0.1
}

// TestProxyWarning: a forwarding header without WithClientAddr is warned
// about once, without its content.
func TestProxyWarning(t *testing.T) {
	hh := newTestHub(t)
	for range 3 {
		d := ws.Dialer{Header: ws.HandshakeHeaderHTTP(http.Header{"X-Forwarded-For": {"203.0.113.77"}})}
		nc, _, _, err := d.Dial(context.Background(), hh.url)
		if err != nil {
			t.Fatal(err)
		}
		nc.Close()
	}
	if n := hh.logs.count("set WithClientAddr"); n != 1 {
		t.Fatalf("warned %d times, want once", n)
	}
	hh.secret("203.0.113.77")
}

// TestLimitOptionsValidated: New refuses limits that make no sense.
func TestLimitOptionsValidated(t *testing.T) {
	tests := []struct {
		name string
		opt  epchat.Option
	}{
		{
			name: "no connections",
			opt:  epchat.WithMaxConnections(0),
		},
		{
			name: "no connections per address",
			opt:  epchat.WithMaxConnectionsPerAddr(0),
		},
		{
			name: "zero request rate",
			opt:  epchat.WithRequestRate(0, 10),
		},
		{
			name: "zero burst",
			opt:  epchat.WithRequestRate(10, 0),
		},
		{
			name: "no violation allowed",
			opt:  epchat.WithViolationLimit(0, time.Minute),
		},
		{
			name: "zero violation window",
			opt:  epchat.WithViolationLimit(5, 0),
		},
		{
			name: "no guess allowed",
			opt:  epchat.WithTokenGuessLimit(0, time.Minute),
		},
		{
			name: "negative guess window",
			opt:  epchat.WithTokenGuessLimit(5, -time.Minute),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if h, err := epchat.New(tt.opt); err == nil {
				h.Shutdown(context.Background())
				t.Fatal("New accepted it")
			}
		})
	}
}

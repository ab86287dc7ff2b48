package epchat_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/epchat-go/epchat"
	"github.com/epchat-go/epchat/epchattest"
)

// checkInvite sends check_invite with tok on c and returns the reply.
func checkInvite(c *epchattest.Client, tok string) epchattest.Event {
	return c.Call(map[string]any{"type": "check_invite", "token": tok})
}

// TestCheckInvite: a page can ask, before it has an identity, whether a
// link would seat its holder, and is told the truth in each case a join
// would be refused, without the invite being spent.
func TestCheckInvite(t *testing.T) {
	th := newTestHub(t, epchat.WithMaxMembers(3), quiet)
	ana, ben := th.client(t, "Ana"), th.client(t, "Ben")
	room := ana.MustCall("joined", map[string]any{"type": "create"}).Str("room")

	// A stranger's page, before hello: only check_invite is accepted.
	visitor := epchattest.Dial(t, th.url)
	tok := th.invite(t, ana, room)
	for range 2 { // asking again spends nothing
		e := checkInvite(visitor, tok)
		if e.Type() != "invite_ok" || e["locked"] != false || e["full"] != false {
			t.Fatalf("check of a pending invite: %v", e)
		}
		if got, want := e.Num("expires")-e.Num("now"), epchat.DefaultInviteTTL.Milliseconds(); got != want {
			t.Fatalf("check: expires-now = %d ms, want %d", got, want)
		}
		if _, ok := e["room"]; ok {
			t.Fatalf("check tells the room id before the join: %v", e)
		}
	}
	if e := visitor.Call(map[string]any{"type": "join", "token": tok}); e.Str("code") != "not_identified" {
		t.Fatalf("join before hello: %v", e)
	}
	visitor.Hello("Vic")
	visitor.MustCall("joined", map[string]any{"type": "join", "token": tok})

	// Used: the same answer as a join would get.
	if e := checkInvite(ben, tok); e.Str("code") != "invite_invalid" {
		t.Fatalf("check of a used invite: %v", e)
	}
	if e := checkInvite(ben, "not-a-token"); e.Str("code") != "invite_invalid" {
		t.Fatalf("check of an unknown token: %v", e)
	}

	// Locked: pending, and the page can say why it cannot join yet.
	locked := th.invite(t, ana, room)
	ana.MustCall("ok", map[string]any{"type": "lock", "room": room})
	if e := checkInvite(ben, locked); e.Type() != "invite_ok" || e["locked"] != true {
		t.Fatalf("check in a locked room: %v", e)
	}
	ana.MustCall("ok", map[string]any{"type": "unlock", "room": room})

	// Full: two of three seats taken, a second invite pending; once Ben
	// takes the last seat, the other invite is pending but cannot seat.
	spare := th.invite(t, ana, room)
	ben.MustCall("joined", map[string]any{"type": "join", "token": locked})
	if e := checkInvite(ana, spare); e.Type() != "invite_ok" || e["full"] != true || e["locked"] != false {
		t.Fatalf("check in a full room: %v", e)
	}

	// Expired, on the Hub's clock: valid a millisecond before, not at.
	ben.MustCall("ok", map[string]any{"type": "leave", "room": room})
	late := th.invite(t, ana, room)
	th.clock.Advance(epchat.DefaultInviteTTL - time.Millisecond)
	if e := checkInvite(ben, late); e.Type() != "invite_ok" || e.Num("expires")-e.Num("now") != 1 {
		t.Fatalf("check 1 ms before expiry: %v", e)
	}
	th.clock.Advance(time.Millisecond)
	if e := checkInvite(ben, late); e.Str("code") != "invite_invalid" {
		t.Fatalf("check of an expired invite: %v", e)
	}

	// Revoked by a kick, as a join would find it.
	before := th.invite(t, ana, room)
	ana.MustCall("ok", map[string]any{"type": "kick", "room": room, "member": visitor.ID})
	if e := checkInvite(ben, before); e.Str("code") != "invite_invalid" {
		t.Fatalf("check of an invite made before a kick: %v", e)
	}

	// Closed: the invite went with the room.
	after := th.invite(t, ana, room)
	ana.MustCall("ok", map[string]any{"type": "close", "room": room})
	if e := checkInvite(ben, after); e.Str("code") != "invite_invalid" {
		t.Fatalf("check of a closed room's invite: %v", e)
	}
	if e := checkInvite(ben, "x"); e.Str("code") != "invite_invalid" {
		t.Fatalf("check of a short token: %v", e)
	}
	if e := ben.Call(map[string]any{"type": "check_invite"}); e.Str("code") != "bad_request" {
		t.Fatalf("check without a token: %v", e)
	}
}

// TestCheckInviteGuessing: a failed check counts as a failed guess, and
// the limit it shares with join refuses both, so checking is no cheaper
// way to guess tokens than joining; a valid invite refused unchecked is
// not spent.
func TestCheckInviteGuessing(t *testing.T) {
	hh := newTestHub(t, quiet, byTestAddr)
	owner := mustDialFrom(t, hh, "10.0.0.1", "nick-owner-check")
	room := owner.MustCall("joined", map[string]any{"type": "create"}).Str("room")
	valid := hh.invite(t, owner, room)

	// Half the guesses by check before hello, half by join.
	guesser, err := dialFrom(t, hh.url, "10.6.6.6")
	if err != nil {
		t.Fatal(err)
	}
	for i := range epchat.DefaultTokenGuessLimit {
		tok := fmt.Sprintf("guess-%02d-%s", i, strings.Repeat("x", 34))
		hh.secret(tok)
		if i == epchat.DefaultTokenGuessLimit/2 {
			hh.secret("nick-guesser-check")
			guesser.Hello("nick-guesser-check")
			hh.secret(guesser.Token)
		}
		req := map[string]any{"type": "check_invite", "token": tok}
		if i >= epchat.DefaultTokenGuessLimit/2 {
			req["type"] = "join"
		}
		if e := guesser.Call(req); e.Str("code") != "invite_invalid" {
			t.Fatalf("guess %d (%s): %v", i, req["type"], e)
		}
	}
	if e := checkInvite(guesser, valid); e.Str("code") != "rate_limited" {
		t.Fatalf("check after %d failures: %v", epchat.DefaultTokenGuessLimit, e)
	}
	if e := guesser.Call(map[string]any{"type": "join", "token": valid}); e.Str("code") != "rate_limited" {
		t.Fatalf("join after %d failures: %v", epchat.DefaultTokenGuessLimit, e)
	}
	// Another connection from that address, before hello, is throttled
	// too; another address is not, and the valid invite was not spent.
	second, err := dialFrom(t, hh.url, "10.6.6.6")
	if err != nil {
		t.Fatal(err)
	}
	if e := checkInvite(second, valid); e.Str("code") != "rate_limited" {
		t.Fatalf("check from the same address: %v", e)
	}
	other, err := dialFrom(t, hh.url, "10.0.0.2")
	if err != nil {
		t.Fatal(err)
	}
	if e := checkInvite(other, valid); e.Type() != "invite_ok" {
		t.Fatalf("check from another address: %v", e)
	}
	// After the window, the guesser may check again.
	hh.clock.Advance(epchat.DefaultTokenGuessWindow)
	if e := checkInvite(guesser, valid); e.Type() != "invite_ok" {
		t.Fatalf("check after the window: %v", e)
	}
}

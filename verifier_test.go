package epchat_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/epchat-go/epchat"
	"github.com/epchat-go/epchat/epchattest"
)

// TestInviteVerifier: an invite made with a verifier is found only with
// it. A join or a check without it, or with another (a link whose secret
// was changed), gets invite_invalid and spends nothing; the right one
// seats. A malformed verifier is a bad request on any of the three, and an
// invite made without one still works without one.
func TestInviteVerifier(t *testing.T) {
	th := newTestHub(t)
	ana := th.client(t, "ana")
	room := th.room(t, ana)
	const verifier = "q8Lx3vT0bNwZr5Ue_-Ak9sPdYf2Hg7Jc"
	th.secret(verifier)
	tok := ana.MustCall("invite", map[string]any{"type": "invite", "room": room, "verifier": verifier}).Str("token")
	th.secret(tok)

	ben := th.client(t, "ben")
	for _, tc := range []struct {
		what string
		req  map[string]any
	}{
		{"no verifier", map[string]any{"token": tok}},
		{"another verifier", map[string]any{"token": tok, "verifier": "q8Lx3vT0bNwZr5Ue_-Ak9sPdYf2Hg7Jd"}},
		{"an empty verifier", map[string]any{"token": tok, "verifier": ""}},
	} {
		for _, typ := range []string{"check_invite", "join"} {
			req := map[string]any{"type": typ}
			for k, v := range tc.req {
				req[k] = v
			}
			if e := ben.Call(req); e.Type() != "error" || e.Str("code") != "invite_invalid" {
				t.Fatalf("%s with %s: %v; want invite_invalid", typ, tc.what, e)
			}
		}
	}
	for _, bad := range []string{"short", strings.Repeat("a", 65), "q8Lx3vT0bNwZr5Ue+/Ak9sPdYf2Hg7Jc", "q8Lx3vT0 bNwZr5Ue"} {
		for _, typ := range []string{"check_invite", "join"} {
			if e := ben.Call(map[string]any{"type": typ, "token": tok, "verifier": bad}); e.Str("code") != "bad_request" {
				t.Fatalf("%s with verifier %q: %v; want bad_request", typ, bad, e)
			}
		}
		if e := ana.Call(map[string]any{"type": "invite", "room": room, "verifier": bad}); e.Str("code") != "bad_request" {
			t.Fatalf("invite with verifier %q: %v; want bad_request", bad, e)
		}
	}

	// A token is base64url: one carrying the verifier after a newline is
	// refused before any lookup. Its hash would be the hash of the invite
	// made with the verifier, so it found the invite, and the members were
	// told another invite's reference.
	for _, bad := range []string{tok + "\n" + verifier, tok + " ", tok[:20] + "+" + tok[21:], strings.Repeat("a", 65)} {
		for _, typ := range []string{"check_invite", "join"} {
			if e := ben.Call(map[string]any{"type": typ, "token": bad}); e.Str("code") != "bad_request" {
				t.Fatalf("%s with token %q: %v; want bad_request", typ, bad, e)
			}
		}
	}
	if e := epchattest.Dial(t, th.url).Call(map[string]any{"type": "hello", "token": tok + "\n"}); e.Str("code") != "bad_request" {
		t.Fatalf("hello with a token holding a newline: %v; want bad_request", e)
	}

	// None of it spent the invite.
	if e := ben.Call(map[string]any{"type": "check_invite", "token": tok, "verifier": verifier}); e.Type() != "invite_ok" {
		t.Fatalf("check_invite with the verifier: %v", e)
	}
	if e := ben.Call(map[string]any{"type": "join", "token": tok, "verifier": verifier}); e.Type() != "joined" || e.Str("room") != room {
		t.Fatalf("join with the verifier: %v", e)
	}
	ana.Expect("member_joined", room)
	cleo := th.client(t, "cleo")
	if e := cleo.Call(map[string]any{"type": "join", "token": tok, "verifier": verifier}); e.Str("code") != "invite_invalid" {
		t.Fatalf("the used invite again, with its verifier: %v; want invite_invalid", e)
	}

	// Made without a verifier: redeemed without one, and not with one.
	plain := th.invite(t, ana, room)
	if e := cleo.Call(map[string]any{"type": "check_invite", "token": plain, "verifier": verifier}); e.Str("code") != "invite_invalid" {
		t.Fatalf("a plain invite checked with a verifier: %v; want invite_invalid", e)
	}
	if e := cleo.Call(map[string]any{"type": "join", "token": plain}); e.Type() != "joined" {
		t.Fatalf("a plain invite: %v", e)
	}
}

// TestInviteVerifierGuessing: someone who has an invite's token but not its
// secret cannot try verifiers without end. Each wrong one is a failed
// guess; at the limit even the right one is refused unchecked (so the
// invite is not spent), and the holder of the real link, from another
// address, is seated with it.
func TestInviteVerifierGuessing(t *testing.T) {
	hh := newTestHub(t, quiet, byTestAddr)
	owner := mustDialFrom(t, hh, "10.0.0.1", "nick-owner-v")
	room := owner.MustCall("joined", map[string]any{"type": "create"}).Str("room")
	const verifier = "Zr5Ue_-Ak9sPdYf2Hg7Jcq8Lx3vT0bNw"
	hh.secret(verifier)
	tok := owner.MustCall("invite", map[string]any{"type": "invite", "room": room, "verifier": verifier}).Str("token")
	hh.secret(tok)

	guesser := mustDialFrom(t, hh, "10.6.6.6", "nick-guesser-v")
	for i := range epchat.DefaultTokenGuessLimit {
		v := fmt.Sprintf("guess%02d%s", i, strings.Repeat("x", 20))
		typ := []string{"join", "check_invite"}[i%2]
		if e := guesser.Call(map[string]any{"type": typ, "token": tok, "verifier": v}); e.Str("code") != "invite_invalid" {
			t.Fatalf("%s with wrong verifier %d: %v", typ, i, e)
		}
	}
	if e := guesser.Call(map[string]any{"type": "join", "token": tok, "verifier": verifier}); e.Str("code") != "rate_limited" {
		t.Fatalf("join with the right verifier after %d wrong ones: %v; want rate_limited", epchat.DefaultTokenGuessLimit, e)
	}
	friend := mustDialFrom(t, hh, "10.0.0.2", "nick-friend-v")
	if e := friend.Call(map[string]any{"type": "join", "token": tok, "verifier": verifier}); e.Type() != "joined" || e.Str("room") != room {
		t.Fatalf("the real link's holder, from another address: %v", e)
	}
	owner.Expect("member_joined", room)
}

package epchat_test

import (
	"strings"
	"testing"
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

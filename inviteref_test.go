package epchat_test

import (
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/epchat-go/epchat/epchattest"
)

// TestInviteRefTellsWhichInviteWasUsed: Ana makes two invites; each reply
// tells the invite's public reference. Ben redeems the second: the
// member_joined that tells the room of him carries that reference, not
// the other, and nothing of the token, so Ana's page knows which of its
// invites is spent, and by whom. The reference is SHA-256 of a fixed
// context and the token, cut to 128 bits, as PROTOCOL.md says.
func TestInviteRefTellsWhichInviteWasUsed(t *testing.T) {
	th := newTestHub(t)
	ana, ben, cleo := epchattest.Dial(t, th.url), epchattest.Dial(t, th.url), epchattest.Dial(t, th.url)
	ana.Hello("Ana")
	ben.Hello("Ben")
	cleo.Hello("Cleo")
	room := ana.MustCall("joined", map[string]any{"type": "create"}).Str("room")

	ref := func(token string) string {
		sum := sha256.Sum256([]byte("epchat invite ref\x00" + token))
		return base64.RawURLEncoding.EncodeToString(sum[:16])
	}
	first := ana.MustCall("invite", map[string]any{"type": "invite", "room": room})
	second := ana.MustCall("invite", map[string]any{"type": "invite", "room": room})
	for _, inv := range []epchattest.Event{first, second} {
		if got, want := inv.Str("invite"), ref(inv.Str("token")); got != want {
			t.Errorf("invite reply tells ref %q, want %q", got, want)
		}
	}
	if first.Str("invite") == second.Str("invite") {
		t.Fatal("two invites have the same ref")
	}

	ben.MustCall("joined", map[string]any{"type": "join", "token": second.Str("token")})
	ev := ana.Expect("member_joined", room)
	if got := ev.Str("invite"); got != second.Str("invite") {
		t.Errorf("member_joined tells invite %q, want the second invite's %q (the first's is %q)", got, second.Str("invite"), first.Str("invite"))
	}
	if strings.Contains(ev.Str("invite"), second.Str("token")) || ev.Str("invite") == "" {
		t.Errorf("member_joined invite = %q", ev.Str("invite"))
	}

	// The room hears of Cleo with the first invite's ref.
	cleo.MustCall("joined", map[string]any{"type": "join", "token": first.Str("token")})
	for _, c := range []*epchattest.Client{ana, ben} {
		if got := c.Expect("member_joined", room).Str("invite"); got != first.Str("invite") {
			t.Errorf("member_joined of Cleo tells invite %q, want %q", got, first.Str("invite"))
		}
	}
}

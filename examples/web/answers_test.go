package web_test

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// TestNicknameTaken: Ben opens Ana's invite and picks "Ana" too. The
// server refuses the join (nickname_taken) without spending the invite;
// the page asks Ben for another nickname, says why, and joins with the
// same link under the new one.
func TestNicknameTaken(t *testing.T) {
	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			h := newHarness(t, pollMode)
			ana, ben := h.person("Ana"), h.person("Ben")
			ben.screen(vp)
			ana.ownRoom("Ana")
			ben.open(ana.invite())
			ben.nickname("Ana")
			ben.wait("asked for another nickname", `!document.getElementById('view-nick').hidden && document.getElementById('nick-help').classList.contains('error') && document.getElementById('nick-input').getAttribute('aria-invalid') === 'true'`)
			if got := ben.text("#nick-help"); got != "Someone in that room already has a nickname that looks like yours. Pick another one to join." {
				t.Errorf("the nickname form says %q", got)
			}
			if eval[bool](ben, `document.getElementById('nick-invited').hidden`) {
				t.Error("the nickname form no longer says Ben is invited")
			}
			eval[bool](ben, `(document.getElementById('nick-input').value = '') === ''`)
			ben.nickname("Ben")
			ana.waitMembers("Ana", "Ben")
			ben.waitMembers("Ana", "Ben")
			if got := ben.text("#whoami-name"); got != "Ben" {
				t.Errorf("Ben's top bar says %q", got)
			}
			if n := eval[int](ben, `document.querySelectorAll('#notices .notice').length`); n != 0 {
				t.Errorf("Ben's page shows %d notices after joining, want none: %s", n, ben.pageState())
			}
		})
	}
}

// TestForgetMe: Ben, in Ana's room, uses "Forget me" and confirms: his
// page goes back to the start with nothing of the session left (no name
// in the top bar, no session in storage, a notice that says what
// happened), and Ana sees him leave.
func TestForgetMe(t *testing.T) {
	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			h := newHarness(t, pollMode)
			ana, ben := h.person("Ana"), h.person("Ben")
			ben.screen(vp)
			ana.ownRoom("Ana")
			ben.open(ana.invite())
			ben.nickname("Ben")
			ana.waitMembers("Ana", "Ben")
			ben.waitMembers("Ana", "Ben")

			ben.run("forget me", chromedp.Click(chromedp.ID("forget-btn"), chromedp.NodeVisible))
			ben.wait("the confirmation", `document.getElementById('confirm').open`)
			if got := ben.text("#confirm-title"); got != "Forget me?" {
				t.Errorf("confirmation title = %q", got)
			}
			ben.run("confirm", chromedp.Click(chromedp.ID("confirm-ok"), chromedp.NodeVisible))
			ben.wait("back to the start", `!document.getElementById('view-nick').hidden && document.getElementById('whoami').hidden && document.getElementById('forget-btn').hidden`)
			ben.wait("the notice", `document.querySelector('#notices .notice[data-code="session_ended"]') !== null`)
			if n := eval[int](ben, `document.querySelectorAll('#notices .notice').length`); n != 1 {
				t.Errorf("Ben's page shows %d notices, want the one: %s", n, ben.pageState())
			}
			if got := ben.text("#nick-help"); got != "1 to 32 characters. Others in your rooms will see it." {
				t.Errorf("the nickname form's help says %q", got)
			}
			if eval[bool](ben, `Object.keys(sessionStorage).some((k) => k.startsWith('epchat.') && k !== 'epchat.invite')`) {
				t.Errorf("Ben's tab still keeps %v", eval[[]string](ben, `Object.keys(sessionStorage)`))
			}
			ana.waitMembers("Ana")
		})
	}
}

package web_test

import (
	"slices"
	"testing"

	"github.com/chromedp/chromedp"
)

// logLines is the conversation on screen as lines: "msg <who>: <text>"
// (with " (history)" for one passed on), or "note <text>", in order; the
// lock intro left out.
func (p *person) logLines() []string {
	p.t.Helper()
	return eval[[]string](p, `[...document.querySelectorAll('#log-wrap li')].filter((li) => !li.classList.contains('intro')).map((li) => li.classList.contains('msg')
		? 'msg ' + li.querySelector('.who').textContent + ': ' + li.querySelector('.bubble').textContent + (li.classList.contains('from-history') ? ' (history)' : '')
		: 'note ' + li.textContent)`)
}

// TestHistoryMarked: Ben joins Ana's room after two messages. Her page
// passes them on, and Ben's shows them as what they are: earlier messages,
// passed on by Ana, under a line that says so and in dashed bubbles, not
// as live ones; Ana's next message is live. A reload keeps the mark.
func TestHistoryMarked(t *testing.T) {
	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			h := newHarness(t, pollMode)
			ana, ben := h.person("Ana"), h.person("Ben")
			ben.screen(vp)
			ana.ownRoom("Ana")
			ana.say("One, before Ben.")
			ana.say("Two, before Ben.")
			ben.open(ana.invite())
			ben.nickname("Ben")
			ben.waitMessage("Ana", "Two, before Ben.")
			ana.say("Three, live.")
			ben.waitMessage("Ana", "Three, live.")

			want := []string{
				"note Earlier messages, passed on by Ana",
				"msg Ana: One, before Ben. (history)",
				"msg Ana: Two, before Ben. (history)",
				"msg Ana: Three, live.",
			}
			check := func(when string) {
				got := slices.DeleteFunc(ben.logLines(), func(s string) bool {
					return s == "note You joined "+ben.text("#room-title")+"." || s == "note Ana joined." || s == "note Ben joined."
				})
				if !slices.Equal(got, want) {
					t.Errorf("%s, Ben's conversation is\n%q\nwant\n%q", when, got, want)
				}
				if s := eval[string](ben, `getComputedStyle(document.querySelector('#log-wrap li.msg.from-history .bubble')).borderTopStyle`); s != "dashed" {
					t.Errorf("%s, a message passed on has a %s border, want dashed", when, s)
				}
			}
			check("after joining")
			if n := eval[int](ana, `document.querySelectorAll('#log-wrap li.from-history, #log-wrap li.history-note').length`); n != 0 {
				t.Errorf("Ana's own page marks %d lines as passed on", n)
			}

			ben.run("reload", chromedp.Reload())
			ben.wait("the room again", `document.body.dataset.conn === 'ready' && !document.getElementById('view-room').hidden`)
			ben.waitMessage("Ana", "Three, live.")
			check("after a reload")
		})
	}
}

// TestNotesSurviveReload: Ben's conversation has notices between the
// messages (he joined, Cleo joined and left). A reload keeps them, in
// their places, as it keeps the messages.
func TestNotesSurviveReload(t *testing.T) {
	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			h := newHarness(t, pollMode)
			ana, ben := h.person("Ana"), h.person("Ben")
			ben.screen(vp)
			ana.ownRoom("Ana")
			room := eval[string](ana, `document.getElementById('view-room').dataset.room`)
			ben.open(ana.invite())
			ben.nickname("Ben")
			ben.waitMembers("Ana", "Ben")
			ana.say("Before Cleo.")
			ben.waitMessage("Ana", "Before Cleo.")
			cleo := seatBots(t, h, ana, "Cleo")[0]
			ben.waitMembers("Ana", "Ben", "Cleo")
			ana.say("With Cleo.")
			ben.waitMessage("Ana", "With Cleo.")
			cleo.MustCall("ok", map[string]any{"type": "leave", "room": room})
			ben.waitMembers("Ana", "Ben")
			ben.say("After Cleo.")

			before := ben.logLines()
			for _, n := range []string{"note Cleo joined.", "note Cleo left."} {
				if !slices.Contains(before, n) {
					t.Fatalf("Ben's conversation %q has no %q", before, n)
				}
			}
			ben.run("reload", chromedp.Reload())
			ben.wait("the room again", `document.body.dataset.conn === 'ready' && !document.getElementById('view-room').hidden`)
			ben.waitMessage("Ben", "After Cleo.")
			if after := ben.logLines(); !slices.Equal(after, before) {
				t.Errorf("after a reload, Ben's conversation is\n%q\nwas\n%q", after, before)
			}
			if !eval[bool](ben, `Object.keys(sessionStorage).some((k) => k.startsWith('epchat.notes.'))`) {
				t.Error("the notices are not kept in sessionStorage")
			}
		})
	}
}

package web_test

import (
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/epchat-go/epchat"
)

// covered lists the notices that overlap the room's heading (its tabs and
// its head) or the nickname screen's title: a notice takes its place
// above them, never over them.
const covered = `(() => {
	const over = [];
	const heads = ['room-tabs', 'room-title', 'nick-title'].map((id) => document.getElementById(id)).filter((el) => el.checkVisibility());
	heads.push(...[...document.querySelectorAll('.room-head')].filter((el) => el.checkVisibility()));
	for (const n of document.querySelectorAll('#notices .notice')) {
		const a = n.getBoundingClientRect();
		for (const h of heads) {
			const b = h.getBoundingClientRect();
			if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom) over.push(n.dataset.code + ' over ' + (h.id || h.className));
		}
	}
	return over;
})()`

func (p *person) notices() []string {
	p.t.Helper()
	return eval[[]string](p, `[...document.querySelectorAll('#notices .notice')].map((n) => n.dataset.code)`)
}

// TestNoticesBelongToTheirContext: Ana's room is full, so her Invite is
// refused. The notice sits above the room's heading, not over it; it goes
// by itself once a seat is free again; and, refused again, it goes when
// she moves on to a new room: a notice belongs to what it is about.
func TestNoticesBelongToTheirContext(t *testing.T) {
	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			h := newHarness(t, pollMode, epchat.WithMaxMembers(2))
			ana := h.person("Ana")
			ana.screen(vp)
			ana.ownRoom("Ana")
			room := eval[string](ana, `document.getElementById('view-room').dataset.room`)
			ben := seatBots(t, h, ana, "Ben")[0]
			ana.waitMembers("Ana", "Ben")

			full := `document.querySelector('#notices .notice[data-code="room_full"]') !== null`
			ana.run("invite", chromedp.Click(chromedp.ID("invite-btn"), chromedp.NodeVisible))
			ana.wait("the refusal", full)
			ana.screenshot("notice-" + vp.name + ".png")
			for _, s := range eval[[]string](ana, covered) {
				t.Errorf("a notice covers the heading: %s", s)
			}

			// Ben leaves: there is a seat again, and the notice goes.
			ben.MustCall("ok", map[string]any{"type": "leave", "room": room})
			ana.waitMembers("Ana")
			ana.wait("the refusal gone once resolved", `document.querySelector('#notices .notice') === null`)

			seatBots(t, h, ana, "Cleo")
			ana.waitMembers("Ana", "Cleo")
			ana.run("invite", chromedp.Click(chromedp.ID("invite-btn"), chromedp.NodeVisible))
			ana.wait("the refusal", full)

			// A new room: what was said of the other one is not about it.
			ana.run("a new room", chromedp.Click(chromedp.CSS(`#room-tabs .tab-new`), chromedp.NodeVisible))
			ana.wait("the start", `!document.getElementById('view-lobby').hidden`)
			if got := ana.notices(); len(got) != 0 {
				t.Errorf("at the start, notices %v of the room left behind are shown", got)
			}
			ana.createRoom()
			ana.wait("a second room", `document.getElementById('view-room').dataset.room !== `+jsq(room))
			if got := ana.notices(); len(got) != 0 {
				t.Errorf("in a new room, notices %v are shown", got)
			}
		})
	}
}

// TestSessionForgotten: Ana closes her room, then the server restarts and
// has forgotten Ben's session. The closed room shows nobody in it (no
// count of seats, no owner), and once the server says it no longer knows
// him Ben's page keeps nothing of the old session on screen: no name or
// avatar in the top bar, only the notice that says why, and a nickname
// form whose help agrees with the top bar.
func TestSessionForgotten(t *testing.T) {
	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			h := newHarness(t, pollMode)
			ana, ben := h.person("Ana"), h.person("Ben")
			ben.screen(vp)
			ana.ownRoom("Ana")
			ben.open(ana.invite())
			ben.nickname("Ben")
			ben.waitMembers("Ana", "Ben")

			ana.run("close the room", chromedp.Click(chromedp.ID("close-btn"), chromedp.NodeVisible))
			ana.wait("the confirmation", `document.getElementById('confirm').open`)
			ana.run("confirm", chromedp.Click(chromedp.ID("confirm-ok"), chromedp.NodeVisible))
			for _, p := range []*person{ana, ben} {
				p.wait("the closed banner", `!document.getElementById('room-banner').hidden`)
				p.wait("nobody shown in the closed room", `document.querySelectorAll('#member-list li').length === 0`)
				if got := p.text("#member-count"); got != "· none, the room is closed" {
					t.Errorf("%s's closed room counts its members as %q", p.name, got)
				}
			}

			h.restart()
			ben.wait("asked for a nickname", `!document.getElementById('view-nick').hidden && document.querySelector('#notices .notice[data-code="session_invalid"]') !== null`)
			ben.wait("the connection settled", `document.body.dataset.conn !== 'connecting'`)
			ben.screenshot("session-forgotten-" + vp.name + ".png")
			if got := ben.notices(); len(got) != 1 {
				t.Errorf("Ben's page shows notices %v, want only session_invalid", got)
			}
			if !eval[bool](ben, `document.getElementById('whoami').hidden`) {
				t.Error("the top bar still shows whom Ben was")
			}
			if got := ben.text("#whoami-name") + ben.text("#whoami-avatar"); got != "" {
				t.Errorf("the top bar keeps %q of the old session", got)
			}
			help, conn := ben.text("#nick-help"), ben.text("#conn-text")
			if help != "1 to 32 characters. Others in your rooms will see it." || conn != "Not connected" {
				t.Errorf("the nickname form says %q while the top bar says %q", help, conn)
			}
			for _, s := range eval[[]string](ben, covered) {
				t.Errorf("a notice covers the heading: %s", s)
			}

			// Ben starts again: the help and the top bar go together.
			eval[bool](ben, `(document.getElementById('nick-input').value = '') === ''`)
			ben.nickname("Ben")
			ben.wait("the start", `!document.getElementById('view-lobby').hidden`)
			if got := ben.notices(); len(got) != 0 {
				t.Errorf("after starting again, notices %v are shown", got)
			}
			if got := ben.text("#whoami-name"); got != "Ben" {
				t.Errorf("the top bar says %q", got)
			}
		})
	}
}

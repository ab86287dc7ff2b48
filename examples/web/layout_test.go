package web_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/epchat-go/epchat/epchattest"
)

// viewports are the two screens every layout test looks at: a laptop and
// a phone held upright.
// viewport is a screen the page tests run at.
type viewport struct {
	name          string
	width, height int64
	scale         float64
	mobile        bool
}

var viewports = []viewport{
	{
		name:   "desktop",
		width:  1280,
		height: 800,
		scale:  1,
	},
	{
		name:   "phone",
		width:  390,
		height: 844,
		scale:  2,
		mobile: true,
	},
}

// seatBots fills the room on Ana's screen with members who are not
// browsers: each takes an invite Ana makes and joins it over a plain
// WebSocket, as any client of the protocol may. They never write; the
// page shows them as it shows anyone.
func seatBots(t *testing.T, h *harness, ana *person, names ...string) []*epchattest.Client {
	t.Helper()
	chat := "ws" + strings.TrimPrefix(strings.TrimSuffix(h.url, "/"), "http") + "/chat/"
	var bots []*epchattest.Client
	for _, name := range names {
		join := joinRequest(t, ana.invite())
		c := epchattest.Dial(t, chat)
		c.MustCall("welcome", map[string]any{"type": "hello", "nickname": name})
		c.MustCall("joined", join)
		bots = append(bots, c)
	}
	return bots
}

// geometry is what the layout tests measure on the page.
type geometry struct {
	InnerHeight    float64  `json:"innerHeight"`
	ScrollHeight   float64  `json:"scrollHeight"`
	ScrolledTo     float64  `json:"scrolledTo"`
	ComposerTop    float64  `json:"composerTop"`
	ComposerBottom float64  `json:"composerBottom"`
	NewestTop      float64  `json:"newestTop"`
	NewestBottom   float64  `json:"newestBottom"`
	LogTop         float64  `json:"logTop"`
	LogBottom      float64  `json:"logBottom"`
	LogHeight      float64  `json:"logHeight"`
	ConnWidth      float64  `json:"connWidth"`
	ConnText       string   `json:"connText"`
	Truncated      []string `json:"truncated"`
	Clipped        []string `json:"clipped"`
}

const measure = `(() => {
	const r = (id) => document.getElementById(id).getBoundingClientRect();
	// Try to scroll the document itself, as a wheel or a finger would.
	window.scrollTo(0, 1e6);
	const scrolledTo = window.scrollY;
	window.scrollTo(0, 0);
	const msgs = document.querySelectorAll('#log-wrap li.msg');
	const newest = msgs[msgs.length - 1].getBoundingClientRect();
	const truncated = [];
	for (const li of document.querySelectorAll('#member-list li')) {
		const name = li.querySelector('.name');
		if (name.scrollWidth > name.clientWidth + 0.5) truncated.push(name.textContent + ' (' + name.clientWidth + ' of ' + name.scrollWidth + ' px)');
		const box = li.getBoundingClientRect();
		for (const tag of li.querySelectorAll('.tag')) {
			const t = tag.getBoundingClientRect();
			if (t.right > box.right + 0.5 || t.left < box.left - 0.5) truncated.push(name.textContent + ': tag ' + tag.textContent + ' sticks out');
		}
	}
	// Controls and status texts of the room's head and invite panel
	// that stick out of the room's card (which would clip them).
	const clipped = [];
	const card = document.getElementById('view-room').getBoundingClientRect();
	for (const el of document.querySelectorAll('#view-room .room-head button, #view-room .invite-panel button, #view-room .invite-panel input, #invite-expiry, #safety')) {
		if (!el.checkVisibility()) continue;
		const b = el.getBoundingClientRect();
		if (b.right > card.right + 0.5 || b.left < card.left - 0.5) clipped.push((el.id || el.textContent.trim()) + ' (' + Math.round(b.left) + ' to ' + Math.round(b.right) + ' of ' + Math.round(card.left) + ' to ' + Math.round(card.right) + ')');
		if (el.scrollWidth > el.clientWidth + 0.5 && el.tagName !== 'INPUT') clipped.push((el.id || el.textContent.trim()) + ' cut (' + el.clientWidth + ' of ' + el.scrollWidth + ' px)');
	}
	const conn = document.getElementById('conn-text');
	const visible = conn.checkVisibility() && getComputedStyle(conn).clip === 'auto';
	return {
		innerHeight: window.innerHeight,
		scrollHeight: document.documentElement.scrollHeight,
		scrolledTo,
		composerTop: r('composer').top,
		composerBottom: r('composer').bottom,
		newestTop: newest.top,
		newestBottom: newest.bottom,
		logTop: r('log-wrap').top,
		logBottom: r('log-wrap').bottom,
		logHeight: r('log-wrap').height,
		connWidth: visible ? conn.getBoundingClientRect().width : 0,
		connText: conn.textContent,
		truncated,
		clipped,
	};
})()`

// TestLayout fills a room to its 10 seats with a long conversation of
// grouped messages, on a laptop and on a phone, and measures the page: the
// document itself never scrolls (only the conversation does), the
// composer and the newest message are in view, the conversation keeps
// most of a phone's screen with the invite panel open, the connection
// status is in words, and the member list never truncates a short name
// to fit its OWNER and YOU tags.
func TestLayout(t *testing.T) {
	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			h := newHarness(t, pollMode)
			ana := h.person("Ana")
			ana.screen(vp)
			ana.ownRoom("Ana")
			seatBots(t, h, ana, "Ben", "Cleo", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jo")
			ana.wait("10 members", `document.querySelectorAll('#member-list li').length === 10`)
			for i := range 24 {
				ana.say(fmt.Sprintf("Message %d, one of a group.", i+1))
			}
			// The invite panel stays open, with the last link made.
			ana.wait("the newest message at the end", `(() => { const w = document.getElementById('log-wrap'); return w.scrollHeight - w.scrollTop - w.clientHeight < 2; })()`)
			ana.screenshot("layout-" + vp.name + ".png")

			g := eval[geometry](ana, measure)
			if g.ScrollHeight > g.InnerHeight+0.5 || g.ScrolledTo != 0 {
				t.Errorf("the document scrolls: %v px tall on a %v px screen, scrolled to %v", g.ScrollHeight, g.InnerHeight, g.ScrolledTo)
			}
			if g.ComposerTop < 0 || g.ComposerBottom > g.InnerHeight+0.5 {
				t.Errorf("the composer is out of view: %v to %v on a %v px screen", g.ComposerTop, g.ComposerBottom, g.InnerHeight)
			}
			if g.NewestTop < g.LogTop-0.5 || g.NewestBottom > g.LogBottom+0.5 || g.NewestBottom > g.InnerHeight {
				t.Errorf("the newest message (%v to %v) is out of the conversation's view (%v to %v)", g.NewestTop, g.NewestBottom, g.LogTop, g.LogBottom)
			}
			if g.LogHeight < 0.5*g.InnerHeight {
				t.Errorf("the conversation has %v px of a %v px screen, want at least half", g.LogHeight, g.InnerHeight)
			}
			if g.ConnWidth < 20 || g.ConnText != "Connected" {
				t.Errorf("the connection status is not in words: %q, %v px wide", g.ConnText, g.ConnWidth)
			}
			for _, s := range g.Truncated {
				t.Errorf("member list: %s", s)
			}
			for _, s := range g.Clipped {
				t.Errorf("cut off: %s", s)
			}
		})
	}
}

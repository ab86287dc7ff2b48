package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// memberID is the member id p's member list gives name.
func memberID(p *person, name string) string {
	p.t.Helper()
	id := eval[string](p, `[...document.querySelectorAll('#member-list li')].find((li) => li.querySelector('.name').textContent === `+jsq(name)+`)?.dataset.id ?? ''`)
	if id == "" {
		p.t.Fatalf("%s's member list has no %s: %s", p.name, name, p.pageState())
	}
	return id
}

// logHas is a JavaScript expression: p's conversation has a notice line
// containing text.
func logHas(text string) string {
	return `[...document.querySelectorAll('#log-wrap .notice-line')].some((li) => li.textContent.includes(` + jsq(text) + `))`
}

// TestPageAuthenticated: the demo page on authenticated rooms, every
// browser's connection through a malicious server (the adversary). What
// the server does to Ana's messages on their way to Ben is told on Ben's
// page, in plain words next to what it concerns, and never shown as a
// message: a replay under a new seq (refused, the message shown once), a
// dropped message (the next one says one never arrived), a message
// relabelled as Cleo's (refused). A member the server seats who holds no
// keys is tagged so on every page.
func TestPageAuthenticated(t *testing.T) {
	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			h := newHarness(t, pollMode)
			adv := newAdversary(t, h)
			ana, ben, cleo := h.person("Ana"), h.person("Ben"), h.person("Cleo")
			ben.screen(vp)
			ana.open(adv.pageURL())
			ana.nickname("Ana")
			ana.createRoom()
			for _, p := range []*person{ben, cleo} {
				p.open(ana.invite())
				p.nickname(p.name)
				// Admitted: the page holds the room's keys and shows the words.
				p.wait("the keys", `document.querySelectorAll('#safety .group').length === 8`)
			}
			ana.waitMembers("Ana", "Ben", "Cleo")
			anaID, benID, cleoID := memberID(ben, "Ana"), memberID(ana, "Ben"), memberID(ana, "Cleo")

			n := 0 // Ana's messages to Ben (not her handshake frames)
			adv.setRule(func(c *advConn, ev map[string]any) []map[string]any {
				text, _ := ev["text"].(string)
				if c.member() != benID || ev["type"] != "message" || ev["from"] != anaID || !strings.HasPrefix(text, "e2e1.m.") {
					return []map[string]any{ev}
				}
				n++
				switch n {
				case 1: // passed on, then again under a new seq
					again := cloneEvent(ev)
					again["seq"] = ev["seq"].(float64) + 100
					return []map[string]any{ev, again}
				case 2: // dropped
					return nil
				case 4: // shown as Cleo's
					ev["from"] = cleoID
				}
				return []map[string]any{ev}
			})

			ana.say("First, said once.")
			ben.waitMessage("Ana", "First, said once.")
			ben.wait("the replay told", logHas("was refused: it was shown already"))
			if got := eval[int](ben, `[...document.querySelectorAll('#log-wrap li.msg')].filter((li) => li.textContent.includes('First, said once.')).length`); got != 1 {
				t.Errorf("Ben's page shows the replayed message %d times, want once", got)
			}

			ana.say("Second, which the server drops.")
			ana.say("Third, after the dropped one.")
			ben.waitMessage("Ana", "Third, after the dropped one.")
			flag := eval[string](ben, `[...document.querySelectorAll('#log-wrap li.msg')].find((li) => li.textContent.includes('Third, after'))?.dataset.flag ?? ''`)
			text := ben.text(`#log-wrap li.msg[data-flag="gap"] .flag`)
			if flag != "gap" || !strings.Contains(text, "One earlier message from this member never arrived") {
				t.Errorf("the message after a dropped one: flag %q, %q", flag, text)
			}
			for _, m := range ben.messages() {
				if strings.Contains(m.Text, "Second") {
					t.Errorf("Ben's page shows the dropped message: %+v", m)
				}
			}

			ana.say("Fourth, relabelled as Cleo's.")
			ben.wait("the relabelling told", logHas("its author’s key says another member sent it"))
			for _, m := range ben.messages() {
				if strings.Contains(m.Text, "Fourth") {
					t.Errorf("Ben's page shows the relabelled message: %+v", m)
				}
			}
			cleo.waitMessage("Ana", "Fourth, relabelled as Cleo's.")

			// A member seated by the server who holds no keys: a plain
			// WebSocket client, which no page admits.
			seatBots(t, h, ana, "Zed")
			for _, p := range []*person{ana, ben, cleo} {
				p.wait("Zed tagged", `(() => { const li = [...document.querySelectorAll('#member-list li')].find((li) => li.querySelector('.name').textContent === 'Zed'); return li?.dataset.verify === 'not_admitted' && li.textContent.includes('no keys'); })()`)
				if n := eval[int](p, `document.querySelectorAll('#member-list li[data-verify]').length`); n != 1 {
					t.Errorf("%s's page tags %d members, want Zed alone", p.name, n)
				}
			}
			for _, s := range eval[[]string](ben, covered) {
				t.Errorf("a notice covers the heading: %s", s)
			}
		})
	}
}

// TestPageNotAdmitted: the server keeps Ben's key package from Ana, so
// nobody gives Ben the room's keys. His page says he is waiting for them
// (beside his name and in place of the safety words), Ana's tags him as
// holding none, and what he tries to send is refused on his page, with a
// reason, and kept in the composer; it never reaches Ana.
func TestPageNotAdmitted(t *testing.T) {
	h := newHarness(t, pollMode)
	adv := newAdversary(t, h)
	ana, ben := h.person("Ana"), h.person("Ben")
	ana.open(adv.pageURL())
	ana.nickname("Ana")
	ana.createRoom()
	adv.setRule(func(c *advConn, ev map[string]any) []map[string]any {
		if text, _ := ev["text"].(string); ev["type"] == "message" && strings.HasPrefix(text, "e2e1.kp.") {
			return nil // the key package never reaches Ana
		}
		return []map[string]any{ev}
	})
	ben.open(ana.invite())
	ben.nickname("Ben")
	ana.waitMembers("Ana", "Ben")
	ben.wait("waiting for keys", `document.querySelector('#member-list li[data-verify="not_admitted"]')?.textContent.includes('waiting for keys') && document.getElementById('safety').textContent === 'waiting for the room’s keys'`)
	ana.wait("Ben without keys", `[...document.querySelectorAll('#member-list li[data-verify="not_admitted"]')].some((li) => li.querySelector('.name').textContent === 'Ben' && li.textContent.includes('no keys'))`)

	ben.run("type a message", chromedp.SendKeys(chromedp.ID("composer-input"), "Can anyone read this?"), pressEnter())
	// The library waits up to 10 s for the keys before it gives up.
	ctx, cancel := context.WithTimeout(ben.ctx, stepTimeout+10*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](`document.querySelector('#notices .notice[data-code="not_admitted"]') !== null`,
		chromedp.WithPollingInterval(25*time.Millisecond))); err != nil {
		t.Fatalf("Ben: wait for the refusal: %v%s", err, ben.pageState())
	}
	if got := eval[string](ben, `document.getElementById('composer-input').value`); got != "Can anyone read this?" {
		t.Errorf("Ben's composer holds %q after the refusal, want his text", got)
	}
	for _, m := range ana.messages() {
		t.Errorf("Ana's page shows %+v", m)
	}
}

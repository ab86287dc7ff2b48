package web_test

import (
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/epchat-go/epchat"
	"github.com/epchat-go/epchat/epchattest"
)

// retryReading is the top bar's "retrying in N s" as the page shows it,
// and when (Date.now()) it was read.
type retryReading struct {
	N  float64 `json:"n"`
	At float64 `json:"at"`
}

const readRetry = `(() => {
	const m = /retrying in (\d+) s/.exec(document.getElementById('conn-text').textContent);
	return m ? {n: Number(m[1]), at: Date.now()} : {n: -1, at: Date.now()};
})()`

// TestRetryCountdown: the server goes down and Ana's page waits longer
// and longer between tries. The "retrying in N s" of the top bar counts
// down with the clock: read twice, seconds apart, within one wait, it went
// down by the seconds between the readings.
func TestRetryCountdown(t *testing.T) {
	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			h := newHarness(t, pollMode)
			ana := h.person("Ana")
			ana.screen(vp)
			ana.ownRoom("Ana")

			h.down.Store(true)
			h.tap.dropAll()
			ana.wait("a wait of 3 s or more", `(() => { const m = /retrying in (\d+) s/.exec(document.getElementById('conn-text').textContent); return m && Number(m[1]) >= 3; })()`)
			first := eval[retryReading](ana, readRetry)
			ana.wait("two seconds counted down", `(() => { const m = /retrying in (\d+) s/.exec(document.getElementById('conn-text').textContent); return m && Number(m[1]) <= `+strconv.Itoa(int(first.N)-2)+`; })()`)
			second := eval[retryReading](ana, readRetry)
			elapsed := (second.At - first.At) / 1000
			if math.Abs((first.N-second.N)-elapsed) > 1 {
				t.Errorf("read %v s then %v s, %.1f s apart: the countdown is not the clock's", first.N, second.N, elapsed)
			}
			h.down.Store(false)
			ana.wait("reconnected", `document.body.dataset.conn === 'ready'`)
		})
	}
}

// TestNicknameFormTellsTheConnection: Ben picks a nickname while the
// server is down. The form's help does not say "Connecting…" while the top
// bar says the page is offline: both tell the same, and once the server
// is back Ben is in.
func TestNicknameFormTellsTheConnection(t *testing.T) {
	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			h := newHarness(t, pollMode)
			ben := h.person("Ben")
			ben.screen(vp)
			h.down.Store(true)
			ben.open(h.url)
			ben.run("type a nickname",
				chromedp.WaitVisible(chromedp.ID("nick-input")),
				chromedp.SendKeys(chromedp.ID("nick-input"), "Ben"),
				pressEnter(),
			)
			ben.wait("offline", `document.getElementById('conn-text').textContent.startsWith('Offline')`)
			read := eval[[]string](ben, `[document.getElementById('nick-help').textContent, document.getElementById('conn-text').textContent]`)
			help, conn := read[0], read[1]
			if !strings.HasPrefix(help, "Offline") {
				t.Errorf("the nickname form says %q while the top bar says %q", help, conn)
			}
			h.down.Store(false)
			ben.wait("in", `document.body.dataset.conn === 'ready' && !document.getElementById('view-lobby').hidden`)
		})
	}
}

// TestHelloRefusedSaid: the server has room for one user, Ana. Ben picks
// a nickname: his page says the server is full for now, in words, rather
// than "Connecting…" for ever, and the notice goes once he is in (Ana's
// session ended).
func TestHelloRefusedSaid(t *testing.T) {
	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			h := newHarness(t, pollMode, epchat.WithMaxUsers(1))
			ana, ben := h.person("Ana"), h.person("Ben")
			ben.screen(vp)
			ana.open(h.url)
			ana.nickname("Ana")
			ben.open(h.url)
			ben.run("type a nickname",
				chromedp.WaitVisible(chromedp.ID("nick-input")),
				chromedp.SendKeys(chromedp.ID("nick-input"), "Ben"),
				pressEnter(),
			)
			ben.wait("the refusal", `document.querySelector('#notices .notice[data-code="too_many_users"]') !== null`)
			if got := ben.text(`#notices .notice[data-code="too_many_users"] p`); !strings.Contains(got, "as many people as it can take") {
				t.Errorf("the notice says %q", got)
			}
			for _, s := range eval[[]string](ben, covered) {
				t.Errorf("a notice covers the heading: %s", s)
			}
			ana.run("forget me", chromedp.Click(chromedp.ID("forget-btn"), chromedp.NodeVisible))
			ana.wait("the confirmation", `document.getElementById('confirm').open`)
			ana.run("confirm", chromedp.Click(chromedp.ID("confirm-ok"), chromedp.NodeVisible))
			ana.wait("forgotten", `!document.getElementById('view-nick').hidden`)
			eval[bool](ben, `(window.dispatchEvent(new Event('online')), true)`) // skip the backoff wait
			ben.wait("in", `document.body.dataset.conn === 'ready' && !document.getElementById('view-lobby').hidden`)
			if got := ben.notices(); len(got) != 0 {
				t.Errorf("once in, Ben's page shows notices %v", got)
			}
		})
	}
}

// TestSessionConnectedSaid: someone presents Ana's session token from
// elsewhere (here a plain WebSocket client with a copy of it). Ana's page
// says her session was opened somewhere else, how many connections it has
// now, and what to do if that was not her.
func TestSessionConnectedSaid(t *testing.T) {
	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			h := newHarness(t, pollMode)
			ana := h.person("Ana")
			ana.screen(vp)
			ana.ownRoom("Ana")
			token := eval[string](ana, `JSON.parse(sessionStorage.getItem('epchat.session')).token`)
			other := epchattest.Dial(t, "ws"+strings.TrimPrefix(strings.TrimSuffix(h.url, "/"), "http")+"/chat/")
			other.MustCall("welcome", map[string]any{"type": "hello", "token": token})
			ana.wait("told", `document.querySelector('#notices .notice[data-code="session_connected"]') !== null`)
			if got := ana.text(`#notices .notice[data-code="session_connected"] p`); !strings.Contains(got, "2 connections") || !strings.Contains(got, "Forget me") {
				t.Errorf("the notice says %q", got)
			}
			for _, s := range eval[[]string](ana, covered) {
				t.Errorf("a notice covers the heading: %s", s)
			}
		})
	}
}

package web_test

import (
	"strings"
	"testing"
	"time"

	"github.com/epchat-go/epchat"
	"github.com/epchat-go/epchat/epchattest"
)

// lifetime is the room's "closes at about …" line as the page shows it.
type lifetime struct {
	Text    string `json:"text"`
	At      string `json:"at"`
	Visible bool   `json:"visible"`
	Intro   string `json:"intro"`
}

const readLifetime = `(() => {
	const p = document.getElementById('room-lifetime');
	return {
		text: p.innerText,
		at: p.querySelector('time')?.dateTime ?? '',
		visible: p.checkVisibility(),
		intro: document.querySelector('#log-wrap li.intro').innerText,
	};
})()`

// TestRoomLifetime: a server whose rooms close after 7 quiet minutes. Ana's
// room says so, in the room: when it will close if nobody writes (7
// minutes after the last message, on the clock of the message times), that
// a reload keeps it and closing the tab forgets everything. Each message
// moves the time on; once it has passed the room closes, and the line
// goes.
func TestRoomLifetime(t *testing.T) {
	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			clock := epchattest.NewClock(time.Now())
			h := newHarness(t, pollMode, epchat.WithClock(clock), epchat.WithRoomIdleTimeout(7*time.Minute))
			ana := h.person("Ana")
			ana.screen(vp)
			ana.ownRoom("Ana")
			ana.wait("the lifetime", `document.getElementById('room-lifetime').querySelector('time') !== null`)
			l := eval[lifetime](ana, readLifetime)
			want := "if nobody writes"
			if vp.mobile {
				want = "if quiet" // in short: the intro says the rule
			}
			if !l.Visible || !strings.HasPrefix(l.Text, "Closes ") || !strings.HasSuffix(l.Text, want) {
				t.Errorf("the room's lifetime says %q (shown: %v), want it to end %q", l.Text, l.Visible, want)
			}
			for _, s := range []string{"the room closes when nobody has written for 7 minutes", "A reload of this tab keeps the room and the conversation", "closing the tab forgets everything"} {
				if !strings.Contains(l.Intro, s) {
					t.Errorf("the room's intro %q does not say %q", l.Intro, s)
				}
			}

			closesAfter := func(text string) {
				t.Helper()
				ana.say(text)
				sent := eval[string](ana, `[...document.querySelectorAll('#log-wrap li.msg time')].pop().dateTime`)
				ts, err := time.Parse(time.RFC3339, sent)
				if err != nil {
					t.Fatal(err)
				}
				want := ts.Add(7 * time.Minute).UTC().Format("2006-01-02T15:04:05.000Z")
				ana.wait("the closing time moved to "+want, `document.querySelector('#room-lifetime time')?.dateTime === `+jsq(want))
				if got := eval[lifetime](ana, readLifetime).Text; !strings.Contains(got, ana.text("#room-lifetime time")) {
					t.Errorf("the closing time is not shown: %q", got)
				}
			}
			closesAfter("First.")
			clock.Advance(3 * time.Minute)
			closesAfter("Three minutes later.")

			clock.Advance(8 * time.Minute)
			ana.wait("the room closed as said", `document.getElementById('room-banner').dataset.reason === 'idle' && !document.getElementById('room-banner').hidden`)
			if eval[lifetime](ana, readLifetime).Visible {
				t.Error("a closed room still says when it closes")
			}
		})
	}
}

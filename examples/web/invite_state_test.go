package web_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/epchat-go/epchat"
	"github.com/epchat-go/epchat/epchattest"
)

// invitePanel is the owner's invite panel as it shows.
type invitePanel struct {
	State    string `json:"state"`
	Text     string `json:"text"`
	Link     string `json:"link"`
	CopyShow bool   `json:"copy"`
	NextShow bool   `json:"next"`
}

const readInvitePanel = `(() => {
	const p = document.getElementById('invite-panel');
	return {
		state: p.dataset.state ?? '',
		text: document.getElementById('invite-expiry').innerText,
		link: document.getElementById('invite-link').value,
		copy: document.getElementById('copy-btn').checkVisibility(),
		next: document.getElementById('next-invite-btn').checkVisibility(),
	};
})()`

// TestInviteState: the owner's panel shows the invite as it is. Waiting,
// it counts down with the link to copy; once Ben has used it, it says so,
// by name, with no link to copy, and offers the next one; an older link
// used meanwhile does not change the state of the latest; expired, it says
// so.
func TestInviteState(t *testing.T) {
	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			clock := epchattest.NewClock(time.Now())
			h := newHarness(t, pollMode, epchat.WithClock(clock))
			ana, ben := h.person("Ana"), h.person("Ben")
			ana.screen(vp)
			ana.ownRoom("Ana")

			link := ana.invite()
			p := eval[invitePanel](ana, readInvitePanel)
			if p.State != "waiting" || p.Link != link || !p.CopyShow || p.NextShow || !strings.Contains(p.Text, "xpires in") {
				t.Errorf("a fresh invite shows %+v", p)
			}

			ben.open(link)
			ben.nickname("Ben")
			ana.waitMembers("Ana", "Ben")
			ana.wait("the invite used", `document.getElementById('invite-panel').dataset.state === 'used'`)
			p = eval[invitePanel](ana, readInvitePanel)
			if p.Text != "Used by Ben." || p.Link != "" || p.CopyShow || !p.NextShow {
				t.Errorf("a used invite shows %+v", p)
			}

			// The next one, from the panel; then one more. Cleo redeems the
			// older of the two: the latest still waits.
			ana.run("the next link", chromedp.Click(chromedp.ID("next-invite-btn"), chromedp.NodeVisible))
			ana.wait("a new link", `document.getElementById('invite-panel').dataset.state === 'waiting' && document.getElementById('invite-link').value.includes('#join=')`)
			older := eval[string](ana, `document.getElementById('invite-link').value`)
			latest := ana.invite()
			join := joinRequest(t, older)
			cleo := epchattest.Dial(t, "ws"+strings.TrimPrefix(strings.TrimSuffix(h.url, "/"), "http")+"/chat/")
			cleo.MustCall("welcome", map[string]any{"type": "hello", "nickname": "Cleo"})
			cleo.MustCall("joined", join)
			ana.waitMembers("Ana", "Ben", "Cleo")
			if p := eval[invitePanel](ana, readInvitePanel); p.State != "waiting" || p.Link != latest {
				t.Errorf("after an older link was used, the latest shows %+v", p)
			}

			clock.Advance(6 * time.Minute)
			ana.say("Anyone else?") // the page learns the server's time
			ana.wait("the invite expired", `document.getElementById('invite-panel').dataset.state === 'expired'`)
			p = eval[invitePanel](ana, readInvitePanel)
			if !strings.HasPrefix(p.Text, "Expired") || p.Link != "" || p.CopyShow || !p.NextShow {
				t.Errorf("an expired invite shows %+v", p)
			}
		})
	}
}

package web_test

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestExpiredLinkRefusedFirst: an invite link tells when it expires. Ben
// opens one that has expired: before asking him anything, his page says
// the link expired and is not shown as an invitation, and nothing of it
// reached the server. A live link from the same room still invites him.
func TestExpiredLinkRefusedFirst(t *testing.T) {
	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			h := newHarness(t, pollMode)
			ana, ben := h.person("Ana"), h.person("Ben")
			ben.screen(vp)
			ana.ownRoom("Ana")
			link := ana.invite()
			exp := regexp.MustCompile(`&exp=(\d+)$`).FindStringSubmatch(link)
			if exp == nil {
				t.Fatalf("the invite link %q does not tell when it expires", link)
			}
			if ms, _ := strconv.ParseInt(exp[1], 10, 64); time.Until(time.UnixMilli(ms)) < 4*time.Minute || time.Until(time.UnixMilli(ms)) > 6*time.Minute {
				t.Errorf("the link says it expires at %v, want about five minutes from now", time.UnixMilli(ms))
			}
			dead := strings.TrimSuffix(link, exp[0]) + "&exp=" + strconv.FormatInt(time.Now().Add(-time.Hour).UnixMilli(), 10)

			before := h.hub.Stats()
			ben.open(dead)
			ben.wait("the refusal", `document.querySelector('#notices .notice[data-code="invite_expired"]') !== null`)
			if got := ben.text(`#notices .notice[data-code="invite_expired"] p`); !strings.Contains(got, "expired at") {
				t.Errorf("the notice says %q", got)
			}
			if !eval[bool](ben, `document.body.dataset.view === 'nick' && document.getElementById('nick-invited').hidden && document.getElementById('nick-submit').textContent === 'Continue'`) {
				t.Errorf("with a dead link Ben is asked for a nickname to join: %s", ben.pageState())
			}
			if hash := eval[string](ben, `location.hash`); hash != "" {
				t.Errorf("the dead link's fragment %q stayed in the address bar", hash)
			}
			if eval[bool](ben, `sessionStorage.getItem('epchat.invite') !== null`) {
				t.Error("the page keeps the dead invite")
			}
			for _, s := range eval[[]string](ben, covered) {
				t.Errorf("a notice covers the heading: %s", s)
			}
			if after := h.hub.Stats(); after.Connections != before.Connections {
				t.Errorf("Ben's page connected to the server (%d connections, was %d)", after.Connections, before.Connections)
			}

			ben.open(link)
			ben.wait("the invitation", `!document.getElementById('nick-invited').hidden`)
			if n := len(ben.notices()); n != 0 {
				t.Errorf("a live link shows notices %v", ben.notices())
			}
			ben.nickname("Ben")
			ana.waitMembers("Ana", "Ben")
		})
	}
}

// TestUsedLinkRefusedFirst: Ben joined with a link; Cid opens the same
// one. Before asking him anything his page asks the server (check_invite,
// which spends nothing), says the link was used, and does not show it as
// an invitation. A live link to a room locked for now is shown as an
// invitation with a warning, and once the room is unlocked it seats Cid:
// checking it did not spend it.
func TestUsedLinkRefusedFirst(t *testing.T) {
	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			h := newHarness(t, pollMode)
			ana, ben, cid := h.person("Ana"), h.person("Ben"), h.person("Cid")
			cid.screen(vp)
			ana.ownRoom("Ana")
			used := ana.invite()
			ben.open(used)
			ben.nickname("Ben")
			ana.waitMembers("Ana", "Ben")

			cid.open(used)
			cid.wait("the refusal", `document.querySelector('#notices .notice[data-code="invite_invalid"]') !== null`)
			if got := cid.text(`#notices .notice[data-code="invite_invalid"] p`); !strings.Contains(got, "used already") {
				t.Errorf("the notice says %q", got)
			}
			if !eval[bool](cid, `document.body.dataset.view === 'nick' && document.getElementById('nick-invited').hidden && document.getElementById('nick-submit').textContent === 'Continue'`) {
				t.Errorf("with a used link Cid is asked for a nickname to join: %s", cid.pageState())
			}
			if eval[bool](cid, `sessionStorage.getItem('epchat.invite') !== null`) {
				t.Error("the page keeps the used invite")
			}
			for _, s := range eval[[]string](cid, covered) {
				t.Errorf("a notice covers the heading: %s", s)
			}

			live := ana.invite()
			ana.run("lock", chromedp.Click(chromedp.ID("lock-btn"), chromedp.NodeVisible))
			ana.wait("the room locked", `document.getElementById('view-room').dataset.locked === 'true'`)
			redeemed := h.hub.Stats().InvitesRedeemed
			cid.open(live)
			cid.wait("the invitation", `!document.getElementById('nick-invited').hidden`)
			cid.wait("the warning", `document.querySelector('#notices .notice[data-code="room_locked"]') !== null`)
			if eval[bool](cid, `document.querySelector('#notices .notice[data-code="invite_invalid"]') !== null`) {
				t.Error("the used link's refusal outlived a good link")
			}
			ana.run("unlock", chromedp.Click(chromedp.ID("lock-btn"), chromedp.NodeVisible))
			ana.wait("the room unlocked", `document.getElementById('view-room').dataset.locked === 'false'`)
			if got := h.hub.Stats().InvitesRedeemed; got != redeemed {
				t.Errorf("checking the link redeemed an invite (%d, was %d)", got, redeemed)
			}
			cid.nickname("Cid")
			ana.waitMembers("Ana", "Ben", "Cid")
			cid.wait("the warning gone", `document.querySelector('#notices .notice[data-code="room_locked"]') === null`)
		})
	}
}

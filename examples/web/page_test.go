package web_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// historyURLs returns the URL of every entry of the tab's history.
func (p *person) historyURLs() []string {
	p.t.Helper()
	var urls []string
	p.run("read the history", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		res, err := cdp.Call(ctx, t, page.GetNavigationHistory, cdp.Empty{})
		if err != nil {
			return err
		}
		for _, e := range res.Entries {
			urls = append(urls, e.URL)
		}
		return nil
	}))
	return urls
}

// TestInsecureContextForgetsInvite opens an invite link over plain HTTP
// from an address other than localhost: the page refuses to run, and has
// first taken the invite token and the room key out of the address bar and
// the tab's history, where the browser would otherwise keep them.
func TestInsecureContextForgetsInvite(t *testing.T) {
	h := newHarness(t, pollMode)
	p := h.person("Eve")
	u, err := url.Parse(h.url)
	if err != nil {
		t.Fatal(err)
	}
	token, key := strings.Repeat("T", 43), strings.Repeat("K", 42)+"A"
	p.open("http://insecure.example:" + u.Port() + "/#join=" + token + "." + key)
	p.wait("the warning", `!document.getElementById('view-insecure').hidden`)
	if eval[bool](p, `window.isSecureContext`) {
		t.Fatal("insecure.example counts as a secure context; the test shows nothing")
	}
	if hash := eval[string](p, `location.hash`); hash != "" {
		t.Errorf("the address bar still has the fragment %q", hash)
	}
	for _, u := range p.historyURLs() {
		if strings.Contains(u, token) || strings.Contains(u, key) {
			t.Errorf("the tab's history keeps the invite: %s", u)
		}
	}
	if eval[bool](p, `Object.keys(sessionStorage).some((k) => sessionStorage.getItem(k).includes('`+key+`'))`) {
		t.Error("the page kept the key in sessionStorage")
	}
}

// nicknameText types a nickname as an input method would, at once (any
// character, bidi controls included), and presses Enter.
func (p *person) nicknameText(nick string) {
	p.t.Helper()
	p.run("type a nickname",
		chromedp.WaitVisible(chromedp.ID("nick-input")),
		chromedp.Focus(chromedp.ID("nick-input")),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := cdp.Call(ctx, t, input.InsertText, input.InsertTextParams{Text: nick})
			return err
		}),
		pressEnter(),
	)
	p.wait("identified", `document.body.dataset.conn === 'ready'`)
}

// isolated returns, for each place the page shows one of nicks, a
// description of it when it is not bidi-isolated: its text must be the
// whole text of an element that the browser isolates (a <bdi>, or
// unicode-bidi: isolate), so that a nickname written right to left, or
// holding a bidi override, cannot reorder the text around it.
func (p *person) isolated(nicks ...string) (count int, bad []string) {
	p.t.Helper()
	res := eval[struct {
		Count int      `json:"count"`
		Bad   []string `json:"bad"`
	}](p, fmt.Sprintf(`(() => {
		const nicks = %s;
		const bad = [];
		let count = 0;
		const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
		for (let n = walk.nextNode(); n; n = walk.nextNode()) {
			const nick = nicks.find((x) => n.data.includes(x));
			if (!nick) continue;
			count++;
			const el = n.parentElement;
			const style = getComputedStyle(el).unicodeBidi;
			if (n.data !== nick || !['isolate', 'isolate-override', 'plaintext'].includes(style)) {
				bad.push(el.tagName + '.' + el.className + ' (' + style + '): ' + JSON.stringify(el.parentElement.textContent.slice(0, 60)));
			}
		}
		return { count, bad };
	})()`, jsq2(nicks...)))
	return res.Count, res.Bad
}

// TestNicknamesIsolated shows every nickname bidi-isolated, wherever the
// page shows it: the top bar, the members, each message, the notices
// (joined, left). Ana's nickname is Hebrew and Ben's Arabic: unisolated,
// either would take the neutral text after it into its right-to-left run
// and reorder it ("joined.", the time of a message). The server refuses
// bidi controls in the nicknames it checks, but not in one a host chose:
// the page isolates every nickname all the same.
func TestNicknamesIsolated(t *testing.T) {
	const anaNick, benNick = "שרה", "علي"
	h := newHarness(t, pollMode)
	ana, ben := h.person("Ana"), h.person("Ben")
	ana.open(h.url)
	ana.nicknameText(anaNick)
	ana.createRoom()
	ben.open(ana.invite())
	ben.nicknameText(benNick)
	// waitMembers compares JSON texts, which %q writes differently for a
	// bidi control: compare the names one by one.
	members := fmt.Sprintf(`((want) => { const got = [...document.querySelectorAll('#member-list li .name')].map((n) => n.textContent); return got.length === want.length && got.every((x, i) => x === want[i]); })(%s)`, jsq2(anaNick, benNick))
	ana.wait("both members", members)
	ben.wait("both members", members)
	ana.run("type a message", chromedp.SendKeys(chromedp.ID("composer-input"), "Shalom"), pressEnter())
	ben.waitMessage(anaNick, "Shalom")
	ben.run("type a message", chromedp.SendKeys(chromedp.ID("composer-input"), "Hi"), pressEnter())
	ana.waitMessage(benNick, "Hi")
	// Ben's page shows his own message once the server answered his send,
	// which may come after Ana's page got it.
	ben.waitMessage(benNick, "Hi")

	for _, p := range []*person{ana, ben} {
		count, bad := p.isolated(anaNick, benNick)
		// The top bar, two members, two messages; Ana's page also says Ben joined.
		if count < 5 {
			t.Errorf("%s's page shows the nicknames %d times, want at least 5: the check found nothing to check", p.name, count)
		}
		for _, b := range bad {
			t.Errorf("%s's page shows a nickname unisolated: %s", p.name, b)
		}
	}
}

// jsq2 is a JavaScript array of strings.
func jsq2(s ...string) string {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = jsq(x)
	}
	return "[" + strings.Join(q, ",") + "]"
}

// TestOwnerControls shows the owner's controls, to the owner only: a lock
// toggle, and a menu on each other member with "Remove from room". The
// owner removes Ben: Ben's page says so, and Ana's no longer lists him.
func TestOwnerControls(t *testing.T) {
	h := newHarness(t, pollMode)
	ana, ben := h.person("Ana"), h.person("Ben")
	ana.ownRoom("Ana")
	ben.open(ana.invite())
	ben.nickname("Ben")
	ana.waitMembers("Ana", "Ben")
	ben.waitMembers("Ana", "Ben")

	if !eval[bool](ana, `!document.getElementById('lock-btn').hidden`) {
		t.Error("the owner has no lock toggle")
	}
	if got := eval[[]string](ana, `[...document.querySelectorAll('#member-list li')].filter((li) => li.querySelector('.member-menu-btn')).map((li) => li.querySelector('.name').textContent)`); strings.Join(got, ",") != "Ben" {
		t.Errorf("the owner has a member menu on %v, want on Ben only", got)
	}
	if eval[bool](ben, `!document.getElementById('lock-btn').hidden || document.querySelector('.member-menu-btn') !== null`) {
		t.Error("Ben, not the owner, is offered the owner's controls")
	}

	// Remove Ben, through the menu and the confirmation.
	ana.run("open Ben's menu", chromedp.Click(chromedp.CSS(`#member-list li:not([data-owner]) .member-menu-btn`), chromedp.NodeVisible))
	ana.wait("the menu", `document.activeElement?.classList.contains('kick-btn')`)
	ana.screenshot("member-menu.png")
	ana.run("remove", chromedp.Click(chromedp.CSS(`.member-menu .kick-btn`), chromedp.NodeVisible))
	ana.wait("the confirmation", `document.getElementById('confirm').open`)
	if got := ana.text("#confirm-title"); got != "Remove Ben?" {
		t.Errorf("confirmation title = %q", got)
	}
	ana.run("confirm", chromedp.Click(chromedp.ID("confirm-ok"), chromedp.NodeVisible))
	ana.wait("an answer", `document.querySelector('#notices .notice[data-code="unknown_type"]') !== null || document.querySelectorAll('#member-list li').length === 1`)
	if eval[bool](ana, `document.querySelector('#notices .notice[data-code="unknown_type"]') !== null`) {
		t.Fatal("the server does not know kick (unknown_type)")
	}
	ana.waitMembers("Ana")
	ana.wait("the notice", `[...document.querySelectorAll('#log-wrap .notice-line')].some((li) => li.textContent === 'Ben was removed by the owner.')`)
	ben.wait("the removed banner", `!document.getElementById('room-banner').hidden && document.getElementById('room-banner').dataset.reason === 'kicked' && document.getElementById('composer').hidden`)
	if got := ben.text("#room-banner-text"); got != "The owner removed you from this room." {
		t.Errorf("Ben's banner = %q", got)
	}
}

// TestOwnerLock: the owner locks the room with the toggle; every member
// sees it locked, and the owner cannot invite until unlocking.
func TestOwnerLock(t *testing.T) {
	h := newHarness(t, pollMode)
	ana, ben := h.person("Ana"), h.person("Ben")
	ana.ownRoom("Ana")
	ben.open(ana.invite())
	ben.nickname("Ben")
	ana.waitMembers("Ana", "Ben")

	ana.run("lock", chromedp.Click(chromedp.ID("lock-btn"), chromedp.NodeVisible))
	ana.wait("an answer", `document.querySelector('#notices .notice[data-code="unknown_type"]') !== null || document.getElementById('view-room').dataset.locked === 'true'`)
	if eval[bool](ana, `document.querySelector('#notices .notice[data-code="unknown_type"]') !== null`) {
		t.Fatal("the server does not know lock (unknown_type)")
	}
	for _, p := range []*person{ana, ben} {
		p.wait("the room locked", `!document.getElementById('room-locked').hidden && document.getElementById('view-room').dataset.locked === 'true'`)
	}
	if !eval[bool](ana, `document.getElementById('invite-btn').disabled && document.getElementById('lock-btn').getAttribute('aria-pressed') === 'true' && document.getElementById('lock-label').textContent === 'Unlock'`) {
		t.Error("locked, the owner's Invite is not disabled or the toggle does not say Unlock")
	}
	ana.run("unlock", chromedp.Click(chromedp.ID("lock-btn"), chromedp.NodeVisible))
	for _, p := range []*person{ana, ben} {
		p.wait("the room unlocked", `document.getElementById('room-locked').hidden && document.getElementById('view-room').dataset.locked === 'false'`)
	}
	ana.invite()
}

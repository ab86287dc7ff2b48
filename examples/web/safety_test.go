package web_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestSafetyCode: the safety code shows as eight words, each in a box of
// its own, to read aloud one at a time (on a laptop in one row, on a phone
// in two rows of four), the same for Ana and Ben, with its digits in the
// explanation. The code covers who holds the room's keys (mlsScheme), so
// Ana's page, which showed it before Ben joined, tells her it changed,
// once; Ben's, which first showed it with him in, does not. When the code
// Ben's tab showed before is not the one it computes now (here: the tab
// kept another), his page says so, in the conversation and beside the
// code, until he looks at what it means.
func TestSafetyCode(t *testing.T) {
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
			const groups = `[...document.querySelectorAll('#safety .group')].map((g) => g.textContent)`
			ben.wait("the code in words", groups+`.length === 8`)
			// Ana's page moves on to the code with Ben in once it has
			// admitted him.
			ana.wait("the same code", `document.getElementById('safety-digits').textContent === `+jsq(eval[string](ben, `document.getElementById('safety-digits').textContent`)))
			ana.wait("the code in words", groups+`.length === 8`)
			bg, ag := eval[[]string](ben, groups), eval[[]string](ana, groups)
			if strings.Join(bg, " ") != strings.Join(ag, " ") {
				t.Errorf("Ben's words %q, Ana's %q", bg, ag)
			}
			for _, w := range bg {
				if !regexp.MustCompile(`^[a-z]{3,7}$`).MatchString(w) {
					t.Errorf("safety word %q", w)
				}
			}
			digits := eval[string](ben, `document.getElementById('safety-digits').textContent`)
			if !regexp.MustCompile(`^\d{4}( \d{4}){4}$`).MatchString(digits) || digits != eval[string](ana, `document.getElementById('safety-digits').textContent`) {
				t.Errorf("the digits in the explanation: %q", digits)
			}
			if eval[bool](ben, `document.getElementById('safety-changed').checkVisibility()`) {
				t.Error("a code just shown is said to have changed")
			}
			// Rows: the words' boxes by their top edge.
			rows := eval[[]int](ben, `Object.values([...document.querySelectorAll('#safety .group')].reduce((m, g) => { const y = Math.round(g.getBoundingClientRect().top); m[y] = (m[y] || 0) + 1; return m; }, {}))`)
			want := "[8]"
			if vp.mobile {
				want = "[4 4]"
			}
			if got := fmt.Sprint(rows); got != want {
				t.Errorf("words per row %s, want %s: %s", got, want, ben.pageState())
			}

			// Ben's tab kept another code: the one it computes after a
			// reload differs.
			eval[bool](ben, `(sessionStorage.setItem('epchat.safety.'+`+jsq(room)+`, JSON.stringify('0000 0000 0000 0000 0000')), true)`)
			ben.run("reload", chromedp.Reload())
			ben.wait("the room again", `document.body.dataset.conn === 'ready' && !document.getElementById('view-room').hidden`)
			ben.wait("told of the change", `document.getElementById('safety-changed').checkVisibility() && [...document.querySelectorAll('#log-wrap .notice-line')].some((li) => li.textContent.startsWith('The safety code changed.'))`)
			ben.run("what it means", chromedp.Click(chromedp.CSS(`#safety-explain summary`), chromedp.NodeVisible))
			ben.wait("the change seen", `!document.getElementById('safety-changed').checkVisibility()`)
			ben.run("reload", chromedp.Reload())
			ben.wait("the room again", `document.body.dataset.conn === 'ready' && document.querySelectorAll('#safety .group').length === 8`)
			if n := eval[int](ben, `[...document.querySelectorAll('#log-wrap .notice-line')].filter((li) => li.textContent.startsWith('The safety code changed.')).length`); n != 1 {
				t.Errorf("after another reload with the same code, Ben's page tells of %d changes, want the one", n)
			}
			if n := eval[int](ana, `[...document.querySelectorAll('#log-wrap .notice-line')].filter((li) => li.textContent.startsWith('The safety code changed.')).length`); n != 1 {
				t.Errorf("Ana's page, whose code changed once (Ben joined), tells of %d changes", n)
			}
		})
	}
}

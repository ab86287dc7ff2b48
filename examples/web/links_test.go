package web_test

import (
	"fmt"
	"slices"
	"testing"
)

// shownLink is a link in a message bubble as the page made it.
type shownLink struct {
	Href   string `json:"href"`
	Text   string `json:"text"`
	Rel    string `json:"rel"`
	Target string `json:"target"`
}

// bubble is what the page made of one message's text.
type bubble struct {
	Text  string      `json:"text"`
	Links []shownLink `json:"links"`
	// Other lists every element in the bubble that is not a plain link,
	// and every attribute of a link but href, rel and target.
	Other []string `json:"other"`
}

// TestLinks: Ana writes web addresses, and things that only look like
// links or are built to attack the page. Both pages make http and https
// addresses clickable, opening in a new tab with rel="noopener
// noreferrer", and leave everything else as the text it is: no other
// scheme, no markup from the text, no attribute smuggled in.
func TestLinks(t *testing.T) {
	tests := []struct {
		text  string
		links []string // the hrefs, in order
	}{
		{
			text:  "See https://example.com/path?q=1&r=2#frag, then reply.",
			links: []string{"https://example.com/path?q=1&r=2#frag"},
		},
		{
			text:  "Docs at http://example.org/wiki/Foo_(bar).",
			links: []string{"http://example.org/wiki/Foo_(bar)"},
		},
		{
			text:  "Two: https://a.example and HTTPS://B.EXAMPLE/x!",
			links: []string{"https://a.example/", "https://b.example/x"},
		},
		{
			text: "javascript:alert(document.domain)",
		},
		{
			text: "Click JaVaScRiPt:alert(1) or vbscript:msgbox(1)",
		},
		{
			text: "data:text/html,<script>alert(1)</script>",
		},
		{
			text: "ftp://example.com/f mailto:a@example.com file:///etc/passwd //example.com/x",
		},
		{
			text: "http:// and https:// and https://[::1 alone",
		},
		{
			text:  `<a href="javascript:alert(1)">https://evil.example</a>`,
			links: []string{"https://evil.example/"},
		},
		{
			text:  `https://evil.example/"onmouseover="alert(1)" x='y'`,
			links: []string{"https://evil.example/"},
		},
		{
			text: `<img src=x onerror="alert(1)"> <b>bold</b>`,
		},
	}
	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			h := newHarness(t, pollMode)
			ana, ben := h.person("Ana"), h.person("Ben")
			ben.screen(vp)
			ana.ownRoom("Ana")
			ben.open(ana.invite())
			ben.nickname("Ben")
			ben.waitMembers("Ana", "Ben")
			for _, tt := range tests {
				ana.say(tt.text)
			}
			for _, p := range []*person{ana, ben} {
				p.waitMessage("Ana", tests[len(tests)-1].text)
				got := eval[[]bubble](p, `[...document.querySelectorAll('#log-wrap li.msg .bubble')].map((b) => ({
					text: b.textContent,
					links: [...b.querySelectorAll('a')].map((a) => ({href: a.href, text: a.textContent, rel: a.rel, target: a.target})),
					other: [...b.querySelectorAll('*')].flatMap((el) => el.tagName !== 'A' || el.children.length > 0
						? [el.tagName]
						: [...el.attributes].map((at) => at.name).filter((n) => !['href', 'rel', 'target'].includes(n))),
				}))`)
				if len(got) != len(tests) {
					t.Fatalf("%s's page shows %d messages, want %d", p.name, len(got), len(tests))
				}
				for i, tt := range tests {
					b := got[i]
					if b.Text != tt.text {
						t.Errorf("%s's page shows %q as %q", p.name, tt.text, b.Text)
					}
					var hrefs []string
					for _, l := range b.Links {
						hrefs = append(hrefs, l.Href)
						if l.Rel != "noopener noreferrer" || l.Target != "_blank" {
							t.Errorf("%s's page: link %q has rel=%q target=%q", p.name, l.Href, l.Rel, l.Target)
						}
					}
					if !slices.Equal(hrefs, tt.links) {
						t.Errorf("%s's page makes links %q of %q, want %q", p.name, hrefs, tt.text, tt.links)
					}
					if len(b.Other) > 0 {
						t.Errorf("%s's page made %v of %q", p.name, b.Other, tt.text)
					}
				}
			}
			if n := eval[int](ben, `window.__problems.length`); n != 0 {
				t.Error(fmt.Sprint(eval[[]string](ben, `window.__problems`)))
			}
		})
	}
}

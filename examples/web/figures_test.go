package web_test

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// mlsLib adds to e2eHelper (loaded first, with T.advURL the Hub itself: no
// adversary here) what the figures need: now, a clock that tabs of one
// machine share (ms, sub-millisecond); when each send frame leaves the
// Client and each message frame arrives, before the Client reads it; and
// when each message was shown.
const mlsLib = `(async () => {
	T.now = () => performance.timeOrigin + performance.now();
	T.arrivals = [];
	T.sends = [];
	class TimedWS extends WebSocket {
		send(data) {
			if (typeof data === 'string' && data.startsWith('{"type":"send"')) T.sends.push(T.now());
			super.send(data);
		}
		constructor(u) {
			super(u);
			this.addEventListener('message', (e) => {
				if (typeof e.data === 'string' && e.data.startsWith('{"type":"message"')) T.arrivals.push(T.now());
			});
		}
	}
	const mk = T.mk;
	T.mk = (name, nick) => mk(name, nick, { WebSocket: TimedWS });
	T.shown = {}; // body -> when this tab's Client emitted it
	return true;
})()`

// TestRoomOfTenFigures measures what issue 13 asks of authenticated rooms
// with ten people, each in a browser of their own (ten Chromium processes
// on this machine): send to display (from send to each other member's
// message event, median over 21 messages × 9 receivers), a join with its
// keys (the tenth member, from join to holding the keys), and a leave's
// rotation (from leave to every remaining member in the new epoch). It
// asserts no time: it logs the figures for client/README.md, and runs only
// with EPCHAT_FIGURES=1 (about a minute):
//
//	EPCHAT_FIGURES=1 go test -run TestRoomOfTenFigures -v ./web
func TestRoomOfTenFigures(t *testing.T) {
	if os.Getenv("EPCHAT_FIGURES") != "1" {
		t.Skip("figures only: EPCHAT_FIGURES=1")
	}
	h := newHarness(t, pollMode)
	names := []string{"ana", "ben", "cleo", "dev", "eli", "fay", "gus", "hana", "ivo", "jo"}
	if k, err := strconv.Atoi(os.Getenv("EPCHAT_FIGURES_ROOM")); err == nil && k >= 2 && k <= 10 {
		names = names[:k] // a smaller room, to compare
	}
	last := len(names) - 1
	tabs := make([]*person, len(names))
	oneBrowser := os.Getenv("EPCHAT_FIGURES_TABS") == "1" // tabs of one browser, not a browser each
	for i, n := range names {
		if i > 0 && oneBrowser {
			tabs[i] = tabOf(tabs[0], n)
			tabs[i].open(h.url + "/libtest")
			tabs[i].wait("the page", `document.readyState === 'complete'`)
			if !eval[bool](tabs[i], libHelper) {
				t.Fatal("libHelper did not load")
			}
		} else {
			tabs[i] = h.libPage(n)
		}
		js[bool](tabs[i], `T.advURL = T.wsURL; return true;`)
		if !eval[bool](tabs[i], e2eHelper) || !eval[bool](tabs[i], mlsLib) {
			t.Fatal("the helpers did not load")
		}
	}
	ana := tabs[0]
	room := js[string](ana, `const c = await T.mk('ana', 'Ana'); return (await c.create()).id;`)
	r := jsq(room)
	ana.wait("Ana's keys", `T.admitted('ana', `+r+`)`)
	var join float64
	for i, p := range tabs[1:] {
		inv := js[map[string]any](ana, `const i = await C.ana.invite(`+r+`); return { token: i.token, secret: i.secret };`)
		join = js[float64](p, fmt.Sprintf(`
			const c = await T.mk(%q, %q);
			const t0 = T.now();
			await c.join({ token: %q, secret: %q });
			while (!(await T.admitted(%q, %s))) await new Promise((f) => setTimeout(f, 2));
			return T.now() - t0;`, names[i+1], names[i+1], inv["token"], inv["secret"], names[i+1], r))
	}
	for _, p := range tabs {
		p.wait("everyone in the roster", fmt.Sprintf(`C[Object.keys(C)[0]].room(%s).crypto.roster().length === %d`, r, len(names)))
	}

	// Send to display.
	for i, p := range tabs[1:] {
		js[bool](p, fmt.Sprintf(`C[%q].on('message', (e) => { T.shown[e.body] = T.now(); }); T.arrivals = []; return true;`, names[i+1]))
	}
	const n = 21
	sent := js[[]float64](ana, fmt.Sprintf(`
		const out = [];
		for (let i = 0; i < %d; i++) {
			const t0 = T.now();
			await C.ana.send(%s, 'ping ' + i);
			out.push(t0);
			await new Promise((f) => setTimeout(f, 100)); // one at a time
		}
		return out;`, n, r))
	if left := js[[]float64](ana, `return T.sends.slice(-`+strconv.Itoa(n)+`);`); len(left) == n {
		out := make([]float64, n)
		for i := range out {
			out[i] = left[i] - sent[i]
		}
		slices.Sort(out)
		t.Logf("send to the frame leaving Ana's Client median %.1f ms", out[n/2])
	}
	var lat, wire, open []float64
	for _, p := range tabs[1:] {
		p.wait("every ping", fmt.Sprintf(`Object.keys(T.shown).length === %d`, n))
		shown := js[map[string]float64](p, `return T.shown;`)
		arr := js[[]float64](p, `return T.arrivals;`)
		for i, t0 := range sent {
			lat = append(lat, shown[fmt.Sprintf("ping %d", i)]-t0)
			if len(arr) == len(sent) {
				wire = append(wire, arr[i]-t0)
				open = append(open, shown[fmt.Sprintf("ping %d", i)]-arr[i])
			}
		}
	}
	slices.Sort(lat)
	slices.Sort(wire)
	slices.Sort(open)
	if len(wire) > 0 {
		t.Logf("send to arrival median %.1f ms, arrival to display median %.1f ms (%d samples)", wire[len(wire)/2], open[len(open)/2], len(wire))
	}
	costs := js[map[string]float64](ana, `
		const cr = C.ana.room(`+r+`).crypto;
		let t = T.now();
		for (let i = 0; i < 10; i++) JSON.stringify(cr.save());
		const save = (T.now() - t) / 10;
		t = T.now();
		for (let i = 0; i < 10; i++) await cr.mls.seal({ v: 1, body: 'x' }, 0);
		const seal = (T.now() - t) / 10;
		return { save, seal };`)
	t.Logf("costs in Ana's tab: save %.2f ms, seal %.2f ms", costs["save"], costs["seal"])

	// A leave's rotation: Jo leaves; every other member moves on.
	epochs := js[float64](ana, `return (await C.ana.verification(`+r+`)).epoch;`)
	t0 := js[float64](tabs[last], fmt.Sprintf(`const t0 = T.now(); await C[%q].leave(%s); return t0;`, names[last], r))
	var rot float64
	for i, p := range tabs[:last] {
		at := js[float64](p, fmt.Sprintf(`
			while ((await C[%q].verification(%s)).epoch <= %v) await new Promise((f) => setTimeout(f, 1));
			return T.now();`, names[i], r, epochs))
		rot = max(rot, at-t0)
	}
	t.Logf("figures, room of %d, one browser each: join with keys (last member) %.0f ms; send to display median %.1f ms (p90 %.1f, max %.1f, %d samples); leave rotation %.0f ms (%s)",
		len(names), join, lat[len(lat)/2], lat[len(lat)*9/10], lat[len(lat)-1], len(lat), rot, time.Now().Format(time.DateOnly))
}

// tabOf opens a tab in p's browser, as another person.
func tabOf(p *person, name string) *person {
	p.t.Helper()
	ctx, cancel := chromedp.NewContext(p.ctx)
	p.t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		p.t.Fatalf("%s: a new tab: %v", name, err)
	}
	return &person{t: p.t, h: p.h, name: name, ctx: ctx}
}

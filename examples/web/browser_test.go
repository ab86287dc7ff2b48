package web_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/epchat-go/epchat"
	"github.com/epchat-go/epchat/epchattest"
	"github.com/epchat-go/epchat/examples/web"
)

// These tests drive a real headless Chromium (Debian's, found at
// /usr/bin/chromium or through $EPCHAT_CHROMIUM) against a real Hub over
// loopback. Without the browser they skip, except under CI=true, where
// they fail: a CI run must not pass without having looked at the page.

// stepTimeout bounds each wait on the page. The waits poll the DOM; none
// of them sleeps for a fixed time.
const stepTimeout = 10 * time.Second

func chromiumPath(t *testing.T) string {
	t.Helper()
	candidates := []string{os.Getenv("EPCHAT_CHROMIUM"), "/usr/bin/chromium", "chromium", "chromium-browser"}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	msg := "no Chromium found (tried $EPCHAT_CHROMIUM, /usr/bin/chromium, chromium, chromium-browser); install it with: apt-get install -y chromium"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// harness is one Hub with the demo page, served over loopback behind a
// tap, and the Chromium binary to visit it with.
type harness struct {
	t    *testing.T
	hub  *epchat.Hub
	mode connMode
	// url is the page, through the tap: the browsers never reach the
	// server but through it.
	url      string
	tap      *tap
	chromium string
	// opts made hub; serving is the Hub the page's connections reach.
	opts    []epchat.Option
	serving atomic.Pointer[epchat.Hub]
	// down refuses every new connection with 503, as a server that is
	// down behind its proxy.
	down atomic.Bool
}

// restart shuts the Hub down and serves a new one, made with the same
// options, in its place: a server restarted, which knows none of the
// sessions and rooms of the one before.
func (h *harness) restart() {
	h.t.Helper()
	old := h.hub
	h.hub = newHub(h.t, h.opts...)
	h.serving.Store(h.hub)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := old.Shutdown(ctx); err != nil {
		h.t.Fatalf("Shutdown: %v", err)
	}
}

// connMode is how the Hub serves the page's connections (see
// epchat.WithNetpoll). The two differ in everything below the protocol,
// reading, writing and tearing down, so the suite drives both.
type connMode int

const (
	// pollMode is the default, and what deployments get on Linux: the
	// Hub takes each socket out of its net.Conn, epoll says when it has
	// bytes, writes never block, and no goroutine waits per connection.
	pollMode connMode = iota
	// blockingMode is epchat.WithNetpoll(false), as for a connection the
	// Hub cannot take over (TLS, a wrapped net.Conn): a goroutine blocked
	// in Read per connection, and blocking writes.
	blockingMode
)

func (m connMode) String() string {
	if m == blockingMode {
		return "blocking mode"
	}
	return "poll mode"
}

func newHarness(t *testing.T, mode connMode, opts ...epchat.Option) *harness {
	t.Helper()
	path := chromiumPath(t)
	if mode == pollMode && runtime.GOOS != "linux" {
		t.Logf("no poller on %s: the Hub serves this test in blocking mode", runtime.GOOS)
		mode = blockingMode
	}
	opts = append(slices.Clip(opts), epchat.WithNetpoll(mode == pollMode))
	hub := newHub(t, opts...)
	h := &harness{t: t, hub: hub, mode: mode, opts: opts, chromium: path}
	h.serving.Store(hub)
	mux := http.NewServeMux()
	// Through serving, so that restart can put a new Hub in its place.
	mux.Handle("/chat/", http.StripPrefix("/chat", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.down.Load() {
			http.Error(w, "down for the test", http.StatusServiceUnavailable)
			return
		}
		h.serving.Load().ServeHTTP(w, r)
	})))
	mux.Handle("/", web.Handler())
	// A blank page of the same origin, without the demo's scripts, for the
	// library's own tests (client_lib_test.go): it imports lib/ itself.
	mux.HandleFunc("/libtest", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<!doctype html><meta charset=utf-8><title>epchat client library tests</title>")
	})
	// The server listens on a plain TCP listener: a wrapped one would hand
	// the Hub connections it cannot poll. The tap sits on the wire instead.
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	tp := newTap(t, srv.Listener.Addr().String())
	h.url, h.tap = tp.URL(), tp
	return h
}

// readLoopFunc is the Hub's blocking-mode reader (blockingSocket.serve in
// internal/transport) as a goroutine's stack names it: one goroutine per connection
// runs it in blocking mode, none in poll mode.
const readLoopFunc = "github.com/epchat-go/epchat/internal/transport.(*blockingSocket).serve("

// readLoops counts the goroutines of this process running readLoopFunc.
func readLoops() int64 {
	var b strings.Builder
	pprof.Lookup("goroutine").WriteTo(&b, 2)
	var n int64
	for g := range strings.SplitSeq(b.String(), "\n\n") {
		if strings.Contains(g, readLoopFunc) {
			n++
		}
	}
	return n
}

// checkMode fails the test unless the Hub serves its open connections in
// the harness's mode: in poll mode no goroutine reads a connection, so a
// listener wrapped again (or anything else that keeps the Hub from taking
// the sockets over) fails here; in blocking mode each connection has its
// read loop, which shows the probe still finds it. Call it with the page
// connected. The probe sees the whole process: it relies on the tests of
// this package not running in parallel.
func (h *harness) checkMode() {
	h.t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for {
		conns, loops := h.hub.Stats().Connections, readLoops()
		switch {
		case conns > 0 && h.mode == pollMode:
			if loops != 0 {
				h.t.Fatalf("%d goroutine(s) in %s with %d connection(s) open: the Hub does not serve them in poll mode", loops, readLoopFunc, conns)
			}
			return
		case conns > 0 && loops == conns:
			return
		case time.Now().After(deadline):
			h.t.Fatalf("%s: %d connection(s) open and %d goroutine(s) in %s, want one each", h.mode, conns, loops, readLoopFunc)
		}
		// Polling real state: a connection being set up or torn down has
		// its goroutine a moment before or after it counts.
		time.Sleep(10 * time.Millisecond)
	}
}

// person is one person at their own browser: a Chromium process with a
// profile of its own, so nothing (storage, cookies, cache) is shared with
// the others. (Tabs of one browser in separate browser contexts would be
// lighter, but chromedp v0.23 loses the replies of any tab but the first
// after a cross-site navigation with Chromium 156.)
type person struct {
	t    *testing.T
	h    *harness
	name string
	ctx  context.Context
}

func (h *harness) person(name string) *person {
	h.t.Helper()
	profile := h.t.TempDir() // removed after the browser exits: cleanups run last-in first-out
	ctx, cancel := context.WithCancel(context.Background())
	h.t.Cleanup(cancel)
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(h.chromium),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("host-resolver-rules", "MAP insecure.example 127.0.0.1"),
		chromedp.Flag("lang", "en-US"),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 800),
	)
	h.t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(alloc)
	h.t.Cleanup(cancelBrowser)
	if err := chromedp.Do(bctx); err != nil {
		h.t.Fatalf("%s: starting Chromium: %v", name, err)
	}
	p := &person{t: h.t, h: h, name: name, ctx: bctx}
	p.run("set up the tab", p.viewport(1280, 800, 1, false), watchProblems())
	h.t.Cleanup(p.checkProblems)
	return p
}

// watchProblems makes every page of the tab record, before its own scripts
// run, what a user would never see but must not happen: a script error, a
// rejected promise nobody handled, a Content-Security-Policy violation.
func watchProblems() chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
			Source: `window.__problems = [];
				addEventListener('error', e => __problems.push('error: ' + e.message));
				addEventListener('unhandledrejection', e => __problems.push('unhandled rejection: ' + e.reason));
				document.addEventListener('securitypolicyviolation', e => __problems.push('CSP: ' + e.violatedDirective + ' ' + e.blockedURI));`,
		})
		return err
	})
}

// checkProblems fails the test if the page recorded a problem.
func (p *person) checkProblems() {
	if p.t.Failed() {
		return
	}
	ctx, cancel := context.WithTimeout(p.ctx, 2*time.Second)
	defer cancel()
	problems, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.__problems ?? []`))
	if err != nil {
		p.t.Errorf("%s: reading the page's problems: %v", p.name, err)
		return
	}
	for _, pr := range problems {
		p.t.Errorf("%s's page: %s", p.name, pr)
	}
}

func (p *person) viewport(width, height int64, scale float64, mobile bool) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Call(ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
			Width:             width,
			Height:            height,
			DeviceScaleFactor: scale,
			Mobile:            mobile,
		})
		return chromedp.Void{}, err
	}
}

func (p *person) darkMode() chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			// Reduced motion turns off the transitions, so the screenshot
			// that follows shows the dark colours, not a blend.
			Features: []*emulation.MediaFeature{
				{Name: "prefers-color-scheme", Value: "dark"},
				{Name: "prefers-reduced-motion", Value: "reduce"},
			},
		})
		return chromedp.Void{}, err
	}
}

func (p *person) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.t.Fatalf("%s: %s: %v%s", p.name, what, err, p.pageState())
	}
}

// value runs an action that returns a value.
func value[T any](p *person, what string, a chromedp.Action[T]) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		p.t.Fatalf("%s: %s: %v%s", p.name, what, err, p.pageState())
	}
	return v
}

// pageState describes the page for a failure message.
func (p *person) pageState() string {
	ctx, cancel := context.WithTimeout(p.ctx, 2*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {
		const vis = [...document.querySelectorAll('.view')].filter(v => !v.hidden).map(v => v.id);
		const notices = [...document.querySelectorAll('#notices .notice')].map(n => n.textContent);
		const log = [...document.querySelectorAll('#log-wrap li')].map(li => li.textContent.slice(0, 80));
		return JSON.stringify({conn: document.body.dataset.conn, views: vis, notices, log, url: location.href});
	})()`))
	if err != nil {
		return ""
	}
	return "\npage: " + s
}

// wait polls a JavaScript expression until it is truthy.
func (p *person) wait(what, expr string) {
	p.t.Helper()
	value(p, "wait for "+what, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingInterval(25*time.Millisecond),
		chromedp.WithPollingTimeout(stepTimeout)))
}

// eval evaluates a JavaScript expression, awaiting it if it is a promise.
func eval[T any](p *person, expr string) T {
	p.t.Helper()
	return value(p, "evaluate "+expr, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

func (p *person) open(u string) {
	p.t.Helper()
	p.run("open "+u, chromedp.Navigate(u))
}

// pressEnter presses and releases Enter on the focused element as a
// keyboard does: the key down carries the text "\r", so a page that
// cancels the keydown gets no newline. (chromedp's kb.Enter sends the text
// in a separate char event, which a real keyboard never does.)
func pressEnter() chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		down := input.DispatchKeyEventParams{
			Type:                  input.DispatchKeyEventTypeKeyDown,
			Key:                   "Enter",
			Code:                  "Enter",
			Text:                  "\r",
			UnmodifiedText:        "\r",
			WindowsVirtualKeyCode: 13,
			NativeVirtualKeyCode:  13,
		}
		up := down
		up.Type = input.DispatchKeyEventTypeKeyUp
		up.Text, up.UnmodifiedText = "", ""
		for _, ev := range []input.DispatchKeyEventParams{down, up} {
			if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, ev); err != nil {
				return err
			}
		}
		return nil
	})
}

// nickname types a nickname and presses Enter, and waits to be
// identified; then the page is connected, and the Hub must serve it in the
// harness's mode.
func (p *person) nickname(nick string) {
	p.t.Helper()
	p.run("type a nickname",
		chromedp.WaitVisible(chromedp.ID("nick-input")),
		chromedp.SendKeys(chromedp.ID("nick-input"), nick),
		pressEnter(),
	)
	p.wait("identified", `document.body.dataset.conn === 'ready'`)
	p.h.checkMode()
}

// screen sets p's browser to the viewport vp.
func (p *person) screen(vp viewport) {
	p.t.Helper()
	p.run("the screen", p.viewport(vp.width, vp.height, vp.scale, vp.mobile))
}

// ownRoom has p open the page, take nick and create a room.
func (p *person) ownRoom(nick string) {
	p.t.Helper()
	p.open(p.h.url)
	p.nickname(nick)
	p.createRoom()
}

func (p *person) createRoom() {
	p.t.Helper()
	p.run("create a room", chromedp.Click(chromedp.ID("create-btn"), chromedp.NodeVisible))
	p.wait("the room", `!document.getElementById('view-room').hidden && document.getElementById('view-room').dataset.owner === 'true'`)
}

// invite makes an invite link and returns it.
func (p *person) invite() string {
	p.t.Helper()
	before := eval[string](p, `document.getElementById('invite-link').value`)
	p.run("make an invite", chromedp.Click(chromedp.ID("invite-btn"), chromedp.NodeVisible))
	p.wait("the invite link", fmt.Sprintf(`(() => { const v = document.getElementById('invite-link').value; return v.includes('#join=') && v !== %q; })()`, before))
	return eval[string](p, `document.getElementById('invite-link').value`)
}

// say types text into the composer and presses Enter.
func (p *person) say(text string) {
	p.t.Helper()
	p.run("type a message", chromedp.SendKeys(chromedp.ID("composer-input"), text), pressEnter())
	p.waitMessage(p.name, text)
	if left := eval[string](p, `document.getElementById('composer-input').value`); left != "" {
		p.t.Errorf("%s: composer holds %q after sending, want it empty", p.name, left)
	}
}

// paste puts text into the composer as a paste would, at once, and
// presses Enter.
func (p *person) paste(text string) {
	p.t.Helper()
	p.run("paste a message",
		chromedp.Focus(chromedp.ID("composer-input")),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := cdp.Call(ctx, t, input.InsertText, input.InsertTextParams{Text: text})
			return err
		}),
		pressEnter(),
	)
}

func (p *person) waitMessage(from, text string) {
	p.t.Helper()
	p.wait(fmt.Sprintf("message %q from %s", short(text), from), fmt.Sprintf(`[...document.querySelectorAll('#log-wrap li.msg')].some(li =>
		li.querySelector('.who').textContent === %q && li.querySelector('.bubble').textContent === %q)`, from, text))
}

type shownMessage struct {
	Seq  int    `json:"seq"`
	From string `json:"from"`
	Text string `json:"text"`
	Mine bool   `json:"mine"`
}

func (p *person) messages() []shownMessage {
	p.t.Helper()
	return eval[[]shownMessage](p, `[...document.querySelectorAll('#log-wrap li.msg')].map(li => ({
		seq: Number(li.dataset.seq),
		from: li.querySelector('.who').textContent,
		text: li.querySelector('.bubble').textContent,
		mine: li.classList.contains('mine'),
	}))`)
}

type shownMember struct {
	Name  string `json:"name"`
	Owner bool   `json:"owner"`
}

func (p *person) members() []shownMember {
	p.t.Helper()
	return eval[[]shownMember](p, `[...document.querySelectorAll('#member-list li')].map(li => ({
		name: li.querySelector('.name').textContent,
		owner: li.dataset.owner === 'true',
	}))`)
}

func (p *person) waitMembers(names ...string) {
	p.t.Helper()
	p.wait("members "+strings.Join(names, ", "), fmt.Sprintf(`JSON.stringify([...document.querySelectorAll('#member-list li .name')].map(n => n.textContent)) === %q`, mustJSON(names)))
}

func (p *person) text(sel string) string {
	p.t.Helper()
	return eval[string](p, fmt.Sprintf(`document.querySelector(%q)?.textContent ?? ''`, sel))
}

func (p *person) screenshot(name string) []byte {
	p.t.Helper()
	png := value(p, "screenshot", chromedp.CaptureScreenshot())
	dir := os.Getenv("EPCHAT_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "epchat-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		p.t.Fatal(err)
	}
	file := filepath.Join(dir, name)
	if err := os.WriteFile(file, png, 0o644); err != nil {
		p.t.Fatal(err)
	}
	p.t.Logf("screenshot: %s", file)
	return png
}

// short cuts text for a failure message.
func short(text string) string {
	if r := []rune(text); len(r) > 60 {
		return string(r[:60]) + "…"
	}
	return text
}

func mustJSON(v []string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, s := range v {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q", s)
	}
	b.WriteByte(']')
	return b.String()
}

// inviteParts splits an invite link into its token and key text.
func inviteParts(t *testing.T, link string) (token, key string) {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatalf("invite link %q: %v", link, err)
	}
	v, ok := strings.CutPrefix(u.Fragment, "join=")
	if !ok {
		t.Fatalf("invite link %q: no #join= fragment", link)
	}
	v, _, _ = strings.Cut(v, "&") // the expiry (exp=), not secret
	token, key, ok = strings.Cut(v, ".")
	if !ok || token == "" || key == "" {
		t.Fatalf("invite link %q: fragment is not token.key", link)
	}
	if u.RawQuery != "" || strings.Contains(u.Path, token) {
		t.Fatalf("invite link %q: token outside the fragment", link)
	}
	return token, key
}

// joinRequest is the join request a client of the protocol sends for an
// invite link: its token, and for an mls-v1 link (a 22-character secret
// and a 6-character check) the verifier of the secret, derived here as
// PROTOCOL.md says (HMAC-SHA-256 keyed with the secret, over "epchat-v1
// verifier"): the server finds the invite only with it.
func joinRequest(t *testing.T, link string) map[string]any {
	t.Helper()
	token, key := inviteParts(t, link)
	req := map[string]any{"type": "join", "token": token}
	if len(key) == 28 {
		s, err := base64.RawURLEncoding.DecodeString(key[:22])
		if err != nil {
			t.Fatalf("invite link %q: secret: %v", link, err)
		}
		m := hmac.New(sha256.New, s)
		m.Write([]byte("epchat-v1 verifier"))
		req["verifier"] = base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	return req
}

// TestChat is the whole story: a room, two invites, a conversation with
// history for the latecomer, closing; and a tap in front of the server
// that shows it saw neither a word of it nor the key. The Hub runs in poll mode, as
// deployments do by default.
func TestChat(t *testing.T) {
	h := newHarness(t, pollMode)
	ana, ben, cleo := h.person("Ana"), h.person("Ben"), h.person("Cleo")

	ana.ownRoom("Ana")
	if got := ana.members(); len(got) != 1 || got[0] != (shownMember{Name: "Ana", Owner: true}) {
		t.Errorf("Ana's members after create = %+v, want Ana as owner", got)
	}

	link1 := ana.invite()
	token1, key1 := inviteParts(t, link1)
	if !strings.HasPrefix(link1, h.url+"/#join=") {
		t.Errorf("invite link %q does not point at the page %s", link1, h.url)
	}
	ana.wait("the expiry countdown", `/^[45]:[0-5][0-9]$/.test(document.getElementById('invite-countdown')?.textContent ?? '')`)
	ana.run("copy the link", chromedp.Click(chromedp.ID("copy-btn")))
	ana.wait("the copy confirmation", `document.getElementById('copy-label').textContent === 'Copied'`)

	// Ben opens the link: the page asks for a nickname, says why, and
	// drops the fragment from the address bar before anything else.
	ben.open(link1)
	ben.wait("the invitation", `!document.getElementById('nick-invited').hidden`)
	if hash := eval[string](ben, `location.hash`); hash != "" {
		t.Errorf("Ben's address bar still has fragment %q after reading the invite", hash)
	}
	ben.nickname("Ben")
	ben.wait("the room", `!document.getElementById('view-room').hidden`)
	ben.waitMembers("Ana", "Ben")
	ana.waitMembers("Ana", "Ben")
	if got := ben.members(); !got[0].Owner || got[1].Owner {
		t.Errorf("Ben's members = %+v, want Ana marked owner and Ben not", got)
	}
	ana.wait("Ana's safety words", `/^[a-z]+( [a-z]+){7}$/.test(document.getElementById('safety').textContent)`)
	ben.wait("Ben's safety words", `/^[a-z]+( [a-z]+){7}$/.test(document.getElementById('safety').textContent)`)
	anaCode, benCode := ana.text("#safety"), ben.text("#safety")
	if anaCode != benCode {
		t.Errorf("safety codes differ: Ana %q, Ben %q", anaCode, benCode)
	}
	if eval[bool](ben, `!document.getElementById('invite-btn').hidden || !document.getElementById('close-btn').hidden`) {
		t.Error("Ben, not the owner, is offered Invite or Close room")
	}

	// The conversation. Every sentence is a canary for the tap.
	said := []struct {
		who  *person
		text string
	}{
		{ana, "Morning! I made this room to plan Saturday's hike."},
		{ben, "Great idea. Is the ridge trail open again?"},
		{ana, "It reopened last week. Parking fills up early, though."},
	}
	for _, s := range said {
		s.who.say(s.text)
		for _, other := range []*person{ana, ben} {
			other.waitMessage(s.who.name, s.text)
		}
	}
	for _, p := range []*person{ana, ben} {
		got := p.messages()
		if len(got) != len(said) {
			t.Fatalf("%s sees %d messages, want %d: %+v", p.name, len(got), len(said), got)
		}
		// In seq order; the room's key changes (MLS commits) take seqs
		// of their own, so the messages' are not 1, 2, 3.
		for i, m := range got {
			if m.From != said[i].who.name || m.Text != said[i].text || m.Mine != (said[i].who == p) || i > 0 && m.Seq <= got[i-1].Seq {
				t.Errorf("%s's message %d = %+v, want %q from %s", p.name, i, m, said[i].text, said[i].who.name)
			}
		}
	}
	seqs := func(ms []shownMessage) []int {
		var out []int
		for _, m := range ms {
			out = append(out, m.Seq)
		}
		return out
	}
	if a, b := seqs(ana.messages()), seqs(ben.messages()); fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("Ana's seqs %v, Ben's %v", a, b)
	}

	// Cleo joins later and gets the conversation so far from Ana's page.
	link2 := ana.invite()
	token2, _ := inviteParts(t, link2)
	cleo.open(link2)
	cleo.nickname("Cleo")
	cleo.waitMembers("Ana", "Ben", "Cleo")
	for _, s := range said {
		cleo.waitMessage(s.who.name, s.text)
	}
	late := []struct {
		who  *person
		text string
	}{
		{cleo, "Hi both, thanks for the invite! I can drive, there is room for three."},
		{ben, "Perfect. Half past seven at the station?"},
		{ana, "Works for me. See you there."},
	}
	for _, s := range late {
		s.who.say(s.text)
		for _, other := range []*person{ana, ben, cleo} {
			other.waitMessage(s.who.name, s.text)
		}
	}
	all := append(said, late...)
	for _, p := range []*person{ana, ben, cleo} {
		got := p.messages()
		if len(got) != len(all) {
			t.Errorf("%s sees %d messages, want %d (each once): %+v", p.name, len(got), len(all), got)
			continue
		}
		for i, m := range got {
			if i > 0 && m.Seq <= got[i-1].Seq || m.From != all[i].who.name || m.Text != all[i].text {
				t.Errorf("%s's message %d = %+v, want %q from %s after seq %d", p.name, i, m, all[i].text, all[i].who.name, got[max(i-1, 0)].Seq)
			}
		}
		if a := seqs(ana.messages()); fmt.Sprint(a) != fmt.Sprint(seqs(got)) {
			t.Errorf("Ana's seqs %v, %s's %v", a, p.name, seqs(got))
		}
	}

	// A picture of the room, with a fresh invite on show.
	ana.invite()
	eval[chromedp.Void](ana, `document.activeElement.blur()`)
	ana.run("a taller window", ana.viewport(1280, 1000, 1, false))
	ana.wait("the latest message in view", `(() => { const w = document.getElementById('log-wrap'); return w.scrollHeight - w.scrollTop - w.clientHeight < 2; })()`)
	png := ana.screenshot("room.png")
	// EPCHAT_UPDATE_SCREENSHOT=1 makes the README's pictures:
	// docs/screenshot.png (a laptop) and docs/screenshot-phone.png.
	update := func(name string, png []byte) {
		if os.Getenv("EPCHAT_UPDATE_SCREENSHOT") == "1" {
			if err := os.WriteFile(filepath.Join("..", "..", "docs", name), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	update("screenshot.png", png)
	cleo.run("dark mode", cleo.darkMode())
	cleo.screenshot("room-dark.png")
	ben.run("phone size", ben.viewport(390, 844, 2, true))
	eval[chromedp.Void](ben, `document.activeElement.blur()`)
	// The conversation scrolled to its end, as after a message.
	ben.wait("the latest message in view", `(() => { const w = document.getElementById('log-wrap'); w.scrollTop = w.scrollHeight; return w.scrollHeight - w.scrollTop - w.clientHeight < 2; })()`)
	update("screenshot-phone.png", ben.screenshot("room-phone.png"))

	// Ana closes the room, after confirming; everyone is told.
	ana.run("close the room", chromedp.Click(chromedp.ID("close-btn"), chromedp.NodeVisible))
	ana.wait("the confirmation", `document.getElementById('confirm').open`)
	ana.run("confirm", chromedp.Click(chromedp.ID("confirm-ok"), chromedp.NodeVisible))
	for _, p := range []*person{ana, ben, cleo} {
		p.wait("the closed banner", `!document.getElementById('room-banner').hidden && document.getElementById('room-banner').dataset.reason === 'owner'`)
		p.wait("the composer gone", `document.getElementById('composer').hidden`)
	}
	if got := ben.text("#room-banner-text"); got != "The owner closed this room." {
		t.Errorf("Ben's banner = %q", got)
	}
	if got := ana.text("#room-banner-text"); !strings.Contains(got, "You closed this room") {
		t.Errorf("Ana's banner = %q", got)
	}

	// What the server saw.
	cp, err := h.tap.decode()
	if err != nil {
		t.Fatalf("decoding the tap: %v", err)
	}
	assertControls(t, cp, "Cleo", token1)
	var secrets []secret
	for _, s := range all {
		secrets = append(secrets, secret{"message " + s.text, []byte(s.text)})
	}
	secrets = append(secrets, keySecrets(t, key1)...)
	assertUnseen(t, cp, secrets)
	for _, tok := range []string{token1, token2} {
		for _, r := range cp.Requests {
			if strings.Contains(r, tok) {
				t.Errorf("the invite token was in an HTTP request the server read:\n%s", r)
			}
		}
	}
}

type secret struct {
	name  string
	bytes []byte
}

// keySecrets is what of an invite link's secret must never cross the
// server: the page's links (mls-v1) carry a 128-bit invite secret and a
// check over token and secret, 22 + 6 base64url characters; an aes-gcm-v1
// link, the 32-byte room key.
func keySecrets(t *testing.T, keyText string) []secret {
	t.Helper()
	if len(keyText) == 28 {
		raw, err := base64.RawURLEncoding.DecodeString(keyText[:22])
		if err != nil || len(raw) != 16 {
			t.Fatalf("secret %q in the invite link is not 16 bytes of base64url and a check (%v)", keyText, err)
		}
		return []secret{
			{"the secret as in the link", []byte(keyText)},
			{"the secret without its check", []byte(keyText[:22])},
			{"the raw secret", raw},
		}
	}
	raw, err := base64.RawURLEncoding.DecodeString(keyText)
	if err != nil || len(raw) != 32 {
		t.Fatalf("key %q in the invite link is not 32 bytes of base64url (%v)", keyText, err)
	}
	return []secret{
		{"the key as in the link", []byte(keyText)},
		{"the raw key", raw},
	}
}

// assertControls checks that the tap does see what it should, so that
// finding nothing else means something: the nickname in the unmasked client
// frames, and the invite token in the frames both ways.
func assertControls(t *testing.T, cp *capture, nickname, token string) {
	t.Helper()
	if len(cp.Requests) == 0 || len(cp.ClientData) == 0 {
		t.Fatalf("the tap saw %d HTTP requests and %d WebSocket connections", len(cp.Requests), len(cp.ClientData))
	}
	client := bytes.Join(cp.ClientData, nil)
	server := bytes.Join(cp.ServerData, nil)
	if !bytes.Contains(client, []byte(`"nickname":"`+nickname+`"`)) {
		t.Errorf("control: the tap did not find hello with nickname %q in the unmasked client frames", nickname)
	}
	if !bytes.Contains(client, []byte(token)) || !bytes.Contains(server, []byte(token)) {
		t.Errorf("control: the tap did not find the invite token in the WebSocket frames both ways")
	}
	if !bytes.Contains(client, []byte(`"type":"send"`)) {
		t.Errorf("control: the tap saw no send request")
	}
}

// assertUnseen checks that no form of any secret crossed the server:
// neither the raw bytes each way nor the unmasked client frames.
func assertUnseen(t *testing.T, cp *capture, secrets []secret) {
	t.Helper()
	hay := [][]byte{cp.Raw, bytes.Join(cp.ClientData, nil), bytes.Join(cp.ServerData, nil)}
	for _, s := range secrets {
		for _, form := range forms(s.bytes) {
			for _, h := range hay {
				if i := bytes.Index(h, form); i >= 0 {
					t.Errorf("the server saw %s (as %q)", s.name, form)
				}
			}
		}
	}
}

// TestInvites follows invites beyond the happy path: a newcomer gets a
// history too long for one request, in several; an invite already used,
// one that never existed and one that expired are refused with the same
// clear notice; the owner's countdown ends; a room nobody writes in closes.
// The Hub runs on a manual clock, so time passes without sleeping, and in
// blocking mode, so that a conversation between several browsers, and the
// tap's checks, go through that mode too.
func TestInvites(t *testing.T) {
	clock := epchattest.NewClock(time.Now())
	h := newHarness(t, blockingMode, epchat.WithClock(clock))
	ana, ben, cleo := h.person("Ana"), h.person("Ben"), h.person("Cleo")
	ana.ownRoom("Ana")

	// Three pasted texts of 6000 characters: 18 kB of history, more than
	// one history request may carry.
	var long []string
	for i := range 3 {
		text := fmt.Sprintf("Pasted notes, part %d:%s", i+1, strings.Repeat(fmt.Sprintf(" line %d of the minutes.", i+1), 250))
		long = append(long, text)
		ana.paste(text)
		ana.waitMessage("Ana", text)
	}
	link := ana.invite()
	ben.open(link)
	ben.nickname("Ben")
	ana.waitMembers("Ana", "Ben")
	for _, text := range long {
		ben.waitMessage("Ana", text)
	}
	if got := ben.messages(); len(got) != len(long) {
		t.Errorf("Ben sees %d messages, want the %d of the history once each", len(got), len(long))
	}
	cp, err := h.tap.decode()
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(bytes.Join(cp.ClientData, nil), []byte(`"type":"history"`)); n < 2 {
		t.Errorf("the history went in %d request(s), want it split in several", n)
	}
	var secrets []secret
	for _, text := range long {
		secrets = append(secrets, secret{"a pasted text", []byte(text[:200])})
	}
	_, key := inviteParts(t, link)
	assertUnseen(t, cp, append(secrets, keySecrets(t, key)...))

	refused := func(t *testing.T, link string) {
		t.Helper()
		// Refused before Cleo is asked for a nickname (check_invite).
		cleo.open(link)
		cleo.wait("the refusal", `document.querySelector('#notices .notice[data-code="invite_invalid"]') !== null`)
		got := cleo.text(`#notices .notice[data-code="invite_invalid"] p`)
		if !strings.Contains(got, "used already, or it expired") {
			t.Errorf("notice = %q, want it to say used or expired", got)
		}
		if !eval[bool](cleo, `document.body.dataset.view === 'nick' && document.getElementById('nick-invited').hidden`) {
			t.Errorf("after a refused invite Cleo is asked to join: %s", cleo.pageState())
		}
		cleo.run("dismiss", chromedp.Click(chromedp.CSS(`#notices .notice[data-code="invite_invalid"] .dismiss`)))
	}
	t.Run("used", func(t *testing.T) {
		refused(t, link)
	})
	t.Run("unknown", func(t *testing.T) {
		refused(t, h.url+"/#join="+strings.Repeat("A", 43)+"."+key)
	})
	t.Run("damaged", func(t *testing.T) {
		cleo.open(h.url + "/#join=" + strings.Repeat("A", 43) + ".too-short")
		cleo.wait("the notice", `document.querySelector('#notices .notice[data-code="invite_damaged"]') !== null`)
		if hash := eval[string](cleo, `location.hash`); hash != "" {
			t.Errorf("the damaged link's fragment %q stayed in the address bar", hash)
		}
		cleo.run("dismiss", chromedp.Click(chromedp.CSS(`#notices .notice[data-code="invite_damaged"] .dismiss`)))
	})
	t.Run("expired", func(t *testing.T) {
		late := ana.invite()
		clock.Advance(6 * time.Minute)
		// Ana's page learns the server's time from its next message and
		// shows the invite as expired.
		ana.say("Anyone else coming?")
		ana.wait("the invite expired", `document.getElementById('invite-panel').classList.contains('expired')`)
		if got := ana.text("#invite-expiry"); !strings.Contains(got, "Expired") {
			t.Errorf("invite expiry = %q, want it to say expired", got)
		}
		refused(t, late)
	})
	ana.waitMembers("Ana", "Ben")

	t.Run("idle", func(t *testing.T) {
		clock.Advance(11 * time.Minute)
		for _, p := range []*person{ana, ben} {
			p.wait("the closed banner", `document.getElementById('room-banner').dataset.reason === 'idle' && !document.getElementById('room-banner').hidden`)
			if got := p.text("#room-banner-text"); !strings.Contains(got, "nobody wrote") {
				t.Errorf("%s's banner = %q", p.name, got)
			}
		}
	})
}

// mlsSealed is how long the page's scheme (client/mls/scheme.js,
// sealedLength) says n bytes of message JSON ({"v":1,"body":…}) are once
// sealed, at most: the
// envelope, base64url of the JSON with its ids, nickname and signature;
// the MLS frame around it, padded to at least 256 bytes; base64url again,
// behind the frame's prefix.
func mlsSealed(n int) int {
	ceil43 := func(x int) int { return (x*4 + 2) / 3 }
	envelope := ceil43(n+360) + 87
	return 7 + ceil43(max(256, envelope)+160)
}

// TestServerLimits shows the page going by the limits the server tells in
// welcome rather than the defaults: a room's seats, and the longest message,
// which the page works out after encryption. The server takes texts of
// 2,000 bytes; sealed (mls-v1), a body of n bytes travels as an MLS frame
// around its signed envelope, at most mlsSealed(n+17) bytes, so the longest
// body the page may send is the largest n with mlsSealed(n+17) <= 2000. A page
// that went by the default 16 KiB, or compared the text itself with 2,000,
// would send the longer ones and get too_large.
func TestServerLimits(t *testing.T) {
	const maxMessage = 2000
	h := newHarness(t, pollMode, epchat.WithMaxMessageSize(maxMessage), epchat.WithMaxMembers(3))
	ana := h.person("Ana")
	ana.ownRoom("Ana")
	if got := ana.text("#member-count"); got != "· 1 of 3" {
		t.Errorf("member count = %q, want the server's 3 seats", got)
	}

	longest := 0
	for mlsSealed(longest+1+len(`{"v":1,"body":""}`)) <= maxMessage {
		longest++
	}
	tests := []struct {
		name string
		text string
		fits bool
	}{
		{
			name: "the longest that fits",
			text: strings.Repeat("x", longest),
			fits: true,
		},
		{
			name: "one byte more",
			text: strings.Repeat("x", longest+1),
			fits: false,
		},
		{
			name: "two-byte characters that fit",
			text: strings.Repeat("é", (longest-1)/2) + "x",
			fits: true,
		},
		{
			name: "two-byte characters one byte over",
			text: strings.Repeat("é", longest/2+1),
			fits: false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := h.hub.Stats()
			ana.run("paste a message",
				chromedp.Focus(chromedp.ID("composer-input")),
				chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
					_, err := cdp.Call(ctx, t, input.InsertText, input.InsertTextParams{Text: tt.text})
					return err
				}),
			)
			shown := eval[bool](ana, `!document.getElementById('composer-limit').hidden && document.getElementById('composer-input').getAttribute('aria-invalid') === 'true'`)
			if shown == tt.fits {
				t.Errorf("%d bytes: too-long warning shown = %v before sending, want %v", len(tt.text), shown, !tt.fits)
			}
			ana.run("send", pressEnter())
			if tt.fits {
				ana.waitMessage("Ana", tt.text)
				ana.wait("the composer emptied", `document.getElementById('composer-input').value === '' && document.getElementById('composer-limit').hidden`)
				return
			}
			ana.wait("the refusal", `document.querySelector('#notices .notice[data-code="too_large"]') !== null`)
			if got := eval[string](ana, `document.getElementById('composer-input').value`); got != tt.text {
				t.Errorf("composer holds %d bytes after the refusal, want the %d bytes typed", len(got), len(tt.text))
			}
			after := h.hub.Stats()
			if after.Messages != before.Messages || after.Errors["too_large"] != before.Errors["too_large"] {
				t.Errorf("the page sent a text too long for the server: messages %d -> %d, too_large %d -> %d",
					before.Messages, after.Messages, before.Errors["too_large"], after.Errors["too_large"])
			}
			ana.run("dismiss", chromedp.Click(chromedp.CSS(`#notices .notice[data-code="too_large"] .dismiss`)))
			eval[bool](ana, `(() => { const c = document.getElementById('composer-input'); c.value = ''; return c.dispatchEvent(new Event('input')); })()`)
			ana.wait("the warning gone", `document.getElementById('composer-limit').hidden`)
		})
	}
	if got := len(ana.messages()); got != 2 {
		t.Errorf("Ana sees %d messages, want the 2 that fit", got)
	}
}

// TestInviteCountdownOnServerClock shows the invite countdown running on
// the server's clock, set hours apart from the browser's: the page counts
// from the now of the invite reply, not from its own clock, which would
// show the invite expired (server behind) or hours long (server ahead).
func TestInviteCountdownOnServerClock(t *testing.T) {
	tests := []struct {
		name string
		skew time.Duration
	}{
		{
			name: "server behind",
			skew: -3 * time.Hour,
		},
		{
			name: "server ahead",
			skew: 3 * time.Hour,
		},
	}
	const fresh = `/^(4:[0-5][0-9]|5:00)$/.test(document.getElementById('invite-countdown')?.textContent ?? '') && !document.getElementById('invite-panel').classList.contains('expired')`
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := epchattest.NewClock(time.Now().Add(tt.skew))
			h := newHarness(t, pollMode, epchat.WithClock(clock))
			ana := h.person("Ana")
			ana.ownRoom("Ana")
			ana.invite()
			ana.wait("a five-minute countdown", fresh)

			// The server's clock moves on, the browser's does not: a new
			// invite still counts down from five minutes.
			clock.Advance(4 * time.Minute)
			ana.invite()
			ana.wait("a five-minute countdown after the server's clock moved", fresh)

			// What the page learns of the server's time (here from the
			// reply to a message) moves the countdown too.
			clock.Advance(4 * time.Minute)
			ana.say("Still there?")
			ana.wait("the countdown at one minute", `/^(0:5[0-9]|1:00)$/.test(document.getElementById('invite-countdown')?.textContent ?? '')`)
			clock.Advance(time.Minute)
			ana.say("Anyone?")
			ana.wait("the invite expired", `document.getElementById('invite-panel').classList.contains('expired')`)
		})
	}
}

// TestReconnect follows a member's connection: a reload keeps the seat,
// unnoticed by the others, with the conversation and the key; a dropped
// connection comes back by itself; when the owner leaves, the next member
// becomes the owner; when the server shuts down, everyone is told. It runs
// in both modes: how a connection ends, and how the Hub notices, is where
// they differ most.
func TestReconnect(t *testing.T) {
	for _, mode := range []connMode{pollMode, blockingMode} {
		t.Run(mode.String(), func(t *testing.T) {
			testReconnect(t, mode)
		})
	}
}

func testReconnect(t *testing.T, mode connMode) {
	h := newHarness(t, mode)
	ana, ben := h.person("Ana"), h.person("Ben")
	ana.ownRoom("Ana")
	ben.open(ana.invite())
	ben.nickname("Ben")
	ana.waitMembers("Ana", "Ben")
	ana.say("Before the reload.")
	ben.waitMessage("Ana", "Before the reload.")
	code := ben.text("#safety")

	ben.run("reload", chromedp.Reload())
	ben.wait("identified again", `document.body.dataset.conn === 'ready'`)
	ben.wait("the room", `!document.getElementById('view-room').hidden`)
	ben.waitMessage("Ana", "Before the reload.")
	ben.waitMembers("Ana", "Ben")
	if got := ben.text("#safety"); got != code {
		t.Errorf("safety code after reload = %q, want %q", got, code)
	}
	ana.say("After the reload.")
	ben.waitMessage("Ana", "After the reload.")
	ben.say("Still here.")
	ana.waitMessage("Ben", "Still here.")

	// The network drops every connection: both pages reconnect with their
	// session token and carry on.
	h.tap.dropAll()
	for _, p := range []*person{ana, ben} {
		p.wait("the drop noticed", `document.body.dataset.conn !== 'ready'`)
	}
	for _, p := range []*person{ana, ben} {
		p.wait("reconnected", `document.body.dataset.conn === 'ready'`)
	}
	h.checkMode()
	ben.say("And back after a drop.")
	ana.waitMessage("Ben", "And back after a drop.")

	leftNotices := eval[int](ana, `[...document.querySelectorAll('#log-wrap .notice-line')].filter(li => li.textContent.includes('Ben') && li.textContent.includes('left')).length`)
	if leftNotices != 0 {
		t.Errorf("Ana saw Ben leave %d times; a reload or a drop within the grace should go unnoticed", leftNotices)
	}
	if got := ana.messages(); len(got) != 4 {
		t.Errorf("Ana sees %d messages, want 4: %+v", len(got), got)
	}

	// The owner leaves: Ben is the owner now, and may invite and close.
	ana.run("leave", chromedp.Click(chromedp.ID("leave-btn"), chromedp.NodeVisible))
	ana.wait("the confirmation", `document.getElementById('confirm').open`)
	ana.run("confirm", chromedp.Click(chromedp.ID("confirm-ok"), chromedp.NodeVisible))
	ana.wait("back at the start", `!document.getElementById('view-lobby').hidden`)
	ben.waitMembers("Ben")
	ben.wait("ownership", `document.getElementById('view-room').dataset.owner === 'true' && !document.getElementById('invite-btn').hidden && !document.getElementById('close-btn').hidden`)
	if got := ben.members(); len(got) != 1 || !got[0].Owner {
		t.Errorf("Ben's members = %+v, want Ben as owner", got)
	}

	// The server shuts down: the room closes with a reason, and the page
	// says why the connection went.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.hub.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	ben.wait("the closed banner", `document.getElementById('room-banner').dataset.reason === 'shutdown' && !document.getElementById('room-banner').hidden`)
	ben.wait("the shutdown notice", `document.querySelector('#notices .notice[data-code="shutdown"]') !== null`)
}

// TestInsecureContext shows that over plain HTTP from an address other
// than localhost, where browsers offer no Web Crypto, the page says so and
// does not connect.
func TestInsecureContext(t *testing.T) {
	h := newHarness(t, pollMode)
	p := h.person("Eve")
	u, err := url.Parse(h.url)
	if err != nil {
		t.Fatal(err)
	}
	p.open("http://insecure.example:" + u.Port() + "/")
	p.wait("the warning", `!document.getElementById('view-insecure').hidden`)
	if eval[bool](p, `window.isSecureContext`) {
		t.Fatal("insecure.example counts as a secure context; the test shows nothing")
	}
	for _, id := range []string{"view-nick", "view-lobby", "view-room"} {
		if !eval[bool](p, fmt.Sprintf(`document.getElementById(%q).hidden`, id)) {
			t.Errorf("#%s is shown in an insecure context", id)
		}
	}
	cp, err := h.tap.decode()
	if err != nil {
		t.Fatal(err)
	}
	if len(cp.ClientData) != 0 {
		t.Errorf("the page opened %d WebSocket connections in an insecure context", len(cp.ClientData))
	}
}

// TestCrypto checks the client library's crypto module, which the page
// serves under lib/, in the browser: what it seals opens only with the same
// key and additional data, untouched.
func TestCrypto(t *testing.T) {
	h := newHarness(t, pollMode)
	p := h.person("Ana")
	p.open(h.url)
	p.wait("the page", `document.body.dataset.view === 'nick'`)
	res := eval[map[string]any](p, `(async () => {
		const c = await import('./lib/crypto.js');
		const key = await c.newRoomKey();
		const text = await c.exportKey(key);
		const other = await c.importKey(await c.exportKey(await c.newRoomKey()));
		const same = await c.importKey(text);
		const ad = c.messageAD('room1', 'm1');
		const a = await c.seal(key, ad, {v: 1, body: 'secret words'});
		const b = await c.seal(key, ad, {v: 1, body: 'secret words'});
		const fails = async (f) => { try { await f(); return false; } catch { return true; } };
		const flipped = a.slice(0, 30) + (a[30] === 'A' ? 'B' : 'A') + a.slice(31);
		return {
			keyLength: c.b64urlDecode(text).length,
			roundTrip: (await c.open(same, ad, a)).body,
			fresh: a !== b && a.slice(0, 16) !== b.slice(0, 16),
			otherRoom: await fails(() => c.open(same, c.messageAD('room2', 'm1'), a)),
			otherSender: await fails(() => c.open(same, c.messageAD('room1', 'm2'), a)),
			asHistory: await fails(() => c.open(same, c.historyAD('room1', 'm1', 'm2'), a)),
			otherKey: await fails(() => c.open(other, ad, a)),
			tampered: await fails(() => c.open(same, ad, flipped)),
			code: await c.safetyCode(text),
			codeAgain: await c.safetyCode(text),
		};
	})()`)
	want := map[string]any{
		"keyLength":   float64(32),
		"roundTrip":   "secret words",
		"fresh":       true,
		"otherRoom":   true,
		"otherSender": true,
		"asHistory":   true,
		"otherKey":    true,
		"tampered":    true,
	}
	for k, v := range want {
		if res[k] != v {
			t.Errorf("%s = %v, want %v", k, res[k], v)
		}
	}
	if res["code"] != res["codeAgain"] {
		t.Errorf("safety code not stable: %v, %v", res["code"], res["codeAgain"])
	}
}

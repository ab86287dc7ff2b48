package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// chromium returns the path of Debian's Chromium ($EPCHAT_CHROMIUM first).
// Without it the browser test skips, except under CI=true, where it fails.
func chromium(t *testing.T) string {
	t.Helper()
	for _, c := range []string{os.Getenv("EPCHAT_CHROMIUM"), "/usr/bin/chromium", "chromium", "chromium-browser"} {
		if c == "" {
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	msg := "no Chromium found; install it with: apt-get install -y chromium"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// The live stats page, in a real headless Chromium, shows the messages a
// client sends: the total, and a peak in the messages-per-second chart.
func TestStatsPageInChromium(t *testing.T) {
	path := chromium(t)
	addr := startDemo(t).HTTP

	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	ctx, cancelTimeout := context.WithTimeout(ctx, 30*time.Second)
	t.Cleanup(cancelTimeout)

	if err := chromedp.Do(ctx,
		watchProblems(),
		chromedp.Navigate("http://"+addr+"/stats"),
		waitJS(`document.getElementById('status').textContent === 'live' && document.getElementById('messages-total').textContent === '0'`),
	); err != nil {
		t.Fatalf("the page did not come up: %v", err)
	}

	url := "ws://" + addr + "/chat/"
	_, ben, room := seatPair(t, url, url)
	for i := range 20 {
		call(ben, fmt.Sprintf(`{"type":"send","id":"s%d","room":"%s","text":"hi"}`, i, room), "sent")
	}

	if err := chromedp.Do(ctx, waitJS(
		`document.getElementById('messages-total').textContent === '20' && Number(document.getElementById('chart').dataset.peak) > 0`,
	)); err != nil {
		t.Fatalf("the page did not show the messages: %v", err)
	}
	type pageState struct {
		Peak     string
		Samples  string
		Conns    string
		Rooms    string
		Points   string
		Problems []string
	}
	st, err := chromedp.Run(ctx, chromedp.Evaluate[pageState](`({
		Peak: document.getElementById('chart').dataset.peak,
		Samples: document.getElementById('chart').dataset.samples,
		Conns: document.querySelector('[data-field="Connections"]').textContent,
		Rooms: document.querySelector('[data-field="Rooms"]').textContent,
		Points: document.getElementById('rate-line').getAttribute('points'),
		Problems: window.__problems ?? [],
	})`))
	if err != nil {
		t.Fatal(err)
	}
	if st.Conns != "2" || st.Rooms != "1" {
		t.Errorf("tiles: %s connections, %s rooms; want 2 and 1", st.Conns, st.Rooms)
	}
	if n, _ := strconv.Atoi(st.Samples); n < 1 || st.Points == "" {
		t.Errorf("chart: %s samples, points %q", st.Samples, st.Points)
	}
	for _, p := range st.Problems {
		t.Errorf("the page: %s", p)
	}
	t.Logf("peak %s messages/s over %s samples", st.Peak, st.Samples)
}

// watchProblems makes the page record, before its own script runs, a
// script error, an unhandled rejection or a Content-Security-Policy
// violation (such as a fetch to another origin).
func watchProblems() chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, _ *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
			Source: `window.__problems = [];
				addEventListener('error', e => __problems.push('error: ' + e.message));
				addEventListener('unhandledrejection', e => __problems.push('unhandled rejection: ' + e.reason));
				document.addEventListener('securitypolicyviolation', e => __problems.push('CSP: ' + e.violatedDirective + ' ' + e.blockedURI));`,
		})
		return chromedp.Void{}, err
	}
}

// waitJS polls the page until expr is true. It polls, it never sleeps a
// fixed time; the context bounds the wait.
func waitJS(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(50*time.Millisecond))
}

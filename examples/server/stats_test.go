package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/epchat-go/epchat/epchattest"
)

// scrape fetches /metrics and returns every sample of the epchat metrics,
// keyed as written: `epchat_rooms_closed_total{reason="owner"}`.
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %s", resp.Status)
	}
	out := make(map[string]float64)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "epchat_") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("/metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// wantMetrics scrapes until every metric named has its value: a closed
// socket is counted once the server has torn it down, on its own time.
func wantMetrics(t *testing.T, addr, step string, want map[string]float64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := scrape(t, addr)
		var wrong []string
		for k, v := range want {
			if g, ok := got[k]; !ok || g != v {
				wrong = append(wrong, fmt.Sprintf("%s = %v, want %v", k, got[k], v))
			}
		}
		if len(wrong) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s", step, strings.Join(wrong, "; "))
		}
		time.Sleep(10 * time.Millisecond) // polling the server's state, not a time rule
	}
}

// /metrics moves with a client session: connections up, messages up, the
// room closed by its owner, a client gone.
func TestMetricsFollowTheSession(t *testing.T) {
	addr := startDemo(t).HTTP
	wantMetrics(t, addr, "a new server", map[string]float64{
		"epchat_connections":    0,
		"epchat_messages_total": 0,
		"epchat_rooms":          0,
	})

	url := "ws://" + addr + "/chat/"
	ana, ben := epchattest.Dial(t, url), epchattest.Dial(t, url)
	call(ana, `{"type":"hello","id":"1","nickname":"Ana"}`, "welcome")
	call(ben, `{"type":"hello","id":"1","nickname":"Ben"}`, "welcome")
	wantMetrics(t, addr, "two clients said hello", map[string]float64{
		"epchat_connections":              2,
		"epchat_connections_opened_total": 2,
		"epchat_users":                    2,
	})

	room := call(ana, `{"type":"create","id":"2"}`, "joined")["room"].(string)
	tok := call(ana, `{"type":"invite","id":"3","room":"`+room+`"}`, "invite")["token"].(string)
	call(ben, `{"type":"join","id":"2","token":"`+tok+`"}`, "joined")
	ana.MustNext("member_joined")
	wantMetrics(t, addr, "a room of two", map[string]float64{
		"epchat_rooms":                  1,
		"epchat_rooms_opened_total":     1,
		"epchat_members":                2,
		"epchat_invites_made_total":     1,
		"epchat_invites_redeemed_total": 1,
	})

	for i := range 3 {
		call(ana, fmt.Sprintf(`{"type":"send","id":"s%d","room":"%s","text":"hi"}`, i, room), "sent")
		ben.MustNext("message")
	}
	wantMetrics(t, addr, "three messages", map[string]float64{
		"epchat_messages_total":   3,
		"epchat_deliveries_total": 4, // member_joined to Ana, 3 messages to Ben
	})

	call(ana, `{"type":"close","id":"4","room":"`+room+`"}`, "ok")
	ana.MustNext("room_closed")
	ben.MustNext("room_closed")
	wantMetrics(t, addr, "the owner closed the room", map[string]float64{
		"epchat_rooms": 0,
		`epchat_rooms_closed_total{reason="owner"}`: 1,
		`epchat_rooms_closed_total{reason="idle"}`:  0,
		"epchat_members": 0,
	})

	ben.Conn.Close()
	wantMetrics(t, addr, "Ben's socket closed", map[string]float64{
		"epchat_connections": 1,
		`epchat_connections_closed_total{reason="client"}`: 1,
	})

	// The JSON the stats page polls says the same.
	resp, err := http.Get("http://" + addr + "/stats.json")
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Messages    int
		Connections int
		RoomsClosed struct{ Owner int }
	}
	err = json.NewDecoder(resp.Body).Decode(&s)
	resp.Body.Close()
	if err != nil || s.Messages != 3 || s.Connections != 1 || s.RoomsClosed.Owner != 1 {
		t.Fatalf("/stats.json: %+v, %v", s, err)
	}
}

// The stats page and its files are served with a strict CSP and load
// nothing from anywhere else.
func TestStatsPageIsSelfContained(t *testing.T) {
	addr := startDemo(t).HTTP
	for _, tt := range []struct {
		name string
		path string
		typ  string
		has  string
	}{
		{
			name: "page",
			path: "/stats",
			typ:  "text/html; charset=utf-8",
			has:  "<svg",
		},
		{
			name: "script",
			path: "/stats.js",
			typ:  "text/javascript; charset=utf-8",
			has:  "fetch('stats.json'",
		},
		{
			name: "style",
			path: "/stats.css",
			typ:  "text/css; charset=utf-8",
			has:  "#rate-line",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Get("http://" + addr + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != tt.typ {
				t.Fatalf("%s: %s %q", tt.path, resp.Status, resp.Header.Get("Content-Type"))
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") {
				t.Errorf("CSP: %q", csp)
			}
			if !strings.Contains(string(body), tt.has) {
				t.Errorf("%s has no %q", tt.path, tt.has)
			}
			for _, ext := range []string{"http://", "https://", "//cdn", "@import"} {
				if strings.Contains(string(body), ext) {
					t.Errorf("%s refers to %q: it must load nothing from elsewhere", tt.path, ext)
				}
			}
		})
	}
	// The chat page links to it.
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), `href="stats"`) {
		t.Error("the chat page has no link to the stats page")
	}
}

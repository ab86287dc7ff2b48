package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// TestDemoServer runs the demo as a newcomer would, on each store, and
// chats through it with a client that knows only PROTOCOL.md. Nothing may
// be written to disk: the working directory stays empty.
func TestDemoServer(t *testing.T) {
	for _, store := range []string{"memory", "sqlite"} {
		t.Run(store, func(t *testing.T) {
			dir := t.TempDir()
			t.Chdir(dir)
			t.Setenv("TMPDIR", dir)
			chatThroughDemo(t, "-store", store)
			if files, _ := os.ReadDir(dir); len(files) > 0 {
				t.Fatalf("the demo wrote %d files, first %s", len(files), files[0].Name())
			}
		})
	}
}

func chatThroughDemo(t *testing.T, args ...string) {
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), io.Discard, ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatal(err)
	}

	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "epchat") {
		t.Fatalf("page: %d %.80q", resp.StatusCode, page)
	}

	url := "ws://" + addr + "/chat/"
	ana, ben := dial(t, url), dial(t, url)
	call(t, ana, `{"type":"hello","id":"1","nickname":"Ana"}`, "welcome")
	call(t, ben, `{"type":"hello","id":"1","nickname":"Ben"}`, "welcome")
	room := call(t, ana, `{"type":"create","id":"2"}`, "joined")["room"].(string)
	tok := call(t, ana, `{"type":"invite","id":"3","room":"`+room+`"}`, "invite")["token"].(string)
	call(t, ben, `{"type":"join","id":"2","token":"`+tok+`"}`, "joined")
	read(t, ana, "member_joined")
	call(t, ben, `{"type":"send","id":"3","room":"`+room+`","text":"hi Ana"}`, "sent")
	if m := read(t, ana, "message"); m["text"] != "hi Ana" {
		t.Fatalf("message: %v", m)
	}

	cancel() // Ctrl-C
	for _, c := range []net.Conn{ana, ben} {
		read(t, c, "room_closed")
		if _, err := wsutil.ReadServerText(c); !isClose(err, ws.StatusGoingAway) {
			t.Fatalf("after shutdown: %v, want close 1001", err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func isClose(err error, code ws.StatusCode) bool {
	ce, ok := err.(wsutil.ClosedError)
	return ok && ce.Code == code
}

func dial(t *testing.T, url string) net.Conn {
	t.Helper()
	c, _, _, err := ws.Dial(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func call(t *testing.T, c net.Conn, req, want string) map[string]any {
	t.Helper()
	if err := wsutil.WriteClientText(c, []byte(req)); err != nil {
		t.Fatal(err)
	}
	return read(t, c, want)
}

func read(t *testing.T, c net.Conn, want string) map[string]any {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	p, err := wsutil.ReadServerText(c)
	if err != nil {
		t.Fatalf("waiting for %s: %v", want, err)
	}
	var e map[string]any
	json.Unmarshal(p, &e)
	if e["type"] != want {
		t.Fatalf("got %s, want %s", p, want)
	}
	return e
}

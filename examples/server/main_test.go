package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/gobwas/ws"
	"go.uber.org/goleak"

	"github.com/epchat-go/epchat/epchattest"
)

// TestMain fails the run if a goroutine outlives the tests, naming it: a
// Hub or server that was not stopped. With EPCHAT_DEMO_MAIN=1 the test
// binary is the demo itself (main, with its signal handling), for
// TestSecondSignalExits.
func TestMain(m *testing.M) {
	if os.Getenv("EPCHAT_DEMO_MAIN") == "1" {
		main()
		return
	}
	goleak.VerifyTestMain(m)
}

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
	ready := make(chan listening, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), io.Discard, io.Discard, ready)
	}()
	var addr string
	select {
	case at := <-ready:
		addr = at.HTTP
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
	ana, ben, room := seatPair(t, url, url)
	call(ben, `{"type":"send","id":"3","room":"`+room+`","text":"hi Ana"}`, "sent")
	if m := ana.MustNext("message"); m["text"] != "hi Ana" {
		t.Fatalf("message: %v", m)
	}

	cancel() // Ctrl-C
	for _, c := range []*epchattest.Client{ana, ben} {
		c.MustNext("room_closed")
		if code := c.CloseCode(); code != ws.StatusGoingAway {
			t.Fatalf("after shutdown: close %d, want 1001", code)
		}
		c.None() // no event between room_closed and the close
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// demo is a demo server that a test runs: where it listens, and its log.
type demo struct {
	listening
	log *logBuffer
}

// startDemo runs the demo server with args on a loopback port (unless
// args say otherwise) until the test ends.
func startDemo(t *testing.T, args ...string) demo {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan listening, 1)
	done := make(chan error, 1)
	d := demo{log: new(logBuffer)}
	go func() { done <- run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), io.Discard, d.log, ready) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	select {
	case d.listening = <-ready:
		return d
	case err := <-done:
		done <- nil // the cleanup's
		t.Fatal(err)
		return demo{}
	}
}

// logBuffer holds what a demo logged; safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// seatPair connects Ana at anaURL and Ben at benURL, Ana creates a room and
// invites Ben, who joins; Ana has seen him join.
func seatPair(t *testing.T, anaURL, benURL string) (ana, ben *epchattest.Client, room string) {
	t.Helper()
	ana, ben = epchattest.Dial(t, anaURL), epchattest.Dial(t, benURL)
	call(ana, `{"type":"hello","id":"1","nickname":"Ana"}`, "welcome")
	call(ben, `{"type":"hello","id":"1","nickname":"Ben"}`, "welcome")
	room = call(ana, `{"type":"create","id":"2"}`, "joined")["room"].(string)
	tok := call(ana, `{"type":"invite","id":"3","room":"`+room+`"}`, "invite")["token"].(string)
	call(ben, `{"type":"join","id":"2","token":"`+tok+`"}`, "joined")
	ana.MustNext("member_joined")
	return ana, ben, room
}

// call sends req, raw JSON as PROTOCOL.md writes it, and returns the next
// event, which must be of type want: nothing else may come first.
func call(c *epchattest.Client, req, want string) epchattest.Event {
	c.SendRaw(req)
	return c.MustNext(want)
}

// Flags that make no sense together stop the demo at startup rather than
// being ignored.
func TestFlagConflicts(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{
			name: "store with redis",
			args: []string{"-store", "sqlite", "-redis", "127.0.0.1:1"},
			want: "-redis replaces -store",
		},
		{
			name: "redis-pipeline without redis",
			args: []string{"-redis-pipeline"},
			want: "-redis-pipeline needs -redis",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ready := make(chan listening, 1)
			done := make(chan error, 1)
			go func() {
				done <- run(ctx, append([]string{"-addr", "127.0.0.1:0"}, tt.args...), io.Discard, io.Discard, ready)
			}()
			select {
			case <-ready:
				cancel()
				<-done
				t.Fatalf("the demo started with %q", tt.args)
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("error %v, want one saying %q", err, tt.want)
				}
			}
		})
	}
}

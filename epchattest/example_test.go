package epchattest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/epchat-go/epchat"
	"github.com/epchat-go/epchat/epchattest"
)

// testChat is a host application's test of its chat: the Hub mounted
// under /chat/ on an httptest server, two people who chat through it, and
// the room's idle timeout, on a clock the test moves. A host runs it from
// a test function: func TestChat(t *testing.T) { testChat(t) }.
func testChat(t testing.TB) {
	clock := epchattest.NewClock(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
	hub, err := epchat.New(epchat.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/chat/", http.StripPrefix("/chat", hub))
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		hub.Shutdown(context.Background())
		srv.Close()
	})
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/chat/"

	ana := epchattest.Dial(t, url)
	ana.Hello("Ana")
	room := ana.MustCall("joined", map[string]any{"type": "create"}).Str("room")
	token := ana.MustCall("invite", map[string]any{"type": "invite", "room": room}).Str("token")

	ben := epchattest.Dial(t, url)
	ben.Hello("Ben")
	ben.MustCall("joined", map[string]any{"type": "join", "token": token})
	ana.Expect("member_joined", room)

	ana.MustCall("sent", map[string]any{"type": "send", "room": room, "text": "hello"})
	if m := ben.Expect("message", room); m.Str("text") != "hello" || m.Str("from") != ana.ID {
		t.Fatalf("ben got %v, want ana's hello", m)
	}

	// Ten quiet minutes: the room closes, and both are told.
	clock.Advance(epchat.DefaultRoomIdleTimeout + time.Second)
	for _, c := range []*epchattest.Client{ana, ben} {
		if e := c.Expect("room_closed", room); e.Str("reason") != epchat.ReasonIdle {
			t.Fatalf("room_closed: %v, want reason idle", e)
		}
	}
}

// Example shows a host application's test of its chat (testChat, which a
// test function calls with its t).
func Example() {}

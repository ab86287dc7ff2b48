package epchat_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"

	"github.com/gobwas/ws"

	"github.com/epchat-go/epchat"
)

// Serve upgrades connections of a listener the host owns, with the same
// rules as ServeHTTP.
func TestServeListener(t *testing.T) {
	hub, err := epchat.New(
		epchat.WithNetpoll(!blockingReads()),
		epchat.WithAuthorize(func(r *http.Request) (string, error) {
			if r.Header.Get("X-User") == "banned" || r.URL.Path != "/chat" {
				return "", errors.New("no")
			}
			return "", nil
		}),
	)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- hub.Serve(ln) }()
	url := "ws://" + ln.Addr().String() + "/chat"

	ana, ben := dial(t, url), dial(t, url)
	ana.hello("Ana")
	ben.hello("Ben")
	room := ana.mustCall("joined", map[string]any{"type": "create"}).str("room")
	tok := ana.mustCall("invite", map[string]any{"type": "invite", "room": room}).str("token")
	ben.mustCall("joined", map[string]any{"type": "join", "token": tok})
	ben.mustCall("sent", map[string]any{"type": "send", "room": room, "text": "over Serve"})
	if e := ana.expect("message", room); e.str("text") != "over Serve" {
		t.Fatalf("message: %v", e)
	}

	status := func(hdr http.Header) int {
		t.Helper()
		_, _, _, err := ws.Dialer{Header: ws.HandshakeHeaderHTTP(hdr)}.Dial(context.Background(), url)
		var se ws.StatusError
		if errors.As(err, &se) {
			return int(se)
		}
		if err != nil {
			t.Fatal(err)
		}
		return http.StatusSwitchingProtocols
	}
	if got := status(http.Header{"Origin": {"https://evil.example"}}); got != http.StatusForbidden {
		t.Errorf("cross-site origin: %d, want 403", got)
	}
	if got := status(http.Header{"X-User": {"banned"}}); got != http.StatusForbidden {
		t.Errorf("refused by the hook: %d, want 403", got)
	}

	if err := hub.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-served; !errors.Is(err, epchat.ErrHubClosed) {
		t.Fatalf("Serve returned %v, want ErrHubClosed", err)
	}
	if code := ana.closeCode(); code != ws.StatusGoingAway {
		t.Fatalf("close code %d, want 1001", code)
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("listener still open after Shutdown")
	}
	checkNoHubGoroutines(t)
}

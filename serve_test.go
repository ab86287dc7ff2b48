package epchat_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/epchat-go/epchat"
	"github.com/epchat-go/epchat/epchattest"
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

	ana, ben := epchattest.Dial(t, url), epchattest.Dial(t, url)
	ana.Hello("Ana")
	ben.Hello("Ben")
	room := ana.MustCall("joined", map[string]any{"type": "create"}).Str("room")
	tok := ana.MustCall("invite", map[string]any{"type": "invite", "room": room}).Str("token")
	ben.MustCall("joined", map[string]any{"type": "join", "token": tok})
	ben.MustCall("sent", map[string]any{"type": "send", "room": room, "text": "over Serve"})
	if e := ana.Expect("message", room); e.Str("text") != "over Serve" {
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
	if code := ana.CloseCode(); code != ws.StatusGoingAway {
		t.Fatalf("close code %d, want 1001", code)
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("listener still open after Shutdown")
	}
	checkNoHubGoroutines(t)
}

// Serve applies the connection limits and WithClientAddr like ServeHTTP:
// 503 before the upgrade, a slot freed when a connection ends.
func TestServeLimits(t *testing.T) {
	hub, err := epchat.New(
		epchat.WithNetpoll(!blockingReads()),
		epchat.WithMaxConnectionsPerAddr(1),
		byTestAddr,
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

	first, err := dialFrom(t, url, "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	first.Hello("nick-first")
	var se ws.StatusError
	if _, err := dialFrom(t, url, "10.0.0.1"); !errors.As(err, &se) || se != http.StatusServiceUnavailable {
		t.Fatalf("second connection from one address: %v, want 503", err)
	}
	if n := hub.Stats().ConnectionsRefused; n != 1 {
		t.Errorf("Stats: %d connections refused, want 1", n)
	}
	other, err := dialFrom(t, url, "10.0.0.2")
	if err != nil {
		t.Fatalf("another address: %v", err)
	}
	other.Hello("nick-other")
	first.Conn.Close()
	waitUntil(t, "the slot freed", func() bool { _, slots := hub.LiveConns(); return slots == 1 })
	again, err := dialFrom(t, url, "10.0.0.1")
	if err != nil {
		t.Fatalf("after the first closed: %v", err)
	}
	again.Hello("nick-again")

	if err := hub.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-served
	if conns, slots := hub.LiveConns(); conns != 0 || slots != 0 {
		t.Fatalf("%d connections, %d slots after Shutdown", conns, slots)
	}
	checkNoHubGoroutines(t)
}

// Serve gives a client that sends its upgrade request slowly the
// handshake timeout, then hangs up: there is no http.Server to do it.
func TestServeSlowHandshake(t *testing.T) {
	hub, err := epchat.New(epchat.WithNetpoll(!blockingReads()), epchat.WithHandshakeTimeout(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go hub.Serve(ln)
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	io.WriteString(nc, "GET /chat HTTP/1.1\r\nHost: x\r\n") // and nothing more
	nc.SetReadDeadline(time.Now().Add(waitFor))
	if _, err := io.ReadAll(nc); err != nil {
		t.Fatalf("the server did not hang up: %v", err)
	}
	if err := hub.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if conns, slots := hub.LiveConns(); conns != 0 || slots != 0 {
		t.Fatalf("%d connections, %d slots", conns, slots)
	}
	checkNoHubGoroutines(t)
}

// TestServeUpgradesUnderWayBounded: connections that send no upgrade
// request are held until the handshake timeout, and the connection limits
// apply only once the request is read. Serve holds at most
// WithMaxConnectionsPerAddr of them from one address: the next gets 503
// at once, without its request being read; once they go, that address is
// served again. Before, every one held a goroutine and a descriptor, and
// 8,000 of them from one address cost the demo server 84 MB.
func TestServeUpgradesUnderWayBounded(t *testing.T) {
	hub, err := epchat.New(
		epchat.WithNetpoll(!blockingReads()),
		epchat.WithMaxConnectionsPerAddr(3),
		epchat.WithHandshakeTimeout(time.Hour), // the idle ones stay
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

	var idle []net.Conn
	for range 3 {
		nc, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, nc)
	}
	// The fourth, accepted after the three: its request is never read.
	extra, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	extra.SetReadDeadline(time.Now().Add(waitFor))
	resp, err := io.ReadAll(extra)
	if err != nil || !strings.HasPrefix(string(resp), "HTTP/1.1 503 ") {
		t.Fatalf("a fourth connection with three upgrades under way from its address: %q, %v; want 503 at once", resp, err)
	}
	if n := hub.Stats().ConnectionsRefused; n != 1 {
		t.Errorf("Stats: %d connections refused, want 1", n)
	}
	for _, nc := range idle {
		nc.Close()
	}
	url := "ws://" + ln.Addr().String() + "/chat"
	waitUntil(t, "the idle connections gone", func() bool {
		c, _, _, err := ws.Dial(context.Background(), url)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	if err := hub.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-served
	checkNoHubGoroutines(t)
}

// emfileListener fails its first Accept as accept4 does when the process
// is out of descriptors (running a test binary out of descriptors would
// break the test itself), then accepts as ln does.
type emfileListener struct {
	net.Listener
	failed bool
}

func (l *emfileListener) Accept() (net.Conn, error) {
	if !l.failed {
		l.failed = true
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

// TestServeOutOfDescriptors: Serve goes on after an accept that failed
// for want of a descriptor, as net/http does. It once returned the error,
// and the demo server stopped.
func TestServeOutOfDescriptors(t *testing.T) {
	hub, err := epchat.New(epchat.WithNetpoll(!blockingReads()))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- hub.Serve(&emfileListener{Listener: ln}) }()
	c := epchattest.Dial(t, "ws://"+ln.Addr().String()+"/chat")
	c.Hello("after-emfile")
	select {
	case err := <-served:
		t.Fatalf("Serve returned %v", err)
	default:
	}
	if err := hub.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-served; !errors.Is(err, epchat.ErrHubClosed) {
		t.Fatalf("Serve after Shutdown: %v", err)
	}
}

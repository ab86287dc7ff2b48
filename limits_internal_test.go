package epchat

import (
	"net/http"
	"testing"
	"time"
)

func TestRemoteAddr(t *testing.T) {
	tests := []struct {
		name       string
		remoteAddr string
		want       string
	}{
		{
			name:       "IPv4",
			remoteAddr: "192.0.2.7:51000",
			want:       "192.0.2.7",
		},
		{
			name:       "IPv4 mapped in IPv6",
			remoteAddr: "[::ffff:192.0.2.7]:51000",
			want:       "192.0.2.7",
		},
		{
			name:       "IPv6 cut to its /64",
			remoteAddr: "[2001:db8:1:2:aaaa:bbbb:cccc:dddd]:443",
			want:       "2001:db8:1:2::/64",
		},
		{
			name:       "IPv6 with a zone",
			remoteAddr: "[fe80::1%eth0]:443",
			want:       "fe80::/64",
		},
		{
			name:       "no port",
			remoteAddr: "192.0.2.7",
			want:       "192.0.2.7",
		},
		{
			name:       "not an address",
			remoteAddr: "pipe",
			want:       "pipe",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: tt.remoteAddr}
			if got := remoteAddr(r); got != tt.want {
				t.Fatalf("remoteAddr(%q) = %q, want %q", tt.remoteAddr, got, tt.want)
			}
		})
	}
}

func TestTokenBucket(t *testing.T) {
	var b tokenBucket
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	take := func(n int) (ok int) {
		for range n {
			if b.take(now, 4, 10) {
				ok++
			}
		}
		return ok
	}
	if got := take(12); got != 10 {
		t.Fatalf("burst: %d taken, want 10", got)
	}
	now = now.Add(time.Second)
	if got := take(5); got != 4 {
		t.Fatalf("after 1s at 4/s: %d taken, want 4", got)
	}
	now = now.Add(time.Hour)
	if got := take(20); got != 10 {
		t.Fatalf("after an hour: %d taken, want the burst (10)", got)
	}
	now = now.Add(-time.Minute) // a clock that steps back takes nothing
	if got := take(1); got != 0 {
		t.Fatalf("clock stepped back: %d taken", got)
	}
}

// The guard keeps an entry for an address only while it holds a
// connection or its failed guesses count.
func TestGuardForgets(t *testing.T) {
	var g guard
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if !g.admit("a", 10, 1) || g.admit("a", 10, 1) {
		t.Fatal("per-address limit of 1 not applied")
	}
	g.guessFailed("b", now, time.Minute)
	g.sweep(now, time.Minute)
	if len(g.conns) != 1 || len(g.guesses) != 1 {
		t.Fatalf("swept live entries: %v, %v", g.conns, g.guesses)
	}
	if !g.guessesBlocked("b", now, 1, time.Minute) {
		t.Fatal("a guess in the window does not count")
	}
	g.release("a")
	g.sweep(now.Add(time.Minute), time.Minute)
	if len(g.conns) != 0 || len(g.guesses) != 0 || g.total != 0 {
		t.Fatalf("entries left after release and window: %v, %v, total %d", g.conns, g.guesses, g.total)
	}
	if g.guessesBlocked("b", now.Add(time.Minute), 1, time.Minute) {
		t.Fatal("a guess outside the window still counts")
	}
}

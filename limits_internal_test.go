package epchat

import (
	"net/http"
	"testing"
	"time"
	"unsafe"
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
	if _, ok := g.admit("a", 10, 1); !ok {
		t.Fatal("first connection refused")
	}
	if _, ok := g.admit("a", 10, 1); ok {
		t.Fatal("per-address limit of 1 not applied")
	}
	g.guessFailed("b", now, time.Minute)
	g.sweep(now, time.Minute)
	if len(g.addrAt) != 1 || len(g.guesses) != 1 {
		t.Fatalf("swept live entries: %v, %v", g.addrAt, g.guesses)
	}
	if !g.guessesBlocked("b", now, 1, time.Minute) {
		t.Fatal("a guess in the window does not count")
	}
	g.release("a")
	g.sweep(now.Add(time.Minute), time.Minute)
	if len(g.addrAt) != 0 || len(g.addrs) != 0 || len(g.guesses) != 0 || g.total != 0 {
		t.Fatalf("entries left after release and window: %v, %v, %v, total %d", g.addrAt, g.addrs, g.guesses, g.total)
	}
	if g.guessesBlocked("b", now.Add(time.Minute), 1, time.Minute) {
		t.Fatal("a guess outside the window still counts")
	}
}

// The guard counts the users each address made in the entry its
// connections use, drops them when told or once unseen for their life
// (never sooner), and forgets the address once it holds nothing.
func TestGuardUsers(t *testing.T) {
	var g guard
	now := time.Date(2026, 1, 1, 0, 0, 0, 500_000_000, time.UTC)
	a1, ok1 := g.admit(string([]byte("10.0.0.1")), 10, 10)
	a2, ok2 := g.admit(string([]byte("10.0.0.1")), 10, 10)
	if !ok1 || !ok2 || unsafe.StringData(a1) != unsafe.StringData(a2) {
		t.Fatal("two connections of one address do not share its string")
	}
	if !g.takeUser(a1, "u1", now, 2) || !g.takeUser(a1, "u2", now, 2) || g.takeUser(a1, "u3", now, 2) {
		t.Fatal("per-address user cap of 2 not applied")
	}
	if !g.takeUser("10.0.0.2", "v1", now, 2) || g.takeUser("10.0.0.3", "w1", now, 0) {
		t.Fatal("a new address: cap of 2 refused, or cap of 0 allowed")
	}
	g.dropUser("u1")
	g.dropUser("nobody")
	if !g.takeUser(a1, "u3", now, 2) {
		t.Fatal("a dropped user still counts")
	}
	g.release(a1)
	g.release(a2)
	if len(g.addrAt) != 2 {
		t.Fatalf("addresses held: %v, want the two that made users", g.addrAt)
	}
	life := time.Minute
	connected := func(user string) bool { return user == "u2" }
	// Just under life unseen (whole seconds, rounded down): kept.
	g.expireUsers(now.Add(life).Add(499*time.Millisecond), life, connected)
	if len(g.made) != 3 {
		t.Fatalf("users expired before their life: %v", g.made)
	}
	g.expireUsers(now.Add(life+2*time.Second), life, connected)
	if len(g.made) != 1 || g.addrs[g.made["u2"].at].users != 1 || len(g.addrAt) != 1 {
		t.Fatalf("after life: made %v, addresses %v, want u2 only, seen connected", g.made, g.addrAt)
	}
	g.dropUser("u2")
	if g.addrAt != nil || g.addrs != nil || g.total != 0 {
		t.Fatalf("guard holding nothing keeps %v %v, total %d", g.addrAt, g.addrs, g.total)
	}
}

// TestGuardUserSeenWhileExpiring: a user that expireUsers finds old, then
// seen (its connection ended) while expireUsers asks whether it is
// connected without the guard's lock, is kept: it was seen just now.
func TestGuardUserSeenWhileExpiring(t *testing.T) {
	var g guard
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if !g.takeUser("10.0.0.1", "u1", now, 2) {
		t.Fatal("takeUser refused")
	}
	later := now.Add(time.Hour)
	g.expireUsers(later, time.Minute, func(user string) bool {
		g.seenUser(user, later) // a connection of it ended meanwhile
		return false
	})
	if _, ok := g.made["u1"]; !ok {
		t.Fatal("a user seen while the guard was asking about it was dropped")
	}
}

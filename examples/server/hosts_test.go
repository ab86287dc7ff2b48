package main

import (
	"bufio"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// upgrade sends a WebSocket upgrade to the listener at addr, naming host
// and carrying hdr, and returns the response's status; the connection
// stays open (holding its slot) until the test ends.
func upgrade(t *testing.T, addr, path, host string, hdr http.Header) int {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second)) // a stuck server fails the test instead of hanging it
	var b strings.Builder
	b.WriteString("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\n" +
		"Upgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n")
	for k, vs := range hdr {
		for _, v := range vs {
			b.WriteString(k + ": " + v + "\r\n")
		}
	}
	b.WriteString("\r\n")
	if _, err := nc.Write([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode
}

// get fetches path from addr naming host, and returns the status.
func get(t *testing.T, addr, path, host string) int {
	t.Helper()
	req, err := http.NewRequest("GET", "http://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func portOf(t *testing.T, addr string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// On loopback the demo answers the loopback names at its port only: a
// page of another site whose name resolves to 127.0.0.1 (DNS rebinding)
// sends its own name as Host and Origin, and gets 403 everywhere, the
// upgrades of both paths included.
func TestLoopbackHostsOnly(t *testing.T) {
	d := startDemo(t, "-ws-addr", "127.0.0.1:0")
	port, wsPort := portOf(t, d.HTTP), portOf(t, d.WS)
	for _, tt := range []struct {
		name string
		host string // PORT stands for the port of the listener asked
		want int    // 0: 200, or 101 for an upgrade
	}{
		{
			name: "localhost",
			host: "localhost:PORT",
		},
		{
			name: "127.0.0.1",
			host: "127.0.0.1:PORT",
		},
		{
			name: "::1",
			host: "[::1]:PORT",
		},
		{
			name: "capitals",
			host: "LocalHost:PORT",
		},
		{
			name: "rebound name",
			host: "evil.example:PORT",
			want: http.StatusForbidden,
		},
		{
			name: "no port",
			host: "localhost",
			want: http.StatusForbidden,
		},
		{
			name: "another port",
			host: "localhost:1",
			want: http.StatusForbidden,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ok := func(status int) int {
				if tt.want == 0 {
					return status
				}
				return tt.want
			}
			host := strings.Replace(tt.host, "PORT", port, 1)
			for _, path := range []string{"/", "/stats", "/stats.json", "/metrics"} {
				if got := get(t, d.HTTP, path, host); got != ok(http.StatusOK) {
					t.Errorf("GET %s, Host %s: %d, want %d", path, host, got, ok(http.StatusOK))
				}
			}
			origin := http.Header{"Origin": {"http://" + host}}
			if got := upgrade(t, d.HTTP, "/chat/", host, origin); got != ok(http.StatusSwitchingProtocols) {
				t.Errorf("upgrade at /chat/, Host %s: %d, want %d", host, got, ok(http.StatusSwitchingProtocols))
			}
			host = strings.Replace(tt.host, "PORT", wsPort, 1)
			origin = http.Header{"Origin": {"http://" + host}}
			if got := upgrade(t, d.WS, "/", host, origin); got != ok(http.StatusSwitchingProtocols) {
				t.Errorf("upgrade at -ws-addr, Host %s: %d, want %d", host, got, ok(http.StatusSwitchingProtocols))
			}
		})
	}
	if strings.Contains(d.log.String(), "not checked") {
		t.Errorf("warned that the Host is not checked:\n%s", d.log)
	}
}

// -allowed-hosts replaces the loopback names; an entry without a port
// allows any port.
func TestAllowedHostsFlag(t *testing.T) {
	d := startDemo(t, "-allowed-hosts", "chat.example, [::1]:1", "-ws-addr", "127.0.0.1:0")
	port := portOf(t, d.HTTP)
	for host, want := range map[string]int{
		"chat.example:" + port: http.StatusOK,
		"chat.example":         http.StatusOK,
		"CHAT.example:" + port: http.StatusOK,
		"127.0.0.1:" + port:    http.StatusForbidden,
		"[::1]:" + port:        http.StatusForbidden,
		"[::1]:1":              http.StatusOK,
		"evil.example:" + port: http.StatusForbidden,
	} {
		if got := get(t, d.HTTP, "/stats.json", host); got != want {
			t.Errorf("Host %s: %d, want %d", host, got, want)
		}
		upWant := http.StatusSwitchingProtocols
		if want != http.StatusOK {
			upWant = want
		}
		if got := upgrade(t, d.WS, "/", host, nil); got != upWant {
			t.Errorf("upgrade at -ws-addr, Host %s: %d, want %d", host, got, upWant)
		}
	}
	if strings.Contains(d.log.String(), "not checked") {
		t.Errorf("warned that the Host is not checked:\n%s", d.log)
	}
}

// The rule for every pair of listeners: a loopback one answers loopback
// names, another every Host, and the Hub's list (one for both upgrade
// paths) is set only when it holds on each.
func TestHostRule(t *testing.T) {
	lo := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}
	lo2 := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2), Port: 9000}
	lo6 := &net.TCPAddr{IP: net.IPv6loopback, Port: 8080}
	any := &net.TCPAddr{IP: net.IPv4zero, Port: 8080}
	pub := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 9000}
	names := func(port string, extra ...string) []string {
		return append([]string{"localhost:" + port, "127.0.0.1:" + port, "[::1]:" + port}, extra...)
	}
	for _, tt := range []struct {
		name      string
		http, ws  net.Addr
		allowed   []string
		wantHTTP  []string
		wantHub   []string
		unchecked []string
	}{
		{
			name:     "loopback",
			http:     lo,
			wantHTTP: names("8080"),
			wantHub:  names("8080"),
		},
		{
			name:     "IPv6 loopback",
			http:     lo6,
			wantHTTP: names("8080"),
			wantHub:  names("8080"),
		},
		{
			name:     "both on loopback",
			http:     lo,
			ws:       lo2,
			wantHTTP: append(names("8080"), names("9000", "127.0.0.2:9000")...),
			wantHub:  append(names("8080"), names("9000", "127.0.0.2:9000")...),
		},
		{
			name:      "all interfaces",
			http:      any,
			unchecked: []string{"0.0.0.0:8080"},
		},
		{
			name:      "page on loopback, -ws-addr public",
			http:      lo,
			ws:        pub,
			wantHTTP:  names("8080"),
			unchecked: []string{"192.0.2.1:9000"},
		},
		{
			name:      "page public, -ws-addr on loopback",
			http:      pub,
			ws:        lo,
			unchecked: []string{"192.0.2.1:9000", "127.0.0.1:8080"},
		},
		{
			name:     "allowed hosts",
			http:     any,
			ws:       pub,
			allowed:  []string{"chat.example"},
			wantHTTP: []string{"chat.example"},
			wantHub:  []string{"chat.example"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newHostRule(tt.http, tt.ws, tt.allowed)
			if !slices.Equal(r.http, tt.wantHTTP) || !slices.Equal(r.hub, tt.wantHub) || !slices.Equal(r.unchecked, tt.unchecked) {
				t.Errorf("got http %q, hub %q, unchecked %q\nwant http %q, hub %q, unchecked %q",
					r.http, r.hub, r.unchecked, tt.wantHTTP, tt.wantHub, tt.unchecked)
			}
		})
	}
}

func TestParseAllowedHosts(t *testing.T) {
	got, err := parseAllowedHosts(" Chat.Example.com, ,localhost:8080,[::1],[::1]:8080")
	want := []string{"chat.example.com", "localhost:8080", "[::1]", "[::1]:8080"}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("got %q, %v; want %q", got, err, want)
	}
	for _, bad := range []string{"::1", "*.example.com", "chat.example.com:0", "chat.example.com:99999", "a b", "[1.2.3.4]", "http://chat.example.com", ":8080"} {
		if _, err := parseAllowedHosts(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

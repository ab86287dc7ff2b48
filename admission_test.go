package epchat_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/epchat-go/epchat"
)

// upgradePath serves a Hub one way and says how to reach it.
type upgradePath struct {
	name string
	// serve starts hub and returns the address to dial.
	serve func(t *testing.T, hub *epchat.Hub, secure bool) string
}

var upgradePaths = []upgradePath{
	{
		name: "ServeHTTP",
		serve: func(t *testing.T, hub *epchat.Hub, secure bool) string {
			srv := httptest.NewUnstartedServer(hub)
			if secure {
				srv.StartTLS()
			} else {
				srv.Start()
			}
			t.Cleanup(srv.Close)
			return srv.Listener.Addr().String()
		},
	},
	{
		name: "Serve",
		serve: func(t *testing.T, hub *epchat.Hub, secure bool) string {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := ln.Addr().String()
			if secure {
				srv := httptest.NewUnstartedServer(nil) // for its test certificate
				srv.StartTLS()
				cfg := srv.TLS.Clone()
				srv.Close()
				ln = tls.NewListener(ln, cfg)
			}
			go hub.Serve(ln)
			return addr
		},
	},
}

// newAdmissionHub makes a Hub stopped when the test ends.
func newAdmissionHub(t *testing.T, opts ...epchat.Option) *epchat.Hub {
	t.Helper()
	hub, err := epchat.New(append([]epchat.Option{epchat.WithNetpoll(!blockingReads())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := hub.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return hub
}

// upgradeStatus sends an upgrade request naming host, with the extra
// header lines given (repeats kept), and returns the response.
func upgradeStatus(t *testing.T, addr string, secure bool, host string, lines ...string) *http.Response {
	t.Helper()
	var nc net.Conn
	var err error
	if secure {
		nc, err = tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) // the test server's own certificate
	} else {
		nc, err = net.Dial("tcp", addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	req := "GET /chat HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	for _, l := range lines {
		req += l + "\r\n"
	}
	if _, err := io.WriteString(nc, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestOriginRules: both upgrade paths apply one origin rule: the request's
// own scheme and host, or an allowed pattern; exactly one Origin; nothing
// but a plain http or https origin.
func TestOriginRules(t *testing.T) {
	tests := []struct {
		name   string
		secure bool     // the request comes over TLS
		lines  []string // header lines; {host} is the request's Host
		want   int      // the status
		opts   []epchat.Option
	}{
		{
			name:  "same origin",
			lines: []string{"Origin: http://{host}"},
			want:  http.StatusSwitchingProtocols,
		},
		{
			name:  "same origin, host in capitals",
			lines: []string{"Origin: HTTP://{HOST}"},
			want:  http.StatusSwitchingProtocols,
		},
		{
			name: "no origin",
			want: http.StatusSwitchingProtocols,
		},
		{
			name:  "https origin on a plain request",
			lines: []string{"Origin: https://{host}"},
			want:  http.StatusForbidden,
		},
		{
			name:   "https origin over TLS",
			secure: true,
			lines:  []string{"Origin: https://{host}"},
			want:   http.StatusSwitchingProtocols,
		},
		{
			name:   "http origin over TLS",
			secure: true,
			lines:  []string{"Origin: http://{host}"},
			want:   http.StatusForbidden,
		},
		{
			name:  "ftp origin",
			lines: []string{"Origin: ftp://{host}"},
			want:  http.StatusForbidden,
		},
		{
			name:  "extension origin",
			lines: []string{"Origin: chrome-extension://{host}"},
			want:  http.StatusForbidden,
		},
		{
			name:  "user info",
			lines: []string{"Origin: http://evil@{host}"},
			want:  http.StatusForbidden,
		},
		{
			name:  "a path",
			lines: []string{"Origin: http://{host}/x"},
			want:  http.StatusForbidden,
		},
		{
			name:  "null",
			lines: []string{"Origin: null"},
			want:  http.StatusForbidden,
		},
		{
			name:  "two origins, both the same",
			lines: []string{"Origin: http://{host}", "Origin: http://{host}"},
			want:  http.StatusForbidden,
		},
		{
			name:  "two origins, cross-site last",
			lines: []string{"Origin: http://{host}", "Origin: https://evil.example"},
			want:  http.StatusForbidden,
		},
		{
			name:  "two origins, cross-site first",
			lines: []string{"Origin: https://evil.example", "Origin: http://{host}"},
			want:  http.StatusForbidden,
		},
		{
			name:  "cross-site",
			lines: []string{"Origin: https://evil.example"},
			want:  http.StatusForbidden,
		},
		{
			name:  "allowed pattern over https",
			lines: []string{"Origin: https://app.friend.example"},
			want:  http.StatusSwitchingProtocols,
			opts:  []epchat.Option{epchat.WithOriginPatterns("*.friend.example")},
		},
		{
			name:   "allowed pattern over http, to a TLS endpoint",
			secure: true,
			lines:  []string{"Origin: http://app.friend.example"},
			want:   http.StatusForbidden,
			opts:   []epchat.Option{epchat.WithOriginPatterns("*.friend.example")},
		},
		{
			name:  "proxy says https, not trusted",
			lines: []string{"Origin: https://{host}", "X-Forwarded-Proto: https"},
			want:  http.StatusForbidden,
		},
		{
			name:  "proxy says https, trusted",
			lines: []string{"Origin: https://{host}", "X-Forwarded-Proto: https"},
			want:  http.StatusSwitchingProtocols,
			opts:  []epchat.Option{epchat.WithTrustForwardedProto(true)},
		},
		{
			name:  "Forwarded proto=https, trusted",
			lines: []string{"Origin: https://{host}", "Forwarded: for=192.0.2.1;proto=https"},
			want:  http.StatusSwitchingProtocols,
			opts:  []epchat.Option{epchat.WithTrustForwardedProto(true)},
		},
		{
			name:  "trusted proxy says http",
			lines: []string{"Origin: https://{host}", "X-Forwarded-Proto: http"},
			want:  http.StatusForbidden,
			opts:  []epchat.Option{epchat.WithTrustForwardedProto(true)},
		},
	}
	for _, p := range upgradePaths {
		t.Run(p.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					hub := newAdmissionHub(t, tt.opts...)
					addr := p.serve(t, hub, tt.secure)
					var lines []string
					for _, l := range tt.lines {
						l = strings.ReplaceAll(l, "{host}", addr)
						lines = append(lines, strings.ReplaceAll(l, "{HOST}", strings.ToUpper(addr)))
					}
					if resp := upgradeStatus(t, addr, tt.secure, addr, lines...); resp.StatusCode != tt.want {
						t.Fatalf("status %d, want %d", resp.StatusCode, tt.want)
					}
				})
			}
		})
	}
}

// TestAllowedHosts: with WithAllowedHosts, a DNS-rebinding page (Host and
// Origin both its own name, resolved to the Hub's address) is refused on
// both paths; without it, the origin check alone lets it through.
func TestAllowedHosts(t *testing.T) {
	for _, p := range upgradePaths {
		t.Run(p.name, func(t *testing.T) {
			open := newAdmissionHub(t)
			addr := p.serve(t, open, false)
			if resp := upgradeStatus(t, addr, false, "evil.example", "Origin: http://evil.example"); resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("without an allowlist: status %d; the rebinding case this option exists for passes there", resp.StatusCode)
			}

			hub := newAdmissionHub(t, epchat.WithAllowedHosts("127.0.0.1", "chat.example"))
			addr = p.serve(t, hub, false)
			_, port, _ := net.SplitHostPort(addr)
			tests := []struct {
				name  string
				host  string
				lines []string
				want  int
			}{
				{
					name:  "rebinding",
					host:  "evil.example",
					lines: []string{"Origin: http://evil.example"},
					want:  http.StatusForbidden,
				},
				{
					name: "rebinding without origin",
					host: "evil.example:" + port,
					want: http.StatusForbidden,
				},
				{
					name: "a name that ends like an allowed one",
					host: "evilchat.example",
					want: http.StatusForbidden,
				},
				{
					name:  "allowed address, any port",
					host:  addr,
					lines: []string{"Origin: http://" + addr},
					want:  http.StatusSwitchingProtocols,
				},
				{
					name:  "allowed name, in capitals",
					host:  "CHAT.example",
					lines: []string{"Origin: http://chat.example"},
					want:  http.StatusSwitchingProtocols,
				},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					if resp := upgradeStatus(t, addr, false, tt.host, tt.lines...); resp.StatusCode != tt.want {
						t.Fatalf("status %d, want %d", resp.StatusCode, tt.want)
					}
				})
			}
		})
	}
}

// TestAdmissionLimitBothPaths: at the per-address limit both paths answer
// 503 with Retry-After, and count the refusal.
func TestAdmissionLimitBothPaths(t *testing.T) {
	for _, p := range upgradePaths {
		t.Run(p.name, func(t *testing.T) {
			hub := newAdmissionHub(t, epchat.WithMaxConnectionsPerAddr(1))
			addr := p.serve(t, hub, false)
			if resp := upgradeStatus(t, addr, false, addr); resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("first: status %d", resp.StatusCode)
			}
			resp := upgradeStatus(t, addr, false, addr)
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "10" {
				t.Fatalf("second: status %d, Retry-After %q; want 503 and 10", resp.StatusCode, resp.Header.Get("Retry-After"))
			}
			if n := hub.Stats().ConnectionsRefused; n != 1 {
				t.Fatalf("ConnectionsRefused %d, want 1", n)
			}
		})
	}
}

func TestAllowedHostsValidated(t *testing.T) {
	for _, bad := range []string{"", "[a"} {
		if _, err := epchat.New(epchat.WithAllowedHosts(bad)); err == nil {
			t.Errorf("WithAllowedHosts(%q) accepted", bad)
		}
	}
}

package main

import (
	"net/http"
	"testing"
)

// Behind a TLS-terminating proxy: with -trust-forwarded-proto the page's
// https origin passes although the demo gets plain http, with
// -client-ip-header each client counts by the address the proxy wrote
// (the header's last hop), and -origin allows another origin. Without the
// flags those upgrades are refused, and every client counts as the proxy.
func TestBehindProxy(t *testing.T) {
	const host = "chat.example.com"
	base := []string{"-allowed-hosts", host, "-max-conns-per-addr", "1"}
	proxied := func(origin, xff string) http.Header {
		return http.Header{
			"Origin":            {origin},
			"X-Forwarded-Proto": {"https"},
			"X-Forwarded-For":   {xff},
			"X-Real-Ip":         {"192.0.2.99"},
		}
	}
	type step struct {
		origin string
		xff    string
		want   int
	}
	for _, tt := range []struct {
		name  string
		flags []string
		steps []step
	}{
		{
			name:  "with the flags",
			flags: []string{"-trust-forwarded-proto", "-client-ip-header", "x-forwarded-for", "-origin", "app.example.com"},
			steps: []step{
				{origin: "https://" + host, xff: "198.51.100.7, 203.0.113.1", want: http.StatusSwitchingProtocols},
				{origin: "https://" + host, xff: "198.51.100.7, 203.0.113.2", want: http.StatusSwitchingProtocols},
				// the first hop is the client's to write; the last is the proxy's
				{origin: "https://" + host, xff: "203.0.113.2, 203.0.113.1", want: http.StatusServiceUnavailable},
				{origin: "https://app.example.com", xff: "203.0.113.3", want: http.StatusSwitchingProtocols},
				{origin: "https://other.example.com", xff: "203.0.113.4", want: http.StatusForbidden},
			},
		},
		{
			name:  "X-Real-IP",
			flags: []string{"-trust-forwarded-proto", "-client-ip-header", "X-Real-IP"},
			steps: []step{
				{origin: "https://" + host, xff: "203.0.113.1", want: http.StatusSwitchingProtocols},
				{origin: "https://" + host, xff: "203.0.113.2", want: http.StatusServiceUnavailable}, // both 192.0.2.99
			},
		},
		{
			name: "without -trust-forwarded-proto",
			steps: []step{
				{origin: "https://" + host, xff: "203.0.113.1", want: http.StatusForbidden},
			},
		},
		{
			name:  "without -client-ip-header",
			flags: []string{"-trust-forwarded-proto"},
			steps: []step{
				{origin: "https://" + host, xff: "203.0.113.1", want: http.StatusSwitchingProtocols},
				{origin: "https://" + host, xff: "203.0.113.2", want: http.StatusServiceUnavailable}, // both 127.0.0.1
			},
		},
		{
			name:  "without -origin",
			flags: []string{"-trust-forwarded-proto"},
			steps: []step{
				{origin: "https://app.example.com", xff: "203.0.113.1", want: http.StatusForbidden},
			},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := startDemo(t, append(base, tt.flags...)...)
			for i, s := range tt.steps {
				if got := upgrade(t, d.HTTP, "/chat/", host, proxied(s.origin, s.xff)); got != s.want {
					t.Errorf("upgrade %d, Origin %s, X-Forwarded-For %s: %d, want %d", i, s.origin, s.xff, got, s.want)
				}
			}
		})
	}
}

func TestClientIPHeaderFlag(t *testing.T) {
	if name, err := clientIPHeader("x-real-ip"); name != "X-Real-Ip" || err != nil {
		t.Errorf("x-real-ip: %q, %v", name, err)
	}
	for _, bad := range []string{"Forwarded", "X Forwarded", "X-Forwarded-For:"} {
		if _, err := clientIPHeader(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	for v, want := range map[string]string{
		"203.0.113.1":                 "203.0.113.1",
		"198.51.100.7,203.0.113.1":    "203.0.113.1",
		"203.0.113.1:4711":            "203.0.113.1",
		"2001:db8:1:2:3:4:5:6":        "2001:db8:1:2::/64",
		"[2001:db8:1:2:3:4:5:6]:4711": "2001:db8:1:2::/64",
		"::ffff:203.0.113.1":          "203.0.113.1",
		"unknown":                     "127.0.0.1", // the socket's
	} {
		r := &http.Request{RemoteAddr: "127.0.0.1:5000", Header: http.Header{"X-Forwarded-For": {v}}}
		if got := clientAddrFrom("X-Forwarded-For")(r); got != want {
			t.Errorf("%q: %q, want %q", v, got, want)
		}
	}
}

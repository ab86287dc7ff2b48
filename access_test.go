package epchat_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/epchat-go/epchat"
	"github.com/epchat-go/epchat/epchattest"
)

// TestAccessRules: only the owner invites, closes and sends history; only
// members send, list and leave; a stranger cannot tell a room it is not in
// from one that does not exist.
func TestAccessRules(t *testing.T) {
	hh := newTestHub(t, epchat.WithRequestRate(1000, 1000))
	ana, ben, cid := hh.client(t, "nick-ana-access"), hh.client(t, "nick-ben-access"), hh.client(t, "nick-cid-access")
	room := hh.room(t, ana, ben)
	anon := epchattest.Dial(t, hh.url)
	tests := []struct {
		name string
		by   *epchattest.Client
		req  map[string]any
		code string
	}{
		{
			name: "member invites",
			by:   ben,
			req:  map[string]any{"type": "invite", "room": room},
			code: "forbidden",
		},
		{
			name: "stranger invites",
			by:   cid,
			req:  map[string]any{"type": "invite", "room": room},
			code: "not_found",
		},
		{
			name: "stranger invites to no room",
			by:   cid,
			req:  map[string]any{"type": "invite", "room": "no-such-room"},
			code: "not_found",
		},
		{
			name: "member closes",
			by:   ben,
			req:  map[string]any{"type": "close", "room": room},
			code: "forbidden",
		},
		{
			name: "stranger closes",
			by:   cid,
			req:  map[string]any{"type": "close", "room": room},
			code: "not_found",
		},
		{
			name: "member sends history",
			by:   ben,
			req:  map[string]any{"type": "history", "room": room, "to": ana.ID, "data": "LEAK"},
			code: "forbidden",
		},
		{
			name: "stranger sends history",
			by:   cid,
			req:  map[string]any{"type": "history", "room": room, "to": ben.ID, "data": "LEAK"},
			code: "not_found",
		},
		{
			name: "stranger sends",
			by:   cid,
			req:  map[string]any{"type": "send", "room": room, "text": "LEAK"},
			code: "not_found",
		},
		{
			name: "stranger lists",
			by:   cid,
			req:  map[string]any{"type": "members", "room": room},
			code: "not_found",
		},
		{
			name: "stranger leaves",
			by:   cid,
			req:  map[string]any{"type": "leave", "room": room},
			code: "not_found",
		},
		{
			name: "unidentified sends",
			by:   anon,
			req:  map[string]any{"type": "send", "room": room, "text": "LEAK"},
			code: "not_identified",
		},
		{
			name: "unidentified lists",
			by:   anon,
			req:  map[string]any{"type": "members", "room": room},
			code: "not_identified",
		},
	}
	hh.secret("LEAK")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if e := tt.by.Call(tt.req); e.Str("code") != tt.code {
				t.Fatalf("got %v, want %s", e, tt.code)
			}
			hh.say(t, ana, room, "marker "+tt.name)
			expectText(t, ben, room, "marker "+tt.name)
			ben.None()
			cid.None()
		})
	}
	ms := ben.MustCall("members", map[string]any{"type": "members", "room": room})
	if len(ms.MemberIDs()) != 2 {
		t.Fatalf("members: %v", ms)
	}
}

// TestRefusedUpgradesAreNotHijacked: every refused upgrade is a plain HTTP
// answer on a connection net/http still owns, so the same connection then
// carries a valid upgrade; none takes a connection slot.
func TestRefusedUpgradesAreNotHijacked(t *testing.T) {
	hh := newTestHub(t, epchat.WithMaxConnectionsPerAddr(1))
	host := hh.srv.Listener.Addr().String()
	valid := "GET /chat/ HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	tests := []struct {
		name    string
		request string
		status  int
	}{
		{
			name:    "wrong method",
			request: strings.Replace(valid, "GET", "PUT", 1) + "Content-Length: 0\r\n",
			status:  http.StatusMethodNotAllowed,
		},
		{
			name:    "missing key",
			request: strings.Replace(valid, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "", 1),
			status:  http.StatusBadRequest,
		},
		{
			name:    "key of the wrong length",
			request: strings.Replace(valid, "dGhlIHNhbXBsZSBub25jZQ==", "c2hvcnQ=", 1),
			status:  http.StatusBadRequest,
		},
		{
			name:    "wrong version",
			request: strings.Replace(valid, "Version: 13", "Version: 8", 1),
			status:  http.StatusUpgradeRequired,
		},
		{
			name:    "no Connection: Upgrade",
			request: strings.Replace(valid, "Connection: Upgrade", "Connection: keep-alive", 1),
			status:  http.StatusBadRequest,
		},
		{
			name:    "cross-site origin",
			request: valid + "Origin: https://evil.example\r\n",
			status:  http.StatusForbidden,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nc, err := net.Dial("tcp", host)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			br := bufio.NewReader(nc)
			if _, err := io.WriteString(nc, tt.request+"\r\n"); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if _, slots := hh.LiveConns(); slots != 0 {
				t.Fatalf("%d slots taken by a refused upgrade", slots)
			}
			// Not hijacked: net/http reads the next request.
			if _, err := io.WriteString(nc, valid+"\r\n"); err != nil {
				t.Fatal(err)
			}
			resp, err = http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("upgrade after the refusal: status %d", resp.StatusCode)
			}
			nc.Close()
			waitUntil(t, "the slot freed", func() bool { _, slots := hh.LiveConns(); return slots == 0 })
		})
	}
}

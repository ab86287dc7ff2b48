package web_test

import (
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// adversary is the malicious server of docs/E2E.md's threat model, as a
// relay between the browsers and the Hub: it speaks WebSocket to each
// side, so it sees every event the Hub sends as JSON and can rewrite,
// drop, hold back, replay and inject events, as whoever runs the server
// could. The library's Clients reach it by the URL they are given
// (T.make(name, {url})). The demo page loads through it too (pageURL): it
// passes plain HTTP requests to the harness, so the page's own
// connections, made to its origin, go through the relay.
//
// Requests from the browsers pass unchanged: the threat model's server is
// the Hub's side, and what it tells the browsers is what it can forge.
type adversary struct {
	t    *testing.T
	ln   net.Listener
	hub  string       // the Hub's WebSocket URL
	page http.Handler // the harness's pages, for requests that are not WebSocket
	wg   sync.WaitGroup

	mu     sync.Mutex
	rule   func(c *advConn, ev map[string]any) []map[string]any
	conns  []*advConn
	closed bool
}

// advConn is one browser's connection through the adversary.
type advConn struct {
	a              *adversary
	client, server net.Conn

	mu   sync.Mutex
	me   string           // the member id its welcome named
	seen []map[string]any // every event the Hub sent it, before any rule
	wmu  sync.Mutex       // serialises writes to the browser
}

// newAdversary starts the relay to the Hub of h. It stops when the test
// ends.
func newAdversary(t *testing.T, h *harness) *adversary {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// The Hub is reached through the harness's tap, whose address is the
	// page's: a request without Origin is not a browser's, and passes.
	target, err := url.Parse(h.url)
	if err != nil {
		t.Fatal(err)
	}
	a := &adversary{t: t, ln: ln, hub: strings.Replace(h.url, "http://", "ws://", 1) + "/chat/", page: httputil.NewSingleHostReverseProxy(target)}
	srv := &http.Server{Handler: a, ErrorLog: log.New(io.Discard, "", 0)}
	a.wg.Go(func() { srv.Serve(ln) })
	t.Cleanup(func() {
		ln.Close()
		a.mu.Lock()
		a.closed = true
		for _, c := range a.conns {
			c.client.Close()
			c.server.Close()
		}
		a.mu.Unlock()
		a.wg.Wait()
	})
	return a
}

// URL is the WebSocket URL a Client opens to go through the adversary.
func (a *adversary) URL() string { return "ws://" + a.ln.Addr().String() + "/chat/" }

// pageURL is the demo page, loaded through the adversary: everything it
// is told comes through the relay.
func (a *adversary) pageURL() string { return "http://" + a.ln.Addr().String() + "/" }

// ServeHTTP relays WebSocket connections (any path) and passes other
// requests to the harness.
func (a *adversary) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		a.page.ServeHTTP(w, r)
		return
	}
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		http.Error(w, "closed", http.StatusServiceUnavailable)
		return
	}
	a.wg.Add(1) // the test's end waits for the relay
	a.mu.Unlock()
	defer a.wg.Done()
	client, _, _, err := ws.UpgradeHTTP(r, w)
	if err != nil {
		return
	}
	a.relay(client)
}

// setRule makes rule decide, for every event the Hub sends, what the
// browser gets instead: nothing, the event (changed or not), or several.
// nil passes everything.
func (a *adversary) setRule(rule func(c *advConn, ev map[string]any) []map[string]any) {
	a.mu.Lock()
	a.rule = rule
	a.mu.Unlock()
}

// conn returns the connection of member id, or nil.
func (a *adversary) conn(id string) *advConn {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := len(a.conns) - 1; i >= 0; i-- {
		c := a.conns[i]
		c.mu.Lock()
		me := c.me
		c.mu.Unlock()
		if me == id {
			return c
		}
	}
	return nil
}

func (a *adversary) relay(client net.Conn) {
	server, _, _, err := ws.Dialer{Header: ws.HandshakeHeaderHTTP(http.Header{})}.Dial(a.t.Context(), a.hub)
	if err != nil {
		client.Close()
		return
	}
	c := &advConn{a: a, client: client, server: server}
	a.mu.Lock()
	a.conns = append(a.conns, c)
	closed := a.closed
	a.mu.Unlock()
	if closed { // the test ended while it dialled
		client.Close()
		server.Close()
		return
	}
	defer func() {
		client.Close()
		server.Close()
	}()
	var wg sync.WaitGroup
	wg.Go(func() {
		defer server.Close()
		for {
			data, op, err := wsutil.ReadClientData(client)
			if err != nil {
				return
			}
			if wsutil.WriteClientMessage(server, op, data) != nil {
				return
			}
		}
	})
	for {
		data, op, err := wsutil.ReadServerData(server)
		if err != nil {
			break
		}
		var ev map[string]any
		if op != ws.OpText || json.Unmarshal(data, &ev) != nil {
			c.write(data)
			continue
		}
		c.mu.Lock()
		if ev["type"] == "welcome" {
			if you, ok := ev["you"].(map[string]any); ok {
				c.me, _ = you["id"].(string)
			}
		}
		c.seen = append(c.seen, ev)
		c.mu.Unlock()
		a.mu.Lock()
		rule := a.rule
		a.mu.Unlock()
		out := []map[string]any{ev}
		if rule != nil {
			out = rule(c, cloneEvent(ev))
		}
		for _, e := range out {
			c.inject(e)
		}
	}
	client.Close()
	wg.Wait()
}

// member is the member id this connection identified as.
func (c *advConn) member() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.me
}

// events returns copies of the events the Hub sent this connection of type
// typ (all with typ ""), before any rule.
func (c *advConn) events(typ string) []map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []map[string]any
	for _, ev := range c.seen {
		if typ == "" || ev["type"] == typ {
			out = append(out, cloneEvent(ev))
		}
	}
	return out
}

// last returns the latest event of type typ from member from that the Hub
// sent this connection, or nil.
func (c *advConn) last(typ, from string) map[string]any {
	evs := c.events(typ)
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i]["from"] == from {
			return evs[i]
		}
	}
	return nil
}

// inject sends ev to the browser as if the Hub had.
func (c *advConn) inject(ev map[string]any) {
	b, err := json.Marshal(ev)
	if err != nil {
		c.a.t.Errorf("adversary: %v", err)
		return
	}
	c.write(b)
}

func (c *advConn) write(b []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	wsutil.WriteServerMessage(c.client, ws.OpText, b)
}

func cloneEvent(ev map[string]any) map[string]any {
	b, _ := json.Marshal(ev)
	var out map[string]any
	json.Unmarshal(b, &out)
	return out
}

package epchattest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// Wait bounds how long a client waits for an event, a reply or the close
// that should come, and how long Dial may take.
const Wait = 10 * time.Second

// Event is one server event, decoded.
type Event map[string]any

// Str returns the string field k, or "".
func (e Event) Str(k string) string {
	s, _ := e[k].(string)
	return s
}

// Num returns the number field k, or 0.
func (e Event) Num(k string) int64 {
	f, _ := e[k].(float64)
	return int64(f)
}

// Type returns the event's type.
func (e Event) Type() string { return e.Str("type") }

// MemberIDs returns the ids of the members field, in order.
func (e Event) MemberIDs() []string {
	var out []string
	list, _ := e["members"].([]any)
	for _, m := range list {
		mm, _ := m.(map[string]any)
		id, _ := mm["id"].(string)
		out = append(out, id)
	}
	return out
}

// Client is a test client of the epchat protocol on one WebSocket
// connection. Its methods may be called from several goroutines; those
// that wait fail the test through its testing.TB, so call them from the
// test's goroutine.
type Client struct {
	// Conn is the connection, for a test that closes it, tunes its socket
	// or takes it over.
	Conn net.Conn
	// ID and Token are the member id and session token that Hello
	// received.
	ID, Token string
	// NoPong, when set, makes the client leave the server's pings
	// unanswered.
	NoPong atomic.Bool

	t          testing.TB
	wmu        sync.Mutex
	readerDone chan struct{} // closed when readLoop returns

	mu     sync.Mutex
	cond   *sync.Cond
	events []Event
	pongs  []string // payloads of the pongs received
	closed bool
	code   ws.StatusCode
	reqSeq int
	filter func([]byte) bool

	// resume is not nil while the client is paused: its read loop stops
	// reading the socket, like a peer that stopped reading, until closed.
	pauseMu sync.Mutex
	resume  chan struct{}
}

// Dial opens a WebSocket to url (ws://...), failing the test if it cannot.
func Dial(t testing.TB, url string) *Client {
	t.Helper()
	c, err := DialHeader(t, url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	return c
}

// DialHeader opens a WebSocket to url with extra handshake headers (nil
// for none), and returns the handshake's error, a refusal included (a
// ws.StatusError holds the HTTP status).
func DialHeader(t testing.TB, url string, hdr http.Header) (*Client, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	d := ws.Dialer{}
	if hdr != nil {
		d.Header = ws.HandshakeHeaderHTTP(hdr)
	}
	nc, br, _, err := d.Dial(ctx, url)
	if err != nil {
		return nil, err
	}
	var r io.Reader = nc
	if br != nil {
		r = io.MultiReader(br, nc)
	}
	return New(t, nc, r), nil
}

// New starts a client on nc, a WebSocket connection whose handshake is
// done, reading the server's frames from r: nc itself, or a reader that
// holds what the handshake read past the response, then nc. The
// connection is closed when the test ends.
func New(t testing.TB, nc net.Conn, r io.Reader) *Client {
	c := &Client{Conn: nc, t: t, readerDone: make(chan struct{})}
	c.cond = sync.NewCond(&c.mu)
	go c.readLoop(bufio.NewReader(r))
	t.Cleanup(func() {
		nc.Close()
		c.Unpause()
	})
	return c
}

// Pause stops the client reading and answering, after the frame being
// read, if any.
func (c *Client) Pause() {
	c.pauseMu.Lock()
	defer c.pauseMu.Unlock()
	if c.resume == nil {
		c.resume = make(chan struct{})
	}
}

// Unpause lets a paused client read again.
func (c *Client) Unpause() {
	c.pauseMu.Lock()
	defer c.pauseMu.Unlock()
	if c.resume != nil {
		close(c.resume)
		c.resume = nil
	}
}

// SetFilter makes the client hand every text message it reads to f before
// decoding it; a message for which f returns true is dropped. Benchmarks
// use it to count messages without the cost of decoding them.
func (c *Client) SetFilter(f func(p []byte) bool) {
	c.mu.Lock()
	c.filter = f
	c.mu.Unlock()
}

func (c *Client) readLoop(r io.Reader) {
	defer close(c.readerDone)
	defer func() {
		c.mu.Lock()
		c.closed = true
		c.cond.Broadcast()
		c.mu.Unlock()
	}()
	for {
		h, err := ws.ReadHeader(r)
		if err != nil {
			return
		}
		// A server frame is final, unmasked, with no reserved bit, and
		// control or text: the Hub never fragments and speaks text only.
		if !h.Fin || h.Masked || h.Rsv != 0 || h.Length > 1<<24 ||
			!(h.OpCode.IsControl() || h.OpCode == ws.OpText) {
			c.t.Errorf("server sent an invalid frame header %+v", h)
			return
		}
		p := make([]byte, h.Length)
		if _, err := io.ReadFull(r, p); err != nil {
			return
		}
		// A paused client reads at most this frame and what its buffer
		// holds, and acts on nothing until it is unpaused.
		c.pauseMu.Lock()
		resume := c.resume
		c.pauseMu.Unlock()
		if resume != nil {
			<-resume
		}
		switch h.OpCode {
		case ws.OpPong:
			c.mu.Lock()
			c.pongs = append(c.pongs, string(p))
			c.cond.Broadcast()
			c.mu.Unlock()
		case ws.OpPing:
			if !c.NoPong.Load() {
				c.WriteFrame(ws.OpPong, p)
			}
		case ws.OpClose:
			code, _ := ws.ParseCloseFrameData(p)
			c.mu.Lock()
			c.code = code
			c.mu.Unlock()
			c.WriteFrame(ws.OpClose, p)
			return
		case ws.OpText:
			c.mu.Lock()
			filter := c.filter
			c.mu.Unlock()
			if filter != nil && filter(p) {
				continue
			}
			if !utf8.Valid(p) {
				c.t.Errorf("server sent invalid UTF-8 %q", p)
				return
			}
			var e Event
			if err := json.Unmarshal(p, &e); err != nil {
				c.t.Errorf("server sent invalid JSON %q: %v", p, err)
				return
			}
			c.mu.Lock()
			c.events = append(c.events, e)
			c.cond.Broadcast()
			c.mu.Unlock()
		}
	}
}

// WriteFrame writes one final, masked frame.
func (c *Client) WriteFrame(op ws.OpCode, p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return ws.WriteFrame(c.Conn, ws.MaskFrame(ws.NewFrame(op, true, p)))
}

// WriteRaw writes bytes as they are: frames built by hand, valid or not.
func (c *Client) WriteRaw(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.Conn.Write(b)
	return err
}

// SendRaw sends one text message as is.
func (c *Client) SendRaw(p string) {
	c.t.Helper()
	if err := c.WriteFrame(ws.OpText, []byte(p)); err != nil {
		c.t.Fatalf("write %.40s: %v", p, err)
	}
}

// Send sends a request; it adds an id when there is none and returns it.
func (c *Client) Send(req map[string]any) string {
	c.t.Helper()
	c.mu.Lock()
	c.reqSeq++
	id := fmt.Sprintf("r%d", c.reqSeq)
	c.mu.Unlock()
	if _, ok := req["id"]; !ok {
		req["id"] = id
	}
	b, _ := json.Marshal(req)
	c.SendRaw(string(b))
	s, _ := req["id"].(string)
	return s
}

// Take waits for the first queued event matching match and removes it.
func (c *Client) Take(what string, match func(Event) bool) Event {
	c.t.Helper()
	deadline := time.Now().Add(Wait)
	timer := time.AfterFunc(Wait, func() {
		c.mu.Lock()
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	defer timer.Stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		for i, e := range c.events {
			if match(e) {
				c.events = slices.Delete(c.events, i, i+1)
				return e
			}
		}
		if c.closed || time.Now().After(deadline) {
			c.t.Fatalf("no %s (closed=%v code=%d); queued: %v", what, c.closed, c.code, c.events)
		}
		c.cond.Wait()
	}
}

// Reply waits for the reply to the request with this id.
func (c *Client) Reply(id string) Event {
	c.t.Helper()
	return c.Take("reply to "+id, func(e Event) bool { return e.Str("id") == id })
}

// Call sends a request and returns its reply (or error event).
func (c *Client) Call(req map[string]any) Event {
	c.t.Helper()
	return c.Reply(c.Send(req))
}

// MustCall is Call that fails the test on an error reply or another type.
func (c *Client) MustCall(want string, req map[string]any) Event {
	c.t.Helper()
	e := c.Call(req)
	if e.Type() != want {
		c.t.Fatalf("%v: got %v, want a %s", req, e, want)
	}
	return e
}

// Expect waits for the first event of type typ that is not a reply (about
// room, when not ""), leaving the others queued.
func (c *Client) Expect(typ, room string) Event {
	c.t.Helper()
	return c.Take(typ, func(e Event) bool {
		return e.Type() == typ && e.Str("id") == "" && (room == "" || e.Str("room") == room)
	})
}

// Next returns the next event, whatever it is.
func (c *Client) Next() Event {
	c.t.Helper()
	return c.Take("any event", func(Event) bool { return true })
}

// MustNext returns the next event, failing the test unless it is of type
// want: nothing else may come first.
func (c *Client) MustNext(want string) Event {
	c.t.Helper()
	e := c.Next()
	if e.Type() != want {
		c.t.Fatalf("got %v, want a %s", e, want)
	}
	return e
}

// None checks that no event is queued now. Use it after a request whose
// reply comes after any event that should not.
func (c *Client) None() {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.events) > 0 {
		c.t.Fatalf("unexpected events: %v", c.events)
	}
}

// Events returns the events queued now, without removing them.
func (c *Client) Events() []Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.events)
}

// Pongs returns the payloads of the pongs received so far.
func (c *Client) Pongs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.pongs)
}

// CloseCode waits for the connection to end and returns the close code it
// received (0 if none).
func (c *Client) CloseCode() ws.StatusCode {
	c.t.Helper()
	timer := time.AfterFunc(Wait, func() {
		c.mu.Lock()
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	defer timer.Stop()
	deadline := time.Now().Add(Wait)
	c.mu.Lock()
	defer c.mu.Unlock()
	for !c.closed {
		if time.Now().After(deadline) {
			c.t.Fatal("connection not closed")
		}
		c.cond.Wait()
	}
	return c.code
}

// WaitReaderDone waits until the client has stopped reading: the
// connection ended, or a read deadline in the past made its read fail, so
// that a benchmark can take the socket over.
func (c *Client) WaitReaderDone() { <-c.readerDone }

// Hello identifies the client with a new nickname and keeps the member id
// and session token of the welcome.
func (c *Client) Hello(nick string) Event {
	c.t.Helper()
	e := c.MustCall("welcome", map[string]any{"type": "hello", "nickname": nick})
	you, _ := e["you"].(map[string]any)
	c.ID, _ = you["id"].(string)
	c.Token = e.Str("token")
	return e
}

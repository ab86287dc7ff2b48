package epchat_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/epchat-go/epchat"
	"github.com/epchat-go/epchat/internal/wstest"
)

// Helpers of the hardening tests: a Hub whose log is checked for content,
// and frames built by hand, valid or not.

// logSink is a slog.Handler that keeps every record as text, so a test can
// check that no content reached the log.
type logSink struct {
	mu    sync.Mutex
	lines []string
}

type sinkHandler struct {
	s      *logSink
	prefix string // attributes and groups from With
}

func (s *logSink) handler() slog.Handler { return &sinkHandler{s: s} }

func (h *sinkHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *sinkHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message + h.prefix)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value.Resolve())
		return true
	})
	h.s.mu.Lock()
	h.s.lines = append(h.s.lines, b.String())
	h.s.mu.Unlock()
	return nil
}

func (h *sinkHandler) WithAttrs(as []slog.Attr) slog.Handler {
	p := h.prefix
	for _, a := range as {
		p += fmt.Sprintf(" %s=%v", a.Key, a.Value.Resolve())
	}
	return &sinkHandler{s: h.s, prefix: p}
}

func (h *sinkHandler) WithGroup(name string) slog.Handler {
	return &sinkHandler{s: h.s, prefix: h.prefix + " " + name + ":"}
}

// tokenLike matches what looks like a 32-byte secret in base64url (43
// characters): session and invite tokens. Room and member ids are shorter.
var tokenLike = regexp.MustCompile(`[A-Za-z0-9_-]{43}`)

// checkClean fails if a record holds a secret or anything shaped like a
// token.
func (s *logSink) checkClean(t testing.TB, secrets []string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.lines {
		if tokenLike.MatchString(l) {
			t.Errorf("a token reached the log: %q", l)
		}
		for _, sec := range secrets {
			if sec != "" && strings.Contains(l, sec) {
				t.Errorf("%q reached the log: %q", sec, l)
			}
		}
	}
}

// count returns how many records contain substr.
func (s *logSink) count(substr string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, l := range s.lines {
		if strings.Contains(l, substr) {
			n++
		}
	}
	return n
}

// hardHub is a test Hub whose log is kept at debug level and checked, when
// the test ends, for every secret the test registered.
type hardHub struct {
	*testHub
	logs *logSink

	mu      sync.Mutex
	secrets []string
}

func newHardHub(t testing.TB, opts ...epchat.Option) *hardHub {
	t.Helper()
	return newHardHubListener(t, nil, opts...)
}

// newHardHubListener is newHardHub whose server accepts connections
// through wrap, when not nil.
func newHardHubListener(t testing.TB, wrap func(net.Listener) net.Listener, opts ...epchat.Option) *hardHub {
	t.Helper()
	hh := &hardHub{logs: &logSink{}}
	// Registered first, so it runs last: after Shutdown has logged too.
	t.Cleanup(func() {
		hh.mu.Lock()
		defer hh.mu.Unlock()
		hh.logs.checkClean(t, hh.secrets)
	})
	opts = append([]epchat.Option{epchat.WithLogger(slog.New(hh.logs.handler()))}, opts...)
	hh.testHub = newTestHubListener(t, wrap, opts...)
	return hh
}

// secret registers strings that must never reach the log.
func (hh *hardHub) secret(s ...string) {
	hh.mu.Lock()
	hh.secrets = append(hh.secrets, s...)
	hh.mu.Unlock()
}

// client dials and identifies; its nickname and session token are secrets.
func (hh *hardHub) client(t testing.TB, nick string) *wstest.Client {
	t.Helper()
	hh.secret(nick)
	c := hh.testHub.client(t, nick)
	hh.secret(c.Token)
	return c
}

// invite makes an invite in room as owner and returns its token.
func (hh *hardHub) invite(t testing.TB, owner *wstest.Client, room string) string {
	t.Helper()
	tok := owner.MustCall("invite", map[string]any{"type": "invite", "room": room}).Str("token")
	hh.secret(tok)
	return tok
}

// say sends text to room from c and checks it was sent; text is a secret.
func (hh *hardHub) say(t testing.TB, c *wstest.Client, room, text string) {
	t.Helper()
	hh.secret(text)
	c.MustCall("sent", map[string]any{"type": "send", "room": room, "text": text})
}

// expectText waits for the next event of c, which must be a message in
// room with text.
func expectText(t testing.TB, c *wstest.Client, room, text string) {
	t.Helper()
	e := c.Next()
	if e.Type() != "message" || e.Str("room") != room || e.Str("text") != text {
		t.Fatalf("next event %v, want the message %q in %s", e, text, room)
	}
}

// waitUntil polls cond until it holds; what it waits for is real state the
// Hub reaches on its own time (a socket noticed closed), never a time rule.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Frames built by hand. b0 is the first header byte: FIN (0x80), RSV bits
// (0x70) and opcode.

const (
	finBit = 0x80
	opText = byte(ws.OpText)
	opCont = byte(ws.OpContinuation)
	opBin  = byte(ws.OpBinary)
	opPing = byte(ws.OpPing)
	opPong = byte(ws.OpPong)
	opCls  = byte(ws.OpClose)
)

var testMask = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// rawHeader is a frame header declaring n bytes of payload, masked with
// testMask unless unmasked.
func rawHeader(b0 byte, n uint64, unmasked bool) []byte {
	maskBit := byte(0x80)
	if unmasked {
		maskBit = 0
	}
	h := []byte{b0}
	switch {
	case n < 126:
		h = append(h, maskBit|byte(n))
	case n <= 0xffff:
		h = append(h, maskBit|126)
		h = binary.BigEndian.AppendUint16(h, uint16(n))
	default:
		h = append(h, maskBit|127)
		h = binary.BigEndian.AppendUint64(h, n)
	}
	if !unmasked {
		h = append(h, testMask[:]...)
	}
	return h
}

// rawFrame is one masked client frame.
func rawFrame(b0 byte, payload []byte) []byte {
	f := rawHeader(b0, uint64(len(payload)), false)
	start := len(f)
	f = append(f, payload...)
	ws.Cipher(f[start:], testMask, 0)
	return f
}

// unmaskedFrame is a frame without a masking key, which only a server may
// send.
func unmaskedFrame(b0 byte, payload []byte) []byte {
	return append(rawHeader(b0, uint64(len(payload)), true), payload...)
}

// fragments splits p into masked frames of at most size bytes: a text
// frame then continuations, the last one final if final is true.
func fragments(p []byte, size int, final bool) []byte {
	var out []byte
	op := opText
	for {
		n := min(size, len(p))
		b0 := op
		if n == len(p) && final {
			b0 |= finBit
		}
		out = append(out, rawFrame(b0, p[:n])...)
		p = p[n:]
		op = opCont
		if len(p) == 0 {
			return out
		}
	}
}

// closeBody is a close frame payload: a 2-byte code and a reason.
func closeBody(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

// sendReq is a send request as raw JSON, built by hand so that text may
// hold anything, invalid UTF-8 included.
func sendReq(room, text string) []byte {
	return []byte(`{"type":"send","room":"` + room + `","text":"` + text + `"}`)
}

func cat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

// dialRawUpgrade opens a TCP connection to addr and writes a WebSocket
// upgrade request for /chat/ followed by extra, in one write. It returns a
// client reading the stream after the 101 response.
func dialRawUpgrade(t testing.TB, addr string, extra []byte) *wstest.Client {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	req := "GET /chat/ HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := nc.Write(append([]byte(req), extra...)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: status %d", resp.StatusCode)
	}
	return wstest.New(t, nc, br)
}

// smallSendBuffer makes the kernel send buffer of the Hub's connections
// small, so that a peer that stops reading fills it after a few kilobytes,
// not the default 64 KiB (the read side keeps its size: tiny windows are
// slow).
var smallSendBuffer = epchat.WithSocketSendBuffer(4096)

// dialSmall is dial with a small receive buffer on the client's socket.
func dialSmall(t testing.TB, url string) *wstest.Client {
	t.Helper()
	c := wstest.Dial(t, url)
	if tc, ok := c.Conn.(*net.TCPConn); ok {
		tc.SetReadBuffer(4096)
	}
	return c
}

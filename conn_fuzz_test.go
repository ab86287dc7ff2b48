package epchat

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/pprof"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"

	"github.com/epchat-go/epchat/internal/wsframe"
)

// FuzzConnStream feeds bytes to a Hub connection over a real loopback TCP
// connection, the way ServeHTTP runs one after the upgrade, with a fresh
// Hub each time. Whatever the bytes, the Hub must not panic, must write
// only valid server frames (final, unmasked, text holding one JSON object,
// at most one close frame with a code a server may send, nothing after
// it), must end the connection once the client is done, and Shutdown must
// find every goroutine gone.
//
// The first byte chooses how the rest is read: odd, as the raw client
// stream; even, as frames [b0][len][payload] that the harness masks and
// gives a correct length, so the fuzzer reaches the request handlers
// rather than the header checks.
func FuzzConnStream(f *testing.F) {
	text := func(s string) []byte { return frameSpec(0x81, []byte(s)) }
	hello := `{"type":"hello","id":"1","nickname":"Ana"}`
	f.Add(append([]byte{0}, cat(
		text(hello),
		text(`{"type":"create","id":"2"}`),
		text(`{"type":"send","id":"3","room":"x","text":"hi"}`),
		frameSpec(0x89, []byte("ping")),
		text(`{"type":"invite","id":"4","room":"x"}`),
		text(`{"type":"join","id":"5","token":"nope"}`),
		frameSpec(0x88, []byte{3, 232}),
	)...))
	f.Add(append([]byte{0}, cat(
		frameSpec(0x01, []byte(hello[:10])),
		frameSpec(0x89, nil),
		frameSpec(0x80, []byte(hello[10:])),
		text(`{"type":"members","id":"2","room":"r"}`),
		text(`{"type":"hello","id":"3","token":"q3Jr"}`),
	)...))
	f.Add(append([]byte{0}, cat(
		text(`{"type":"hello","nickname":"é"}`),
		frameSpec(0x01, []byte("{\"type\":\"send\",\"text\":\"\xe2")),
		frameSpec(0x80, []byte("\x82\xac\"}")),
		frameSpec(0x82, []byte("bin")),
	)...))
	f.Add(append([]byte{1}, rawClientFrame(0x81, []byte(hello))...))
	f.Add(append([]byte{1}, rawClientFrame(0x88, []byte{0x03, 0xed})...))
	f.Add([]byte{1, 0x81, 0xff, 0, 0, 0, 0, 0, 0, 1, 0, 1, 2, 3, 4})
	f.Add([]byte{1, 0x81, 0x05, 'h', 'e', 'l', 'l', 'o'})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	defer ln.Close()

	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		stream := in[1:]
		if in[0]&1 == 0 {
			stream = framesFromSpec(stream)
		}
		runConnStream(t, ln, stream)
	})
}

// runConnStream runs one connection of a fresh Hub fed stream, checks
// what the server writes back and that everything ends, and returns what
// the server wrote.
//
// To see every reply, the client ends the stream with a close frame, after
// completing a frame the stream leaves unfinished, and half-closes only
// once the server's close frame is in (or the server went quiet): the
// server drops its queue when its peer goes away.
func runConnStream(t *testing.T, ln net.Listener, stream []byte) []byte {
	stream = append(completeStream(stream), rawClientFrame(0x88, []byte{0x03, 0xe8})...)
	h, err := New(WithHandshakeTimeout(time.Second), WithNetpoll(os.Getenv("EPCHAT_NETPOLL") != "off"))
	if err != nil {
		t.Fatal(err)
	}
	cc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	// What ServeHTTP does after the upgrade (with the poller, if any).
	h.guard.admit("fuzz", h.cfg.maxConns, h.cfg.maxConnsPerAddr)
	go h.serveConn(sc, nil, "", "fuzz")

	go cc.Write(stream)
	var out []byte
	buf := make([]byte, 4096)
	halfClosed := false
	for {
		if !halfClosed {
			cc.SetReadDeadline(time.Now().Add(time.Second))
		} else {
			cc.SetReadDeadline(time.Now().Add(10 * time.Second))
		}
		n, err := cc.Read(buf)
		out = append(out, buf[:n]...)
		if !halfClosed && (hasCloseFrame(out) || isTimeout(err)) {
			cc.(*net.TCPConn).CloseWrite()
			halfClosed = true
			continue
		}
		if err == io.EOF || errors.Is(err, net.ErrClosed) || isReset(err) {
			break
		}
		if err != nil {
			t.Fatalf("reading the server: %v", err)
		}
	}
	checkServerStream(t, out)

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- h.Shutdown(ctx)
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Shutdown: %v: a connection did not end with its client", err)
		}
	case <-time.After(10 * time.Second):
		pprof.Lookup("goroutine").WriteTo(os.Stderr, 1)
		t.Fatal("Shutdown hangs")
	}
	if conns, slots := len(h.conns), h.guard.total; conns != 0 || slots != 0 {
		t.Fatalf("%d connections, %d slots left", conns, slots)
	}
	return out
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "read" && !op.Timeout()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// hasCloseFrame reports whether the server stream b holds a close frame.
func hasCloseFrame(b []byte) bool {
	for len(b) >= 2 {
		n, hl := int(b[1]&0x7f), 2
		switch n {
		case 126:
			if len(b) < 4 {
				return false
			}
			n, hl = int(binary.BigEndian.Uint16(b[2:])), 4
		case 127:
			if len(b) < 10 {
				return false
			}
			n, hl = int(binary.BigEndian.Uint64(b[2:])), 10
		}
		if ws.OpCode(b[0]&0x0f) == ws.OpClose {
			return true
		}
		if n < 0 || n > len(b)-hl {
			return false
		}
		b = b[hl+n:]
	}
	return false
}

// completeStream pads a client stream that ends inside a frame with zero
// bytes up to the end of that frame, when it declares at most 64 KiB; a
// larger frame is refused at its header anyway.
func completeStream(b []byte) []byte {
	rest := b
	for len(rest) > 0 {
		if len(rest) < 2 {
			return append(b, 0x80, 0, 0, 0, 0) // masked, empty
		}
		masked := rest[1]&0x80 != 0
		n, hl := uint64(rest[1]&0x7f), 2
		switch n {
		case 126:
			hl = 4
		case 127:
			hl = 10
		}
		if masked {
			hl += 4
		}
		if len(rest) < hl {
			return append(b, make([]byte, hl-len(rest))...) // zero length bytes
		}
		switch rest[1] & 0x7f {
		case 126:
			n = uint64(binary.BigEndian.Uint16(rest[2:]))
		case 127:
			n = binary.BigEndian.Uint64(rest[2:])
		}
		if n > 64<<10 {
			return b
		}
		if uint64(len(rest)-hl) < n {
			return append(b, make([]byte, n-uint64(len(rest)-hl))...)
		}
		rest = rest[hl+int(n):]
	}
	return b
}

// checkServerStream checks every frame the server wrote. The stream may
// end inside a frame: the server drops what is queued once the client has
// gone.
func checkServerStream(t *testing.T, b []byte) {
	t.Helper()
	closed := false
	for len(b) > 0 {
		if len(b) < 2 {
			return
		}
		b0, b1 := b[0], b[1]
		if b0&0x80 == 0 || b0&0x70 != 0 || b1&0x80 != 0 {
			t.Fatalf("bad server frame header % x", b[:2])
		}
		op := ws.OpCode(b0 & 0x0f)
		n, hl := int(b1&0x7f), 2
		switch n {
		case 126:
			if len(b) < 4 {
				return
			}
			n, hl = int(binary.BigEndian.Uint16(b[2:])), 4
		case 127:
			if len(b) < 10 {
				return
			}
			n, hl = int(binary.BigEndian.Uint64(b[2:])), 10
		}
		if n < 0 || n > len(b)-hl {
			return
		}
		p := b[hl : hl+n]
		b = b[hl+n:]
		if closed {
			t.Fatalf("frame %v after the close frame", op)
		}
		switch op {
		case ws.OpText:
			var m map[string]any
			if !utf8.Valid(p) || json.Unmarshal(p, &m) != nil || m["type"] == nil {
				t.Fatalf("bad server event %q", p)
			}
		case ws.OpPing, ws.OpPong:
			if n > 125 {
				t.Fatalf("control frame of %d bytes", n)
			}
		case ws.OpClose:
			closed = true
			if n == 0 {
				continue
			}
			code := ws.StatusCode(binary.BigEndian.Uint16(p))
			if n < 2 || n > 125 || !wsframe.ValidCloseCode(code) || !utf8.Valid(p[2:]) {
				t.Fatalf("bad close frame % x", p)
			}
		default:
			t.Fatalf("server frame with opcode %v", op)
		}
	}
}

// frameSpec encodes one frame for the even mode of FuzzConnStream.
func frameSpec(b0 byte, payload []byte) []byte {
	return append([]byte{b0, byte(len(payload))}, payload...)
}

// framesFromSpec turns [b0][len][payload]... into masked client frames
// with b0 as given and a correct length.
func framesFromSpec(spec []byte) []byte {
	var out []byte
	for len(spec) >= 2 {
		b0, n := spec[0], int(spec[1])
		spec = spec[2:]
		n = min(n, len(spec))
		out = append(out, rawClientFrame(b0, spec[:n])...)
		spec = spec[n:]
	}
	return out
}

// rawClientFrame masks payload in a frame with first byte b0.
func rawClientFrame(b0 byte, payload []byte) []byte {
	mask := [4]byte{1, 2, 3, 4}
	var f []byte
	switch n := len(payload); {
	case n < 126:
		f = []byte{b0, 0x80 | byte(n)}
	default:
		f = binary.BigEndian.AppendUint16([]byte{b0, 0x80 | 126}, uint16(n))
	}
	f = append(f, mask[:]...)
	start := len(f)
	f = append(f, payload...)
	ws.Cipher(f[start:], mask, 0)
	return f
}

func cat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

// TestConnStreamHarness checks that FuzzConnStream's harness sees every
// reply of a well-behaved stream and the server's close.
func TestConnStreamHarness(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	out := runConnStream(t, ln, cat(
		rawClientFrame(0x81, []byte(`{"type":"hello","id":"1","nickname":"Ana"}`)),
		rawClientFrame(0x81, []byte(`{"type":"create","id":"2"}`)),
		rawClientFrame(0x81, []byte(`{"type":"dance","id":"3"}`)),
	))
	for _, want := range []string{`"type":"welcome","id":"1"`, `"type":"joined","id":"2"`, `"code":"unknown_type"`, "\x88\x02\x03\xe8"} {
		if !strings.Contains(fmt.Sprintf("%q", out), want) && !strings.Contains(string(out), want) {
			t.Errorf("server stream lacks %s: %q", want, out)
		}
	}
	// A stream cut inside a frame is completed, so the close still comes.
	out = runConnStream(t, ln, rawClientFrame(0x81, []byte(`{"type":"hello","id":"1","nickname":"Ana"}`))[:20])
	if !hasCloseFrame(out) {
		t.Errorf("no close frame after a cut stream: %q", out)
	}
}

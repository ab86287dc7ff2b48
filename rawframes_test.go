package epchat_test

// Frames and upgrades built by hand, valid or not, for the tests that
// speak below the test client.

import (
	"bufio"
	"encoding/binary"
	"net"
	"net/http"
	"testing"

	"github.com/gobwas/ws"

	"github.com/epchat-go/epchat"
	"github.com/epchat-go/epchat/epchattest"
)

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
func dialRawUpgrade(t testing.TB, addr string, extra []byte) *epchattest.Client {
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
	return epchattest.New(t, nc, br)
}

// smallSendBuffer makes the kernel send buffer of the Hub's connections
// small, so that a peer that stops reading fills it after a few kilobytes,
// not the default 64 KiB (the read side keeps its size: tiny windows are
// slow).
var smallSendBuffer = epchat.WithSocketSendBuffer(4096)

// dialSmall is dial with a small receive buffer on the client's socket.
func dialSmall(t testing.TB, url string) *epchattest.Client {
	t.Helper()
	c := epchattest.Dial(t, url)
	if tc, ok := c.Conn.(*net.TCPConn); ok {
		tc.SetReadBuffer(4096)
	}
	return c
}

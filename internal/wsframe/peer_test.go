package wsframe

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// TestGobwasClientFrames reads what gobwas/ws writes as a client: single
// frames, fragmented messages from its buffered writer, control frames.
func TestGobwasClientFrames(t *testing.T) {
	var stream bytes.Buffer
	long := strings.Repeat("añ€😀", 500)
	if err := ws.WriteFrame(&stream, ws.MaskFrame(ws.NewTextFrame([]byte("hello")))); err != nil {
		t.Fatal(err)
	}
	if err := wsutil.WriteClientText(&stream, []byte(long)); err != nil {
		t.Fatal(err)
	}
	// Small writes into a 16-byte buffer make the writer send the message
	// in fragments, cutting runes.
	writeFragmented(t, wsutil.NewWriterSize(&stream, ws.StateClientSide, ws.OpText, 16), long, 5)
	if err := ws.WriteFrame(&stream, ws.MaskFrame(ws.NewPingFrame([]byte("ping")))); err != nil {
		t.Fatal(err)
	}
	if err := ws.WriteFrame(&stream, ws.MaskFrame(ws.NewPongFrame(nil))); err != nil {
		t.Fatal(err)
	}
	body := ws.NewCloseFrameBody(ws.StatusNormalClosure, "done")
	if err := ws.WriteFrame(&stream, ws.MaskFrame(ws.NewCloseFrame(body))); err != nil {
		t.Fatal(err)
	}
	if n := countFrames(t, stream.Bytes()); n < 20 {
		t.Fatalf("stream has %d frames, expected the writer to fragment the message", n)
	}
	want := []event{text("hello"), text(long), text(long), ping("ping"), pong(""), closed(ws.StatusNormalClosure, "done")}
	for _, c := range chunkings {
		r := Reader{MaxMessage: 1 << 16}
		if got := run(&r, stream.Bytes(), c.next()); !got.equal(result{events: want, idle: true}) {
			t.Errorf("fed %s: got %d events, %v", c.name, len(got.events), got.err)
		}
	}
}

// echo is the Handler of the loopback server: it answers on the socket
// with the writers of this package, as the Hub will.
type echo struct {
	conn net.Conn
	out  []byte
	done bool
}

func (e *echo) OnText(p []byte) { e.out = AppendText(e.out, bytes.ToUpper(p)) }
func (e *echo) OnPing(p []byte) { e.out = AppendFrame(e.out, ws.OpPong, p) }
func (e *echo) OnPong([]byte)   {}
func (e *echo) OnClose(code ws.StatusCode, _ []byte) {
	e.out = AppendClose(e.out, code, "")
	e.done = true
}

// TestLoopbackWithGobwasClient runs a real WebSocket over loopback: a
// gobwas/ws client on one side, this package's Reader and writers on the
// other, reading from the socket with a small buffer as the Hub's reader
// goroutine does.
func TestLoopbackWithGobwasClient(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	serverErr := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			serverErr <- err
			return
		}
		defer conn.Close()
		if _, err := ws.Upgrade(conn); err != nil {
			serverErr <- err
			return
		}
		e := &echo{conn: conn}
		r := Reader{MaxMessage: 1 << 16}
		defer r.Release()
		buf := make([]byte, 100) // smaller than most frames
		for !e.done {
			n, err := conn.Read(buf)
			if err != nil {
				serverErr <- err
				return
			}
			if err := r.Feed(buf[:n], e); err != nil {
				serverErr <- err
				return
			}
			if len(e.out) > 0 {
				if _, err := conn.Write(e.out); err != nil {
					serverErr <- err
					return
				}
				e.out = e.out[:0]
			}
		}
		serverErr <- nil
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, _, err := ws.Dial(ctx, "ws://"+ln.Addr().String()+"/")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))

	expect := func(op ws.OpCode, payload string) {
		t.Helper()
		f, err := ws.ReadFrame(conn)
		if err != nil {
			t.Fatalf("client read: %v", err)
		}
		if f.Header.OpCode != op || !f.Header.Fin || string(f.Payload) != payload {
			t.Fatalf("client got op %d %q, want op %d %q", f.Header.OpCode, f.Payload, op, payload)
		}
	}

	if err := wsutil.WriteClientText(conn, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	expect(ws.OpText, "HELLO")

	long := strings.Repeat("abc", 5000)
	writeFragmented(t, wsutil.NewWriterSize(conn, ws.StateClientSide, ws.OpText, 700), long, 100)
	expect(ws.OpText, strings.ToUpper(long))

	if err := wsutil.WriteClientMessage(conn, ws.OpPing, []byte("are you there")); err != nil {
		t.Fatal(err)
	}
	expect(ws.OpPong, "are you there")

	body := ws.NewCloseFrameBody(ws.StatusGoingAway, "bye")
	if err := wsutil.WriteClientMessage(conn, ws.OpClose, body); err != nil {
		t.Fatal(err)
	}
	f, err := ws.ReadFrame(conn)
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := ws.ParseCloseFrameData(f.Payload); f.Header.OpCode != ws.OpClose || code != ws.StatusGoingAway {
		t.Fatalf("client got op %d code %d, want the close echoed", f.Header.OpCode, code)
	}
	if err := <-serverErr; err != nil {
		t.Fatalf("server: %v", err)
	}
}

// TestLoopbackViolation: a gobwas client sending a binary message gets the
// violation's close frame from the server.
func TestLoopbackViolation(t *testing.T) {
	server, client := net.Pipe()
	defer client.Close()
	go func() {
		defer server.Close()
		var r Reader
		buf := make([]byte, 64)
		for {
			n, err := server.Read(buf)
			if err != nil {
				return
			}
			if err := r.Feed(buf[:n], nopHandler{}); err != nil {
				ce := err.(*CloseError)
				server.Write(AppendClose(nil, ce.Code, ce.Reason))
				return
			}
		}
	}()
	client.SetDeadline(time.Now().Add(10 * time.Second))
	go wsutil.WriteClientBinary(client, []byte{1, 2, 3})
	f, err := ws.ReadFrame(client)
	if err != nil {
		t.Fatal(err)
	}
	code, reason := ws.ParseCloseFrameData(f.Payload)
	if f.Header.OpCode != ws.OpClose || code != ws.StatusUnsupportedData || reason != ErrBinary.Reason {
		t.Errorf("got op %d, %d %q; want close 1003", f.Header.OpCode, code, reason)
	}
}

// countFrames counts the frames in stream with gobwas/ws.
func countFrames(t *testing.T, stream []byte) int {
	t.Helper()
	r := bytes.NewReader(stream)
	n := 0
	for r.Len() > 0 {
		if _, err := ws.ReadFrame(r); err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}

// writeFragmented writes msg to w in pieces of n bytes and flushes it, so
// that w sends one fragment each time its buffer fills.
func writeFragmented(t *testing.T, w *wsutil.Writer, msg string, n int) {
	t.Helper()
	for len(msg) > 0 {
		k := min(n, len(msg))
		if _, err := w.Write([]byte(msg[:k])); err != nil {
			t.Fatal(err)
		}
		msg = msg[k:]
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
}

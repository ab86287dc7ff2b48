package transport

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/epchat-go/epchat/internal/wsframe"
)

// FuzzConn drives one connection from both ends at once with operations
// the input chooses: the peer writes texts, pings, a close or a broken
// frame; the server side sends small and large frames, closes, pings and
// aborts. Whatever the order: no state or writer transition is illegal
// (Strict panics), the peer reads only valid server frames and nothing
// after a close frame, the connection is torn down once the peer leaves,
// Ended is called once, and no writer goroutine is left (newPair's
// cleanup checks the last three).
func FuzzConn(f *testing.F) {
	f.Add([]byte{0, 4, 4, 0, 1, 6, 2})
	f.Add([]byte{1, 5, 5, 5, 5, 5, 5, 0, 2})
	f.Add([]byte{0, 6, 2, 4, 7})
	f.Add([]byte{1, 3, 4, 0})
	f.Add([]byte{0, 8, 2, 6, 9, 7})
	f.Add([]byte{1, 2, 6, 4, 9, 9})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) == 0 {
			return
		}
		polled := ops[0]&1 == 0
		ops = ops[1:min(len(ops), 48)]
		p := newPair(t, polled, 64<<10, 16<<10)
		p.u.echo = true
		bad := make(chan error, 1)
		go func() { bad <- checkStream(p.peer) }()
		peerWrite := func(fr ws.Frame) { ws.WriteFrame(p.peer, ws.MaskFrameInPlace(fr)) } // the server may be gone
		for _, op := range ops {
			switch op % 10 {
			case 0:
				peerWrite(ws.NewTextFrame([]byte(`{"type":"x"}`)))
			case 1:
				peerWrite(ws.NewPingFrame([]byte("p")))
			case 2:
				peerWrite(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, "")))
			case 3:
				ws.WriteFrame(p.peer, ws.NewTextFrame([]byte("unmasked"))) // a violation
			case 4:
				p.c.Send(wsframe.AppendText(nil, []byte("small")))
			case 5:
				p.c.Send(wsframe.AppendText(nil, bytes.Repeat([]byte("L"), 20<<10)))
			case 6:
				p.c.CloseWith(4000, "done")
			case 7:
				p.c.Abort()
			case 8:
				p.c.Ping()
			case 9:
				time.Sleep(time.Millisecond)
			}
		}
		p.peer.(*net.TCPConn).CloseWrite() // the peer is done writing, still reads
		select {
		case err := <-bad:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the server neither closed nor hung up within 10 s of the peer's FIN")
		}
	})
}

// checkStream reads server frames until the stream ends, and returns the
// first thing wrong with them.
func checkStream(r io.Reader) error {
	closed := false
	for {
		f, err := ws.ReadFrame(r)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) && closed || isReset(err) {
				return nil
			}
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return nil // hung up mid-frame: Abort, or a write timeout
			}
			return err
		}
		switch {
		case closed:
			return errors.New("a frame after the close frame")
		case !f.Header.Fin || f.Header.Masked:
			return errors.New("a server frame not final or masked")
		case f.Header.OpCode != ws.OpText && f.Header.OpCode != ws.OpClose &&
			f.Header.OpCode != ws.OpPing && f.Header.OpCode != ws.OpPong:
			return errors.New("a server frame of an unexpected opcode")
		}
		closed = f.Header.OpCode == ws.OpClose
	}
}

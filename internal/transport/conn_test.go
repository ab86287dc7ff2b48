package transport

import (
	"bytes"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/epchat-go/epchat/internal/wsframe"
)

// readUntilClose reads the server's frames up to and with its close frame.
func (p *pair) readUntilClose(t *testing.T, within time.Duration) []frame {
	t.Helper()
	p.peer.SetReadDeadline(time.Now().Add(within))
	var out []frame
	for {
		f, err := ws.ReadFrame(p.peer)
		if err != nil {
			t.Fatalf("after %d frames: %v", len(out), err)
		}
		out = append(out, frame{f.Header.OpCode, f.Payload})
		if f.Header.OpCode == ws.OpClose {
			return out
		}
	}
}

// Text messages reach the layer above in order, fragmented ones whole;
// what it sends comes back in order; a ping gets its pong.
func TestEchoInOrder(t *testing.T) {
	modes(t, func(t *testing.T, polled bool) {
		p := newPair(t, polled, 1<<20, 0)
		p.u.echo = true
		for i := range 50 {
			p.send(t, ws.OpText, fmt.Appendf(nil, "m%d", i))
		}
		// One message in three fragments, a ping between them.
		w := ws.MaskFrameInPlace(ws.NewFrame(ws.OpText, false, []byte("frag")))
		ws.WriteFrame(p.peer, w)
		p.send(t, ws.OpPing, []byte("are you there"))
		ws.WriteFrame(p.peer, ws.MaskFrameInPlace(ws.NewFrame(ws.OpContinuation, false, []byte("men"))))
		ws.WriteFrame(p.peer, ws.MaskFrameInPlace(ws.NewFrame(ws.OpContinuation, true, []byte("ted"))))

		p.peer.SetReadDeadline(time.Now().Add(5 * time.Second))
		var texts []string
		var pong []byte
		for len(texts) < 51 || pong == nil {
			f, err := ws.ReadFrame(p.peer)
			if err != nil {
				t.Fatalf("after %d texts: %v", len(texts), err)
			}
			switch f.Header.OpCode {
			case ws.OpText:
				texts = append(texts, string(f.Payload))
			case ws.OpPong:
				pong = f.Payload
			default:
				t.Fatalf("unexpected %v", f.Header.OpCode)
			}
		}
		for i := range 50 {
			if want := fmt.Sprintf("m%d", i); texts[i] != want {
				t.Fatalf("text %d = %q, want %q", i, texts[i], want)
			}
		}
		if texts[50] != "fragmented" || string(pong) != "are you there" {
			t.Fatalf("got %q and pong %q", texts[50], pong)
		}
		// The writer counts its bytes once the write returns, which the
		// peer may see after it has read them: wait for the count.
		for deadline := time.Now().Add(5 * time.Second); p.env.BytesOut.Load() == 0 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		if n := p.env.BytesIn.Load(); n == 0 || p.env.BytesOut.Load() == 0 {
			t.Fatalf("bytes counted: in %d, out %d", n, p.env.BytesOut.Load())
		}
	})
}

// A peer that closes gets its code back, then the socket closes; the
// layer above hears PeerGone first and Ended once, and what it sends
// afterwards goes nowhere.
func TestPeerCloses(t *testing.T) {
	modes(t, func(t *testing.T, polled bool) {
		p := newPair(t, polled, 1<<20, 0)
		p.send(t, ws.OpClose, ws.NewCloseFrameBody(ws.StatusGoingAway, "bye"))
		got := p.read(t, 5*time.Second)
		if len(got) != 1 {
			t.Fatalf("frames: %v, want one close", got)
		}
		if code, _ := closeCode(got[0]); code != ws.StatusGoingAway {
			t.Fatalf("close code %d, want the peer's 1001", code)
		}
		p.u.waitEnded(t, 5*time.Second)
		if code, _ := p.u.cause(); code != PeerGone {
			t.Fatalf("first cause %d, want PeerGone", code)
		}
		p.c.Send(wsframe.AppendText(nil, []byte("late"))) // must not panic or write
		p.c.CloseWith(ws.StatusNormalClosure, "")
	})
}

// CloseWith writes what was queued, then the close frame, and nothing
// after it; the peer's answer completes the handshake and the socket
// closes.
func TestCloseAfterQueued(t *testing.T) {
	modes(t, func(t *testing.T, polled bool) {
		p := newPair(t, polled, 1<<20, 0)
		for i := range 3 {
			p.c.Send(wsframe.AppendText(nil, fmt.Appendf(nil, "q%d", i)))
		}
		p.c.CloseWith(4000, "identify timeout")
		p.c.Send(wsframe.AppendText(nil, []byte("after close")))
		got := p.readUntilClose(t, 5*time.Second)
		if len(got) != 4 || string(got[2].payload) != "q2" {
			t.Fatalf("frames %v, want q0 q1 q2 and the close", got)
		}
		if code, reason := closeCode(got[3]); code != 4000 || reason != "identify timeout" {
			t.Fatalf("close %d %q", code, reason)
		}
		if code, _ := p.u.cause(); code != 4000 {
			t.Fatalf("cause %d, want 4000", code)
		}
		p.send(t, ws.OpClose, ws.NewCloseFrameBody(4000, ""))
		start := time.Now()
		if rest := p.read(t, 5*time.Second); len(rest) != 0 {
			t.Fatalf("frames after the close: %v", rest)
		}
		p.u.waitEnded(t, 5*time.Second)
		if d := time.Since(start); d > testDrain {
			t.Fatalf("torn down %v after the answer: the answer did not end the handshake", d)
		}
	})
}

// A peer that reads our close frame but never answers is hung up one
// drain later.
func TestNoAnswerHungUp(t *testing.T) {
	modes(t, func(t *testing.T, polled bool) {
		p := newPair(t, polled, 1<<20, 0)
		start := time.Now()
		p.c.CloseWith(ws.StatusNormalClosure, "")
		p.readUntilClose(t, 5*time.Second)
		p.u.waitEnded(t, 5*time.Second)
		if d := time.Since(start); d < testDrain {
			t.Fatalf("hung up after %v, before the drain of %v", d, testDrain)
		}
	})
}

// A stream that breaks the protocol (an unmasked frame) is closed with
// 1002, and its peer gets only a short while to read that.
func TestProtocolViolation(t *testing.T) {
	modes(t, func(t *testing.T, polled bool) {
		p := newPair(t, polled, 1<<20, 0)
		p.u.echo = true
		ws.WriteFrame(p.peer, ws.NewTextFrame([]byte("unmasked")))
		got := p.read(t, 5*time.Second)
		if len(got) != 1 {
			t.Fatalf("frames %v, want one close", got)
		}
		if code, _ := closeCode(got[0]); code != ws.StatusProtocolError {
			t.Fatalf("close code %d, want 1002", code)
		}
		p.u.waitEnded(t, 2*violationDrain+time.Second)
		if code, _ := p.u.cause(); code != ws.StatusProtocolError {
			t.Fatalf("cause %d", code)
		}
		if len(p.u.texts) != 0 {
			t.Fatalf("a message of a broken stream went up: %q", p.u.texts)
		}
	})
}

// Abort from another goroutine tears the connection down: the read side
// ends and the peer sees the socket go.
func TestAbort(t *testing.T) {
	modes(t, func(t *testing.T, polled bool) {
		p := newPair(t, polled, 1<<20, 0)
		go p.c.Abort()
		p.u.waitEnded(t, 5*time.Second)
		p.peer.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := p.peer.Read(make([]byte, 1)); err == nil {
			t.Fatal("the peer still reads from an aborted connection")
		}
	})
}

// A peer that does not read overflows its queue: it alone is closed with
// CloseTooSlow, and when it reads again everything it gets is whole
// frames, in order, ending with that close (a frame cut by a full socket
// is finished first).
func TestTooSlow(t *testing.T) {
	modes(t, func(t *testing.T, polled bool) {
		const size, limit = 10 << 10, 256 << 10
		p := newPair(t, polled, limit, 16<<10)
		payload := func(i int) []byte { return bytes.Repeat([]byte{byte('a' + i%26)}, size) }
		sent := 0
		for ; sent < 10*limit/size; sent++ {
			p.c.Send(wsframe.AppendText(nil, payload(sent)))
			if code, ok := p.u.cause(); ok {
				if code != CloseTooSlow {
					t.Fatalf("cause %d, want %d", code, CloseTooSlow)
				}
				break
			}
			time.Sleep(time.Millisecond) // let the writer fill the socket
		}
		if _, ok := p.u.cause(); !ok {
			t.Fatalf("%d frames of %d bytes queued to a peer that does not read, with a limit of %d: not closed", sent, size, limit)
		}
		got := p.readUntilClose(t, 10*time.Second)
		last := got[len(got)-1]
		if code, _ := closeCode(last); code != CloseTooSlow {
			t.Fatalf("close code %d", code)
		}
		for i, f := range got[:len(got)-1] {
			if f.op != ws.OpText || !bytes.Equal(f.payload, payload(i)) {
				t.Fatalf("frame %d is not the %dth text sent", i, i)
			}
		}
		p.send(t, ws.OpClose, ws.NewCloseFrameBody(CloseTooSlow, ""))
	})
}

// Frames larger than the socket buffers reach a slow reader whole and in
// order: in poll mode the writer waits for room and resumes mid-frame.
func TestPartialWrites(t *testing.T) {
	modes(t, func(t *testing.T, polled bool) {
		const n, size = 12, 64 << 10
		p := newPair(t, polled, 8<<20, 16<<10)
		for i := range n {
			p.c.Send(wsframe.AppendText(nil, bytes.Repeat([]byte{byte('A' + i%26)}, size)))
		}
		p.peer.SetReadDeadline(time.Now().Add(20 * time.Second))
		r := &slowReader{r: p.peer}
		for i := range n {
			f, err := ws.ReadFrame(r)
			if err != nil {
				t.Fatalf("frame %d: %v", i, err)
			}
			if len(f.Payload) != size || f.Payload[0] != byte('A'+i%26) || f.Payload[size-1] != byte('A'+i%26) {
				t.Fatalf("frame %d: %d bytes of %q", i, len(f.Payload), f.Payload[:1])
			}
		}
		p.c.CloseWith(ws.StatusNormalClosure, "")
		f, err := ws.ReadFrame(r)
		if err != nil || f.Header.OpCode != ws.OpClose {
			t.Fatalf("after the texts: %v %v", f.Header.OpCode, err)
		}
		if polled && p.c.Waits() == 0 {
			t.Fatal("the writer never waited for room: the test did not fill the socket")
		}
		p.send(t, ws.OpClose, nil)
	})
}

// slowReader reads in small pieces, so the server's socket stays full.
type slowReader struct{ r io.Reader }

func (s *slowReader) Read(b []byte) (int, error) { return s.r.Read(b[:min(len(b), 16<<10)]) }

// The handshake only moves forward, and closeSent only from closing; the
// writes change hands only as the package doc draws it.
func TestTransitions(t *testing.T) {
	states := []state{open, closing, closeSent, dead}
	legal := map[[2]state]bool{
		{open, closing}: true, {closing, closeSent}: true,
		{open, dead}: true, {closing, dead}: true, {closeSent, dead}: true,
	}
	for _, from := range states {
		for _, to := range states {
			if got := legalState(from, to); got != legal[[2]state{from, to}] {
				t.Errorf("state %d → %d legal = %v", from, to, got)
			}
		}
	}
	writers := []writer{idle, writing, waiting}
	legalW := map[[2]writer]bool{
		{idle, writing}: true, {writing, idle}: true, {writing, waiting}: true,
		{waiting, writing}: true, {waiting, idle}: true,
	}
	for _, from := range writers {
		for _, to := range writers {
			if got := legalWriter(from, to); got != legalW[[2]writer{from, to}] {
				t.Errorf("writer %d → %d legal = %v", from, to, got)
			}
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("an illegal transition did not panic under Strict")
		}
	}()
	var c Conn
	c.setState(closeSent) // from open
}

// SendAll queues a burst in order, less the frames from the connection
// itself; a burst that would overflow the queue closes the connection as
// too slow, and nothing of it is sent.
func TestSendAll(t *testing.T) {
	modes(t, func(t *testing.T, polled bool) {
		const limit = 64 << 10
		p := newPair(t, polled, limit, 0)
		var frames [][]byte
		var from []uint64
		for i := range 6 {
			frames = append(frames, wsframe.AppendText(nil, fmt.Appendf(nil, "m%d", i)))
			from = append(from, uint64(i%3)) // every third is the connection's own
		}
		own := p.c.ID
		from[1], from[4] = own, own
		if n := p.c.SendAll(frames, from); n != 4 {
			t.Fatalf("SendAll counted %d frames for the connection; want 4", n)
		}
		if n := p.c.SendAll(frames[:1], []uint64{own}); n != 0 {
			t.Fatalf("SendAll of the connection's own frame counted %d", n)
		}
		p.peer.SetReadDeadline(time.Now().Add(5 * time.Second))
		var texts []string
		for range 4 {
			f, err := ws.ReadFrame(p.peer)
			if err != nil {
				t.Fatalf("after %q: %v", texts, err)
			}
			texts = append(texts, string(f.Payload))
		}
		if fmt.Sprint(texts) != "[m0 m2 m3 m5]" {
			t.Fatalf("received %q; want m0 m2 m3 m5 (not the connection's own)", texts)
		}
		big := [][]byte{wsframe.AppendText(nil, bytes.Repeat([]byte("x"), limit/2)), wsframe.AppendText(nil, bytes.Repeat([]byte("y"), limit/2))}
		p.c.SendAll(big, []uint64{0, 0})
		got := p.readUntilClose(t, 5*time.Second)
		if len(got) != 1 {
			t.Fatalf("%d frames before the close; want none of the burst over the limit", len(got)-1)
		}
		if code, _ := closeCode(got[0]); code != CloseTooSlow {
			t.Fatalf("close code %d; want %d", code, CloseTooSlow)
		}
		p.send(t, ws.OpClose, ws.NewCloseFrameBody(CloseTooSlow, ""))
	})
}

package transport

import (
	"errors"

	"github.com/gobwas/ws"

	"github.com/epchat-go/epchat/internal/wsframe"
)

// read takes bytes the socket gave: proof of life, and the stream.
func (c *Conn) read(b []byte) {
	c.lastRead.Store(c.env.Clock())
	c.feed(b)
}

// feed parses b, and closes the connection at the first protocol
// violation: the rest of the stream is ignored.
func (c *Conn) feed(b []byte) {
	c.env.BytesIn.Add(uint64(len(b)))
	if c.broken {
		return
	}
	err := c.rd.Feed(b, (*frames)(c))
	if err == nil {
		return
	}
	c.broken = true
	code := ws.StatusProtocolError
	reason := "protocol error"
	var ce *wsframe.CloseError
	if errors.As(err, &ce) {
		code, reason = ce.Code, ce.Reason
	}
	c.env.Log.Debug("protocol violation", "conn", c.ID, "code", int(code))
	// The rest of the stream cannot be read, the peer's close reply
	// included: give it only a short while to read our close frame.
	c.mu.Lock()
	c.set(bitShortDrain, true)
	c.mu.Unlock()
	c.CloseWith(code, reason)
}

// frames is the Conn as the frame reader's handler, so that its methods
// are not the Conn's.
type frames Conn

// OnText implements wsframe.Handler: one message for the layer above.
func (f *frames) OnText(p []byte) {
	c := (*Conn)(f)
	c.mu.Lock()
	st := c.st
	c.mu.Unlock()
	if st != open {
		return
	}
	c.up.Text(p)
	if c.has(flagPolled) {
		c.env.Poller.Progress() // handled: this worker is not stuck
	}
}

// OnPing implements wsframe.Handler. The pong counts toward the queue
// limit like any frame: a peer that pings without reading the answers is
// too slow, not a reason to grow the queue without end.
func (f *frames) OnPing(p []byte) {
	(*Conn)(f).enqueue(wsframe.AppendFrame(nil, ws.OpPong, p), false)
}

// OnPong implements wsframe.Handler. Reading it was the proof of life.
func (f *frames) OnPong([]byte) {}

// OnClose implements wsframe.Handler. If the peer started the closing
// handshake, answer in kind; if it answers ours, the handshake is complete
// and the socket closes as soon as our close frame is out.
func (f *frames) OnClose(code ws.StatusCode, _ []byte) {
	c := (*Conn)(f)
	c.up.Ending(PeerGone)
	if code == ws.StatusNoStatusRcvd {
		code = ws.StatusNormalClosure
	}
	c.mu.Lock()
	c.set(bitPeerClosed, true)
	st := c.st
	c.mu.Unlock()
	switch st {
	case open:
		c.CloseWith(code, "")
	case closeSent:
		// The handshake is complete. Hang up; the next read fails and the
		// read side tears the connection down (not here: this runs inside
		// the frame reader).
		c.Abort()
	}
}

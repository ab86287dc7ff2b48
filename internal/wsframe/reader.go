package wsframe

import (
	"encoding/binary"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// DefaultMaxMessage is the message limit of a Reader whose MaxMessage is
// zero or negative.
const DefaultMaxMessage = 64 << 10

// Handler receives what a Reader finds, in stream order. The slices it is
// given are valid only during the call: they point into the caller's read
// buffer or into a pooled buffer that is reused right after.
type Handler interface {
	// OnText receives one complete text message, valid UTF-8.
	OnText(p []byte)
	// OnPing receives a ping's payload (at most 125 bytes).
	OnPing(p []byte)
	// OnPong receives a pong's payload (at most 125 bytes).
	OnPong(p []byte)
	// OnClose receives the peer's close frame, validated. code is
	// ws.StatusNoStatusRcvd (1005) when the frame has no payload.
	OnClose(code ws.StatusCode, reason []byte)
}

// Reader parses the client-to-server byte stream of one connection. It is
// incremental: Feed takes the bytes in chunks of any size and keeps what it
// needs of a partial frame between calls. Between messages it holds no
// buffer. The zero Reader is ready to use with the default limits.
//
// A Reader is not safe for concurrent use; one reader goroutine or one event
// loop owns it.
type Reader struct {
	// MaxFrame is the largest payload of one data frame. A frame that
	// declares more fails with ErrFrameTooBig (1009) at its header, before
	// any of its payload is read. Zero or negative: only MaxMessage applies.
	MaxFrame int32
	// MaxMessage is the largest text message, over all its fragments. A
	// frame that would take the message past it fails with
	// ErrMessageTooBig (1009) at its header. Zero or negative means
	// DefaultMaxMessage.
	MaxMessage int32

	remain int64       // payload bytes of the current frame still to come
	buf    *[]byte     // pooled buffer of the data message being assembled
	ctl    *[]byte     // pooled buffer of a control payload split across Feeds
	err    *CloseError // the violation that ended the stream

	mask   [4]byte   // masking key of the current frame
	hdrN   uint8     // header bytes read of the current frame
	hdrLen uint8     // header length of the current frame, 0 until known
	pos    uint8     // payload bytes of the current frame read so far, mod 4
	carry  uint8     // bytes at the end of buf that begin an unfinished rune
	op     ws.OpCode // opcode of the current frame
	fin    bool      // FIN bit of the current frame
	frag   bool      // a fragmented text message is open
	closed bool      // the peer's close frame was delivered
}

// Feed consumes b and calls h for each complete message or control frame in
// it, in order. It unmasks b in place. A chunk may hold any part of the
// stream: a byte, half a header, several frames and a half.
//
// After a violation Feed returns a *CloseError (one of the Err values) and
// returns it again on every later call without reading. After the peer's
// close frame it drops everything that follows and returns nil.
func (r *Reader) Feed(b []byte, h Handler) error {
	if r.err != nil {
		return r.err
	}
	for !r.closed {
		if r.hdrLen == 0 || r.hdrN < r.hdrLen {
			if len(b) == 0 {
				return nil
			}
			n, err := r.header(b)
			b = b[n:]
			if err != nil {
				return r.fail(err)
			}
			if r.hdrLen == 0 || r.hdrN < r.hdrLen {
				return nil // b ended inside the header
			}
		}
		if r.remain > 0 && len(b) == 0 {
			return nil
		}
		n := int(min(r.remain, int64(len(b))))
		p := b[:n]
		b = b[n:]
		ws.Cipher(p, r.mask, int(r.pos))
		r.pos = uint8((int(r.pos) + n) & 3)
		r.remain -= int64(n)
		var err *CloseError
		if r.op.IsControl() {
			err = r.control(p, h)
		} else {
			err = r.data(p, h)
		}
		if err != nil {
			return r.fail(err)
		}
		if r.remain == 0 {
			r.hdrN, r.hdrLen = 0, 0
		}
	}
	return nil
}

// Idle reports whether r holds no partial frame or message, and so no
// buffer. It is also true once the stream has ended.
func (r *Reader) Idle() bool {
	return r.hdrN == 0 && !r.frag && r.buf == nil && r.ctl == nil
}

// Release returns any buffer r holds to its pool and puts r back at the
// start of a stream, as a zero Reader with the same limits. Call it when the
// connection goes away in the middle of a message.
func (r *Reader) Release() {
	r.drop()
	*r = Reader{MaxFrame: r.MaxFrame, MaxMessage: r.MaxMessage}
}

// drop returns the buffers and forgets any partial frame or message.
func (r *Reader) drop() {
	if r.buf != nil {
		putBuf(r.buf)
		r.buf = nil
	}
	if r.ctl != nil {
		putBuf(r.ctl)
		r.ctl = nil
	}
	r.hdrN, r.hdrLen, r.remain, r.carry, r.frag = 0, 0, 0, 0, false
}

// fail ends the stream with err.
func (r *Reader) fail(err *CloseError) error {
	r.drop()
	r.err = err
	return err
}

// maxMessage is the message limit in effect.
func (r *Reader) maxMessage() int64 {
	if r.MaxMessage <= 0 {
		return DefaultMaxMessage
	}
	return int64(r.MaxMessage)
}

// msgLen is the number of bytes of the open data message received so far.
func (r *Reader) msgLen() int64 {
	if r.buf == nil {
		return 0
	}
	return int64(len(*r.buf))
}

// header reads header bytes from b, one at a time so that a header may be
// split anywhere, and checks each field as soon as it is complete. It
// returns how many bytes it consumed: up to the end of the header or of b.
func (r *Reader) header(b []byte) (int, *CloseError) {
	for i, c := range b {
		n := r.hdrN
		switch {
		case n == 0:
			if c&0x70 != 0 {
				return i, ErrReservedBits
			}
			op, fin := ws.OpCode(c&0x0f), c&0x80 != 0
			switch {
			case op.IsReserved():
				return i, ErrReservedOpCode
			case op.IsControl():
				if !fin {
					return i, ErrControlFragmented
				}
			case op == ws.OpContinuation:
				if !r.frag {
					return i, ErrContinuation
				}
			case r.frag:
				return i, ErrInterleaved
			case op == ws.OpBinary:
				return i, ErrBinary
			}
			r.op, r.fin = op, fin
		case n == 1:
			if c&0x80 == 0 {
				return i, ErrUnmasked
			}
			r.remain = 0
			switch l := c & 0x7f; l {
			case 126:
				r.hdrLen = 2 + 2 + 4
			case 127:
				r.hdrLen = 2 + 8 + 4
			default:
				r.remain = int64(l)
				r.hdrLen = 2 + 4
			}
		case n < r.hdrLen-4:
			if n == 2 && r.hdrLen == 14 && c&0x80 != 0 {
				return i, ErrLength
			}
			r.remain = r.remain<<8 | int64(c)
		default:
			r.mask[n-(r.hdrLen-4)] = c
		}
		r.hdrN++
		if r.hdrLen == 0 {
			continue
		}
		if r.hdrN == r.hdrLen-4 {
			if err := r.checkLength(); err != nil {
				return i, err
			}
		}
		if r.hdrN == r.hdrLen {
			r.pos = 0
			return i + 1, nil
		}
	}
	return len(b), nil
}

// checkLength checks the declared payload length against the limits, before
// any of the payload is read or any room is taken for it.
func (r *Reader) checkLength() *CloseError {
	if r.op.IsControl() {
		if r.remain > ws.MaxControlFramePayloadSize {
			return ErrControlTooLong
		}
		return nil
	}
	if r.MaxFrame > 0 && r.remain > int64(r.MaxFrame) {
		return ErrFrameTooBig
	}
	if r.remain > r.maxMessage()-r.msgLen() {
		return ErrMessageTooBig
	}
	return nil
}

// data takes the next unmasked bytes p of a text or continuation frame's
// payload. A whole message found in one chunk is handed over in place; any
// other is assembled in a pooled buffer, checked for UTF-8 as it grows.
func (r *Reader) data(p []byte, h Handler) *CloseError {
	last := r.remain == 0
	if last && r.fin && r.op == ws.OpText && r.buf == nil {
		// The whole message, unfragmented, in this chunk: no copy.
		if !utf8.Valid(p) {
			return ErrInvalidUTF8
		}
		h.OnText(p)
		return nil
	}
	if r.op == ws.OpText {
		r.frag = !r.fin // first frame of a message
	}
	if len(p) > 0 {
		start := r.msgLen() - int64(r.carry)
		r.buf = appendBuf(r.buf, p, r.maxMessage())
		tail, ok := validPrefix((*r.buf)[start:])
		if !ok {
			return ErrInvalidUTF8
		}
		r.carry = uint8(tail)
	}
	if !last || !r.fin {
		return nil
	}
	if r.carry != 0 {
		return ErrInvalidUTF8 // the message ends inside a rune
	}
	r.frag = false
	if r.buf == nil {
		h.OnText(nil) // fragments with no payload at all
		return nil
	}
	h.OnText(*r.buf)
	putBuf(r.buf)
	r.buf = nil
	return nil
}

// control takes the next unmasked bytes p of a control frame's payload and
// acts on the frame once it is complete.
func (r *Reader) control(p []byte, h Handler) *CloseError {
	if r.remain > 0 || r.ctl != nil {
		r.ctl = appendBuf(r.ctl, p, ws.MaxControlFramePayloadSize)
		if r.remain > 0 {
			return nil
		}
		p = *r.ctl
	}
	err := r.deliverControl(p, h)
	if r.ctl != nil {
		putBuf(r.ctl)
		r.ctl = nil
	}
	if r.closed {
		r.drop()
	}
	return err
}

// deliverControl checks the complete control payload p and hands it to h.
func (r *Reader) deliverControl(p []byte, h Handler) *CloseError {
	switch r.op {
	case ws.OpPing:
		h.OnPing(p)
	case ws.OpPong:
		h.OnPong(p)
	case ws.OpClose:
		code := ws.StatusNoStatusRcvd
		var reason []byte
		switch {
		case len(p) == 1:
			return ErrCloseLength
		case len(p) >= 2:
			code = ws.StatusCode(binary.BigEndian.Uint16(p))
			reason = p[2:]
			if !ValidCloseCode(code) {
				return ErrCloseCode
			}
			if !utf8.Valid(reason) {
				return ErrCloseReason
			}
		}
		r.closed = true
		h.OnClose(code, reason)
	}
	return nil
}

// validPrefix reports whether p is valid UTF-8 except for its last tail
// bytes (0 to 3), which begin a rune that more bytes could still complete.
func validPrefix(p []byte) (tail int, ok bool) {
	start := len(p) - 1
	for start > 0 && start > len(p)-4 && !utf8.RuneStart(p[start]) {
		start--
	}
	// FullRune is false only for the start of a valid multi-byte rune
	// that is cut short; an invalid start counts as a full (bad) rune.
	if start >= 0 && !utf8.FullRune(p[start:]) {
		return len(p) - start, utf8.Valid(p[:start])
	}
	return 0, utf8.Valid(p)
}

package wsframe

import (
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// First header bytes of the client frames the tests build.
const (
	finText   = 0x81
	fragText  = 0x01
	finCont   = 0x80
	fragCont  = 0x00
	finBinary = 0x82
	opPing    = 0x89
	opPong    = 0x8a
	opClose   = 0x88
)

// testMask is the masking key of the frames built by frame.
var testMask = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// frame returns a masked client frame with first header byte b0 and the
// shortest length encoding.
func frame(b0 byte, payload string) []byte {
	return frameLen(b0, 0, uint64(len(payload)), payload)
}

// frameLen returns a masked client frame declaring n bytes of payload with
// length encoding form (7, 16 or 64 bits; 0 for the shortest), followed by
// payload, which may be shorter than n.
func frameLen(b0 byte, form int, n uint64, payload string) []byte {
	return frameMask(b0, form, n, payload, testMask)
}

// frameMask is frameLen with the masking key m.
func frameMask(b0 byte, form int, n uint64, payload string, m [4]byte) []byte {
	b := []byte{b0}
	switch {
	case form == 64 || form == 0 && n > 0xffff:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, n)
	case form == 16 || form == 0 && n >= 126:
		b = append(b, 0x80|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 0x80|byte(n))
	}
	b = append(b, m[:]...)
	p := []byte(payload)
	ws.Cipher(p, m, 0)
	return append(b, p...)
}

// unmasked returns a client frame without a masking key.
func unmasked(b0 byte, payload string) []byte {
	return append([]byte{b0, byte(len(payload))}, payload...)
}

// closeBody returns a close frame payload.
func closeBody(code uint16, reason string) string {
	return string(binary.BigEndian.AppendUint16(nil, code)) + reason
}

// cat joins frames into one stream.
func cat(frames ...[]byte) []byte {
	return slices.Concat(frames...)
}

// event is one Handler call, with its slice copied.
type event struct {
	kind string
	data string
	code ws.StatusCode
}

func text(s string) event { return event{kind: "text", data: s} }
func ping(s string) event { return event{kind: "ping", data: s} }
func pong(s string) event { return event{kind: "pong", data: s} }
func closed(code ws.StatusCode, reason string) event {
	return event{kind: "close", data: reason, code: code}
}

// recorder is a Handler that keeps copies of what it is given.
type recorder struct{ events []event }

func (r *recorder) OnText(p []byte) { r.events = append(r.events, text(string(p))) }
func (r *recorder) OnPing(p []byte) { r.events = append(r.events, ping(string(p))) }
func (r *recorder) OnPong(p []byte) { r.events = append(r.events, pong(string(p))) }
func (r *recorder) OnClose(code ws.StatusCode, reason []byte) {
	r.events = append(r.events, closed(code, string(reason)))
}

// result is what a Reader made of a stream.
type result struct {
	events []event
	err    error
	idle   bool // Idle after the last Feed
}

func (a result) equal(b result) bool {
	return slices.Equal(a.events, b.events) && a.err == b.err && a.idle == b.idle
}

// chunker returns the size of the next chunk given how many bytes are left.
type chunker func(left int) int

func whole(left int) int { return left }
func oneByte(int) int    { return 1 }
func randomChunks(seed uint64) chunker {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return func(left int) int {
		if rng.IntN(4) == 0 {
			return 1 + rng.IntN(min(left, 3))
		}
		return 1 + rng.IntN(left)
	}
}

// splitAt feeds the stream in two chunks, cut at i.
func splitAt(i int) chunker {
	first := true
	return func(left int) int {
		if first && i > 0 && i < left {
			first = false
			return i
		}
		return left
	}
}

// run feeds a copy of stream to r in chunks and records the result. After
// each Feed it overwrites the chunk, so a Reader that kept a reference into
// a chunk delivers garbage and the comparison fails. It stops at the first
// error, after checking that Feed keeps returning it.
func run(r *Reader, stream []byte, next chunker) result {
	b := slices.Clone(stream)
	var rec recorder
	var err error
	for len(b) > 0 {
		n := next(len(b))
		chunk := b[:n]
		b = b[n:]
		err = r.Feed(chunk, &rec)
		for i := range chunk {
			chunk[i] = 0xee
		}
		if err != nil {
			if again := r.Feed([]byte{finText, 0x80}, &rec); again != err {
				panic("Feed after a violation returned " + errString(again))
			}
			break
		}
	}
	return result{events: rec.events, err: err, idle: r.Idle()}
}

func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}

// runes is what random text is made of: every UTF-8 length and the edges
// of each.
var runes = []rune{'a', 'z', 0, 0x7f, 0x80, 'é', 0x7ff, 0x800, '€', 0xfffd, 0xffff, 0x10000, '😀', 0x10ffff}

// randomText returns valid UTF-8 of about n bytes.
func randomText(rng *rand.Rand, n int) string {
	var b []byte
	for len(b) < n {
		b = utf8.AppendRune(b, runes[rng.IntN(len(runes))])
	}
	return string(b)
}

// randomBytes returns n random bytes, not necessarily UTF-8.
func randomBytes(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return string(b)
}

package wsframe

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
	"unsafe"

	"github.com/gobwas/ws"
)

// ruleCase is a client byte stream and what a Reader must make of it.
type ruleCase struct {
	name       string
	stream     []byte
	maxFrame   int32
	maxMessage int32
	want       []event
	wantErr    *CloseError
}

// ruleCases lists one case per rule of RFC 6455 and of epchat that the
// Reader enforces, and the valid streams next to them. The fuzz targets use
// them as seeds.
func ruleCases() []ruleCase {
	cases := []ruleCase{
		// Valid streams.
		{
			name:   "text",
			stream: frame(finText, "hello"),
			want:   []event{text("hello")},
		},
		{
			name:   "empty text",
			stream: frame(finText, ""),
			want:   []event{text("")},
		},
		{
			name:   "two texts",
			stream: cat(frame(finText, "one"), frame(finText, "two")),
			want:   []event{text("one"), text("two")},
		},
		{
			name:   "fragmented text",
			stream: cat(frame(fragText, "frag"), frame(fragCont, "men"), frame(finCont, "ted")),
			want:   []event{text("fragmented")},
		},
		{
			name:   "empty fragments",
			stream: cat(frame(fragText, ""), frame(fragCont, ""), frame(finCont, "")),
			want:   []event{text("")},
		},
		{
			name:   "empty first and last fragments",
			stream: cat(frame(fragText, ""), frame(fragCont, "mid"), frame(finCont, "")),
			want:   []event{text("mid")},
		},
		{
			name:   "ping between fragments",
			stream: cat(frame(fragText, "ab"), frame(opPing, "p"), frame(finCont, "cd")),
			want:   []event{ping("p"), text("abcd")},
		},
		{
			name:   "pong between fragments",
			stream: cat(frame(fragText, "ab"), frame(opPong, "q"), frame(fragCont, "cd"), frame(opPing, ""), frame(finCont, "ef")),
			want:   []event{pong("q"), ping(""), text("abcdef")},
		},
		{
			name:   "close between fragments",
			stream: cat(frame(fragText, "ab"), frame(opClose, closeBody(1000, "bye")), frame(finCont, "cd")),
			want:   []event{closed(1000, "bye")},
		},
		{
			name:   "ping",
			stream: frame(opPing, "are you there"),
			want:   []event{ping("are you there")},
		},
		{
			name:   "ping of 125 bytes",
			stream: frame(opPing, strings.Repeat("p", 125)),
			want:   []event{ping(strings.Repeat("p", 125))},
		},
		{
			name:   "pong",
			stream: frame(opPong, "yes"),
			want:   []event{pong("yes")},
		},
		{
			name:   "text of 125 bytes",
			stream: frame(finText, strings.Repeat("x", 125)),
			want:   []event{text(strings.Repeat("x", 125))},
		},
		{
			name:   "16-bit length",
			stream: frame(finText, strings.Repeat("y", 126)),
			want:   []event{text(strings.Repeat("y", 126))},
		},
		{
			name:       "64-bit length",
			stream:     frame(finText, strings.Repeat("z", 70000)),
			maxMessage: 1 << 20,
			want:       []event{text(strings.Repeat("z", 70000))},
		},
		{
			name:   "non-minimal 16-bit length",
			stream: frameLen(finText, 16, 3, "abc"),
			want:   []event{text("abc")},
		},
		{
			name:   "non-minimal 64-bit length",
			stream: frameLen(finText, 64, 3, "abc"),
			want:   []event{text("abc")},
		},
		{
			name:   "non-minimal 16-bit length of ping",
			stream: frameLen(opPing, 16, 2, "hi"),
			want:   []event{ping("hi")},
		},
		{
			name:   "multi-byte text",
			stream: frame(finText, "héllo €uro 😀"),
			want:   []event{text("héllo €uro 😀")},
		},
		{
			name:   "2-byte rune split across fragments",
			stream: cat(frame(fragText, "\xc3"), frame(finCont, "\xa9")),
			want:   []event{text("é")},
		},
		{
			name:   "4-byte rune split across four fragments",
			stream: cat(frame(fragText, "a\xf0"), frame(fragCont, "\x9f"), frame(fragCont, "\x98"), frame(finCont, "\x80b")),
			want:   []event{text("a😀b")},
		},
		{
			name:   "close without payload",
			stream: frame(opClose, ""),
			want:   []event{closed(ws.StatusNoStatusRcvd, "")},
		},
		{
			name:   "close with reason",
			stream: frame(opClose, closeBody(1001, "going away")),
			want:   []event{closed(1001, "going away")},
		},
		{
			name:   "close with UTF-8 reason",
			stream: frame(opClose, closeBody(4000, "fermé ✓")),
			want:   []event{closed(4000, "fermé ✓")},
		},
		{
			name:   "bytes after close are dropped",
			stream: cat(frame(opClose, closeBody(1000, "")), frame(finText, "late"), []byte{0xff, 0xff}),
			want:   []event{closed(1000, "")},
		},
		{
			name:     "frame of MaxFrame bytes",
			stream:   frame(finText, "12345678"),
			maxFrame: 8,
			want:     []event{text("12345678")},
		},
		{
			name:       "message of MaxMessage bytes",
			stream:     cat(frame(fragText, "1234"), frame(finCont, "5678")),
			maxMessage: 8,
			want:       []event{text("12345678")},
		},
		{
			name:       "MaxMessage is per message",
			stream:     cat(frame(finText, "12345678"), frame(finText, "12345678")),
			maxMessage: 8,
			want:       []event{text("12345678"), text("12345678")},
		},
		{
			name:       "control frames do not count towards MaxMessage",
			stream:     cat(frame(fragText, "1234"), frame(opPing, "123456789"), frame(finCont, "5678")),
			maxMessage: 8,
			want:       []event{ping("123456789"), text("12345678")},
		},

		// 1002: framing.
		{
			name:    "RSV1 set",
			stream:  frame(finText|0x40, "x"),
			wantErr: ErrReservedBits,
		},
		{
			name:    "RSV2 set",
			stream:  frame(finText|0x20, "x"),
			wantErr: ErrReservedBits,
		},
		{
			name:    "RSV3 set",
			stream:  frame(finText|0x10, "x"),
			wantErr: ErrReservedBits,
		},
		{
			name:    "RSV bit on a ping",
			stream:  frame(opPing|0x40, ""),
			wantErr: ErrReservedBits,
		},
		{
			name:    "reserved data opcode 3",
			stream:  frame(0x83, "x"),
			wantErr: ErrReservedOpCode,
		},
		{
			name:    "reserved data opcode 7",
			stream:  frame(0x87, "x"),
			wantErr: ErrReservedOpCode,
		},
		{
			name:    "reserved control opcode 0xB",
			stream:  frame(0x8b, "x"),
			wantErr: ErrReservedOpCode,
		},
		{
			name:    "reserved control opcode 0xF",
			stream:  frame(0x8f, "x"),
			wantErr: ErrReservedOpCode,
		},
		{
			name:    "reserved opcode after a valid message",
			stream:  cat(frame(finText, "ok"), frame(0x84, "x")),
			want:    []event{text("ok")},
			wantErr: ErrReservedOpCode,
		},
		{
			name:    "unmasked text",
			stream:  unmasked(finText, "hello"),
			wantErr: ErrUnmasked,
		},
		{
			name:    "unmasked ping",
			stream:  unmasked(opPing, ""),
			wantErr: ErrUnmasked,
		},
		{
			name:    "fragmented ping",
			stream:  frame(opPing&0x7f, "p"),
			wantErr: ErrControlFragmented,
		},
		{
			name:    "fragmented close",
			stream:  frame(opClose&0x7f, ""),
			wantErr: ErrControlFragmented,
		},
		{
			name:    "ping of 126 bytes",
			stream:  frame(opPing, strings.Repeat("p", 126)),
			wantErr: ErrControlTooLong,
		},
		{
			name:    "close of 126 bytes",
			stream:  frame(opClose, closeBody(1000, strings.Repeat("r", 124))),
			wantErr: ErrControlTooLong,
		},
		{
			name:    "pong declaring a 64-bit length",
			stream:  frameLen(opPong, 64, 1<<40, ""),
			wantErr: ErrControlTooLong,
		},
		{
			name:    "continuation without a message",
			stream:  frame(finCont, "x"),
			wantErr: ErrContinuation,
		},
		{
			name:    "non-final continuation without a message",
			stream:  frame(fragCont, "x"),
			wantErr: ErrContinuation,
		},
		{
			name:    "continuation after a complete message",
			stream:  cat(frame(fragText, "a"), frame(finCont, "b"), frame(finCont, "c")),
			want:    []event{text("ab")},
			wantErr: ErrContinuation,
		},
		{
			name:    "text inside a fragmented message",
			stream:  cat(frame(fragText, "a"), frame(finText, "b")),
			wantErr: ErrInterleaved,
		},
		{
			name:    "binary inside a fragmented message",
			stream:  cat(frame(fragText, "a"), frame(finBinary, "b")),
			wantErr: ErrInterleaved,
		},
		{
			name:    "64-bit length with its top bit set",
			stream:  frameLen(finText, 64, 1<<63, ""),
			wantErr: ErrLength,
		},
		{
			name:    "64-bit length of all ones",
			stream:  frameLen(finText, 64, 1<<64-1, ""),
			wantErr: ErrLength,
		},

		// 1007: UTF-8.
		{
			name:    "invalid UTF-8",
			stream:  frame(finText, "ab\xffcd"),
			wantErr: ErrInvalidUTF8,
		},
		{
			name:    "overlong encoding",
			stream:  frame(finText, "\xc0\xaf"),
			wantErr: ErrInvalidUTF8,
		},
		{
			name:    "surrogate",
			stream:  frame(finText, "\xed\xa0\x80"),
			wantErr: ErrInvalidUTF8,
		},
		{
			name:    "above U+10FFFF",
			stream:  frame(finText, "\xf4\x90\x80\x80"),
			wantErr: ErrInvalidUTF8,
		},
		{
			name:    "text ends inside a rune",
			stream:  frame(finText, "ab\xe2\x82"),
			wantErr: ErrInvalidUTF8,
		},
		{
			name:    "lone continuation byte",
			stream:  frame(finText, "\x80"),
			wantErr: ErrInvalidUTF8,
		},
		{
			name:    "invalid UTF-8 across fragments",
			stream:  cat(frame(fragText, "ok\xe2\x82"), frame(finCont, "A")),
			wantErr: ErrInvalidUTF8,
		},
		{
			name:    "surrogate split across fragments",
			stream:  cat(frame(fragText, "\xed"), frame(finCont, "\xa0\x80")),
			wantErr: ErrInvalidUTF8,
		},
		{
			name:    "final fragment ends inside a rune",
			stream:  cat(frame(fragText, "ok"), frame(finCont, "\xf0\x9f\x98")),
			wantErr: ErrInvalidUTF8,
		},
		{
			// Only the first fragment is in the stream: the error must
			// not wait for the rest.
			name:    "invalid first fragment is caught at once",
			stream:  frame(fragText, "ok\xff"),
			wantErr: ErrInvalidUTF8,
		},
		{
			// The frame declares 10 bytes but only 3 arrived.
			name:    "invalid bytes are caught before the frame ends",
			stream:  frameLen(finText, 0, 10, "a\xc0\xaf"),
			wantErr: ErrInvalidUTF8,
		},
		{
			name:    "control frame delivered before the invalid fragment",
			stream:  cat(frame(fragText, "a"), frame(opPing, "p"), frame(finCont, "\xff")),
			want:    []event{ping("p")},
			wantErr: ErrInvalidUTF8,
		},

		// 1009: size.
		{
			name:     "frame over MaxFrame",
			stream:   frame(finText, "123456789"),
			maxFrame: 8,
			wantErr:  ErrFrameTooBig,
		},
		{
			// No payload follows: the header alone must fail.
			name:     "frame declaring 2^62 bytes",
			stream:   frameLen(finText, 64, 1<<62, ""),
			maxFrame: 1 << 20,
			wantErr:  ErrFrameTooBig,
		},
		{
			name:       "frame over MaxMessage",
			stream:     frame(finText, "123456789"),
			maxMessage: 8,
			wantErr:    ErrMessageTooBig,
		},
		{
			name:    "frame over the default MaxMessage",
			stream:  frameLen(finText, 64, DefaultMaxMessage+1, ""),
			wantErr: ErrMessageTooBig,
		},
		{
			name:       "fragments over MaxMessage",
			stream:     cat(frame(fragText, "12345"), frame(fragCont, "6789"), frame(finCont, "0")),
			maxMessage: 8,
			wantErr:    ErrMessageTooBig,
		},
		{
			name:       "continuation declaring 2^62 bytes",
			stream:     cat(frame(fragText, "1"), frameLen(finCont, 64, 1<<62, "")),
			maxMessage: 1 << 20,
			wantErr:    ErrMessageTooBig,
		},

		// 1003: binary.
		{
			name:    "binary message",
			stream:  frame(finBinary, "\x00\x01"),
			wantErr: ErrBinary,
		},
		{
			name:    "fragmented binary message",
			stream:  cat(frame(0x02, "\x00"), frame(finCont, "\x01")),
			wantErr: ErrBinary,
		},
		{
			name:    "binary after text",
			stream:  cat(frame(finText, "t"), frame(finBinary, "b")),
			want:    []event{text("t")},
			wantErr: ErrBinary,
		},

		// 1002: close frames.
		{
			name:    "close with a 1-byte payload",
			stream:  frame(opClose, "\x03"),
			wantErr: ErrCloseLength,
		},
		{
			name:    "close reason not UTF-8",
			stream:  frame(opClose, closeBody(1000, "bad \xff")),
			wantErr: ErrCloseReason,
		},
		{
			name:    "close reason ends inside a rune",
			stream:  frame(opClose, closeBody(1000, "\xe2\x82")),
			wantErr: ErrCloseReason,
		},
	}
	for _, code := range []uint16{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999} {
		cases = append(cases, ruleCase{
			name:   fmt.Sprintf("close code %d", code),
			stream: frame(opClose, closeBody(code, "r")),
			want:   []event{closed(ws.StatusCode(code), "r")},
		})
	}
	for _, code := range []uint16{0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535} {
		cases = append(cases, ruleCase{
			name:    fmt.Sprintf("invalid close code %d", code),
			stream:  frame(opClose, closeBody(code, "r")),
			wantErr: ErrCloseCode,
		})
	}
	return cases
}

// chunkings are the ways every rule case is fed: the result must not depend
// on where the reads of a socket happen to cut the stream.
var chunkings = []struct {
	name string
	next func() chunker
}{
	{"whole", func() chunker { return whole }},
	{"byte by byte", func() chunker { return oneByte }},
	{"random 1", func() chunker { return randomChunks(1) }},
	{"random 2", func() chunker { return randomChunks(2) }},
	{"random 3", func() chunker { return randomChunks(3) }},
}

func TestReaderRules(t *testing.T) {
	for _, tc := range ruleCases() {
		t.Run(tc.name, func(t *testing.T) {
			var wantErr error
			if tc.wantErr != nil {
				wantErr = tc.wantErr
			}
			want := result{events: tc.want, err: wantErr, idle: true}
			for _, c := range chunkings {
				r := &Reader{MaxFrame: tc.maxFrame, MaxMessage: tc.maxMessage}
				got := run(r, tc.stream, c.next())
				if !got.equal(want) {
					t.Errorf("fed %s: got %+v, %v, idle %v; want %+v, %v", c.name, got.events, got.err, got.idle, want.events, want.err)
				}
			}
			if len(tc.stream) > 300 {
				return
			}
			for i := 1; i < len(tc.stream); i++ {
				r := &Reader{MaxFrame: tc.maxFrame, MaxMessage: tc.maxMessage}
				if got := run(r, tc.stream, splitAt(i)); !got.equal(want) {
					t.Errorf("split at %d: got %+v, %v; want %+v, %v", i, got.events, got.err, want.events, want.err)
				}
			}
		})
	}
}

func TestCloseErrorMatches(t *testing.T) {
	var r Reader
	err := r.Feed(frame(finBinary, "x"), &recorder{})
	if !errors.Is(err, ErrBinary) {
		t.Fatalf("Feed = %v, want ErrBinary", err)
	}
	var ce *CloseError
	if !errors.As(err, &ce) || ce.Code != ws.StatusUnsupportedData {
		t.Fatalf("errors.As gave %+v, want code 1003", ce)
	}
	if got, want := err.Error(), "wsframe: binary messages not accepted (close 1003)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestViolationReasonsFitACloseFrame(t *testing.T) {
	for _, tc := range ruleCases() {
		if tc.wantErr == nil {
			continue
		}
		if len(tc.wantErr.Reason) > maxCloseReason || !utf8.ValidString(tc.wantErr.Reason) {
			t.Errorf("%s: reason %q does not fit a close frame", tc.name, tc.wantErr.Reason)
		}
	}
}

func TestIdle(t *testing.T) {
	msg := frame(finText, strings.Repeat("m", 300))
	steps := []struct {
		name     string
		feed     []byte
		wantIdle bool
	}{
		{
			name:     "half a header",
			feed:     msg[:1],
			wantIdle: false,
		},
		{
			name:     "header complete",
			feed:     msg[1:8],
			wantIdle: false,
		},
		{
			name:     "part of the payload",
			feed:     msg[8:100],
			wantIdle: false,
		},
		{
			name:     "rest of the message",
			feed:     msg[100:],
			wantIdle: true,
		},
		{
			name:     "first fragment",
			feed:     frame(fragText, "a"),
			wantIdle: false,
		},
		{
			name:     "ping between fragments",
			feed:     frame(opPing, ""),
			wantIdle: false,
		},
		{
			name:     "last fragment",
			feed:     frame(finCont, "b"),
			wantIdle: true,
		},
		{
			name:     "half a ping",
			feed:     frame(opPing, "ping")[:8],
			wantIdle: false,
		},
	}
	var r Reader
	var rec recorder
	if !r.Idle() {
		t.Fatal("zero Reader not idle")
	}
	for _, s := range steps {
		if err := r.Feed(slicesClone(s.feed), &rec); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if r.Idle() != s.wantIdle {
			t.Errorf("after %s: Idle() = %v, want %v", s.name, r.Idle(), s.wantIdle)
		}
		if s.wantIdle && (r.buf != nil || r.ctl != nil) {
			t.Errorf("after %s: idle Reader holds a buffer", s.name)
		}
	}
	r.Release()
	if !r.Idle() || r.buf != nil || r.ctl != nil {
		t.Fatal("Reader not idle after Release")
	}
}

func slicesClone(b []byte) []byte { return append([]byte(nil), b...) }

func TestReleaseMidMessage(t *testing.T) {
	r := Reader{MaxMessage: 1000}
	var rec recorder
	stream := cat(frame(fragText, "abc"), frame(fragCont, "de"))
	if err := r.Feed(stream, &rec); err != nil {
		t.Fatal(err)
	}
	if r.buf == nil {
		t.Fatal("open message has no buffer")
	}
	r.Release()
	if r.buf != nil || !r.Idle() {
		t.Fatal("Release kept the buffer")
	}
	if r.MaxMessage != 1000 {
		t.Errorf("Release lost MaxMessage: %d", r.MaxMessage)
	}
	// A new stream starts from scratch: a continuation is unexpected.
	if err := r.Feed(frame(finCont, "f"), &rec); err != ErrContinuation {
		t.Errorf("Feed after Release = %v, want ErrContinuation", err)
	}
}

func TestViolationReleasesBuffers(t *testing.T) {
	var r Reader
	var rec recorder
	if err := r.Feed(cat(frame(fragText, "abc"), frame(opPing, "pi")[:7]), &rec); err != nil {
		t.Fatal(err)
	}
	if r.buf == nil || r.ctl == nil {
		t.Fatal("expected a message buffer and a control buffer")
	}
	if err := r.Feed(slicesClone(frame(opPing, "pi")[7:]), &rec); err != nil {
		t.Fatal(err)
	}
	if err := r.Feed(frame(finText, "x"), &rec); err != ErrInterleaved {
		t.Fatalf("Feed = %v, want ErrInterleaved", err)
	}
	if r.buf != nil || r.ctl != nil {
		t.Error("buffers kept after a violation")
	}
}

// TestUTF8SplitAtEveryBoundary cuts a text holding runes of every length
// into two and three fragments at every byte offset: the runes must come
// through intact, and an invalid byte must be caught wherever the cuts are.
func TestUTF8SplitAtEveryBoundary(t *testing.T) {
	valid := "a\u00e9\u20ac\U0001F600\u07ff\u0800\uffff\U00010000\U0010FFFFz"
	for i := 0; i <= len(valid); i++ {
		for j := i; j <= len(valid); j++ {
			stream := cat(frame(fragText, valid[:i]), frame(fragCont, valid[i:j]), frame(finCont, valid[j:]))
			var r Reader
			got := run(&r, stream, whole)
			if got.err != nil || len(got.events) != 1 || got.events[0] != text(valid) {
				t.Fatalf("cuts at %d,%d: got %+v, %v", i, j, got.events, got.err)
			}
		}
	}
	for _, bad := range []string{
		"ab\xffcd",
		"a\xc0\xafb",
		"a\xed\xa0\x80b",
		"a\xf4\x90\x80\x80b",
		"a\xe2\x82",
		"\xf0\x9f\x98",
		"a\xe2\x82(b",
		"\xf8\x88\x80\x80\x80",
	} {
		for i := 0; i <= len(bad); i++ {
			for j := i; j <= len(bad); j++ {
				stream := cat(frame(fragText, bad[:i]), frame(fragCont, bad[i:j]), frame(finCont, bad[j:]))
				var r Reader
				got := run(&r, stream, oneByte)
				if got.err != ErrInvalidUTF8 || len(got.events) != 0 {
					t.Fatalf("%q cut at %d,%d: got %+v, %v; want ErrInvalidUTF8", bad, i, j, got.events, got.err)
				}
			}
		}
	}
}

func TestValidPrefix(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		wantTail int
		wantOK   bool
	}{
		{
			name:     "empty",
			in:       "",
			wantTail: 0,
			wantOK:   true,
		},
		{
			name:     "ASCII",
			in:       "abc",
			wantTail: 0,
			wantOK:   true,
		},
		{
			name:     "complete 4-byte rune",
			in:       "a😀",
			wantTail: 0,
			wantOK:   true,
		},
		{
			name:     "1 byte of 4",
			in:       "a\xf0",
			wantTail: 1,
			wantOK:   true,
		},
		{
			name:     "3 bytes of 4",
			in:       "a\xf0\x9f\x98",
			wantTail: 3,
			wantOK:   true,
		},
		{
			name:     "2 bytes of 3",
			in:       "\xe2\x82",
			wantTail: 2,
			wantOK:   true,
		},
		{
			name:     "start of a surrogate",
			in:       "\xed\xa0",
			wantTail: 0,
			wantOK:   false,
		},
		{
			name:     "start of an overlong 3-byte rune",
			in:       "\xe0\x80",
			wantTail: 0,
			wantOK:   false,
		},
		{
			name:     "start above U+10FFFF",
			in:       "\xf4\x90",
			wantTail: 0,
			wantOK:   false,
		},
		{
			name:     "invalid byte before an incomplete rune",
			in:       "\xff\xe2\x82",
			wantTail: 2,
			wantOK:   false,
		},
		{
			name:     "stray continuation after a complete rune",
			in:       "\xf0\x9f\x98\x80\x80",
			wantTail: 0,
			wantOK:   false,
		},
		{
			name:     "byte that never starts a rune",
			in:       "\xf8",
			wantTail: 0,
			wantOK:   false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tail, ok := validPrefix([]byte(tt.in))
			if ok != tt.wantOK || ok && tail != tt.wantTail {
				t.Errorf("validPrefix(%q) = %d, %v; want %d, %v", tt.in, tail, ok, tt.wantTail, tt.wantOK)
			}
		})
	}
}

// genStream returns a random valid client stream and the events it must
// give: text messages in random fragments (cut anywhere, runes included),
// with pings and pongs between messages and between fragments, random masks
// and length encodings, and maybe a close frame followed by junk.
func genStream(rng *rand.Rand) ([]byte, []event) {
	var stream []byte
	var want []event
	put := func(b0 byte, payload string) {
		var m [4]byte
		for i := range m {
			m[i] = byte(rng.Uint32())
		}
		form := 0
		switch rng.IntN(8) {
		case 0:
			form = 64
		case 1:
			if len(payload) <= 0xffff {
				form = 16
			}
		}
		stream = append(stream, frameMask(b0, form, uint64(len(payload)), payload, m)...)
	}
	control := func() {
		s := randomBytes(rng, rng.IntN(126))
		if rng.IntN(2) == 0 {
			put(opPing, s)
			want = append(want, ping(s))
		} else {
			put(opPong, s)
			want = append(want, pong(s))
		}
	}
	for range rng.IntN(8) {
		if rng.IntN(4) == 0 {
			control()
			continue
		}
		msg := randomText(rng, rng.IntN([]int{10, 200, 3000}[rng.IntN(3)]))
		cuts := []int{0}
		for range rng.IntN(4) {
			cuts = append(cuts, rng.IntN(len(msg)+1))
		}
		cuts = append(cuts, len(msg))
		slicesSort(cuts)
		for i := 0; i+1 < len(cuts); i++ {
			b0 := byte(fragCont)
			if i == 0 {
				b0 = fragText
			}
			if i+2 == len(cuts) {
				b0 |= 0x80
			}
			put(b0, msg[cuts[i]:cuts[i+1]])
			if i+2 < len(cuts) && rng.IntN(3) == 0 {
				control()
			}
		}
		want = append(want, text(msg))
	}
	if rng.IntN(2) == 0 {
		codes := []ws.StatusCode{1000, 1001, 1011, 3000, 4999}
		code := codes[rng.IntN(len(codes))]
		reason := randomText(rng, rng.IntN(100))
		for len(reason) > maxCloseReason {
			_, n := utf8.DecodeLastRuneInString(reason)
			reason = reason[:len(reason)-n]
		}
		put(opClose, closeBody(uint16(code), reason))
		want = append(want, closed(code, reason))
		stream = append(stream, randomBytes(rng, rng.IntN(20))...)
	}
	return stream, want
}

func slicesSort(s []int) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// TestChunkingDoesNotMatter feeds random valid streams whole, byte by byte
// and in random chunks: every way must give the same, expected calls.
func TestChunkingDoesNotMatter(t *testing.T) {
	rng := rand.New(rand.NewPCG(42, 7))
	n := 300
	if testing.Short() {
		n = 30
	}
	for i := range n {
		stream, want := genStream(rng)
		wantRes := result{events: want, idle: true}
		for _, c := range chunkings {
			var r Reader
			if got := run(&r, stream, c.next()); !got.equal(wantRes) {
				t.Fatalf("stream %d fed %s: got %d events, %v; want %d events", i, c.name, len(got.events), got.err, len(want))
			}
		}
	}
}

func TestReaderSize(t *testing.T) {
	size := unsafe.Sizeof(Reader{})
	t.Logf("unsafe.Sizeof(Reader{}) = %d bytes", size)
	if size > 64 {
		t.Errorf("Reader is %d bytes, want at most 64: it is kept for every idle connection", size)
	}
}

// TestFastPathDoesNotAllocate: a whole frame in one chunk is unmasked in
// place and handed over as a sub-slice of the chunk.
func TestFastPathDoesNotAllocate(t *testing.T) {
	msg := frame(finText, strings.Repeat("é", 50))
	stream := cat(msg, frame(opPing, "p"), frame(opClose, closeBody(1000, "bye")))
	buf := make([]byte, len(stream))
	var h nopHandler
	allocs := testing.AllocsPerRun(100, func() {
		copy(buf, stream)
		var r Reader
		if err := r.Feed(buf, h); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("fast path: %v allocations per Feed, want 0", allocs)
	}

	// The text handed over is the chunk itself, unmasked.
	copy(buf, msg)
	var r Reader
	var got []byte
	if err := r.Feed(buf[:len(msg)], handlerFunc(func(p []byte) { got = p })); err != nil {
		t.Fatal(err)
	}
	if &got[0] != &buf[len(msg)-len(got)] {
		t.Error("text was copied, want a sub-slice of the chunk")
	}
}

// TestHugeDeclaredLength: a header declaring 2^62 bytes is refused without
// taking any memory for them, and when the limits allow a huge frame, the
// buffer grows only with the bytes that actually arrive.
func TestHugeDeclaredLength(t *testing.T) {
	hdr := frameLen(finText, 64, 1<<62, "")
	buf := make([]byte, len(hdr))
	allocs := testing.AllocsPerRun(100, func() {
		copy(buf, hdr)
		r := Reader{MaxFrame: 1 << 20}
		if err := r.Feed(buf, nopHandler{}); err != ErrFrameTooBig {
			t.Fatalf("Feed = %v, want ErrFrameTooBig", err)
		}
	})
	if allocs != 0 {
		t.Errorf("refusing a 2^62-byte frame took %v allocations, want 0", allocs)
	}

	// The largest limit a Reader takes, and a frame that declares it.
	r := Reader{MaxMessage: math.MaxInt32}
	if err := r.Feed(frameLen(finText, 64, math.MaxInt32, ""), nopHandler{}); err != nil {
		t.Fatal(err)
	}
	if r.buf != nil {
		t.Fatal("buffer taken before any payload arrived")
	}
	chunk := make([]byte, 1000)
	for i := range chunk {
		chunk[i] = 'a' ^ testMask[i%4]
	}
	for _, tc := range []struct {
		arrived int
		maxCap  int
	}{
		{1000, 2 << 10},
		{10000, 32 << 10},
		{100000, 128 << 10},
		{3000000, 4 << 20},
	} {
		for int64(tc.arrived) > r.msgLen() {
			if err := r.Feed(slicesClone(chunk), nopHandler{}); err != nil {
				t.Fatal(err)
			}
		}
		if c := cap(*r.buf); c > tc.maxCap {
			t.Errorf("after %d bytes of a 2^31-byte frame: buffer of %d bytes, want at most %d", r.msgLen(), c, tc.maxCap)
		}
	}
	r.Release()
}

type nopHandler struct{}

func (nopHandler) OnText([]byte)                 {}
func (nopHandler) OnPing([]byte)                 {}
func (nopHandler) OnPong([]byte)                 {}
func (nopHandler) OnClose(ws.StatusCode, []byte) {}

// handlerFunc is a Handler that gives texts to a function.
type handlerFunc func(p []byte)

func (f handlerFunc) OnText(p []byte)             { f(p) }
func (handlerFunc) OnPing([]byte)                 {}
func (handlerFunc) OnPong([]byte)                 {}
func (handlerFunc) OnClose(ws.StatusCode, []byte) {}

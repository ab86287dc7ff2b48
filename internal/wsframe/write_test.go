package wsframe

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// readFrame decodes one server frame with gobwas/ws, an independent decoder,
// and checks that nothing follows it.
func readFrame(t testing.TB, b []byte) ws.Frame {
	t.Helper()
	r := bytes.NewReader(b)
	f, err := ws.ReadFrame(r)
	if err != nil {
		t.Fatalf("ws.ReadFrame: %v", err)
	}
	if r.Len() != 0 {
		t.Fatalf("%d bytes after the frame", r.Len())
	}
	if err := ws.CheckHeader(f.Header, ws.StateClientSide); err != nil {
		t.Fatalf("ws.CheckHeader as a client: %v", err)
	}
	return f
}

func TestAppendFrame(t *testing.T) {
	tests := []struct {
		name       string
		op         ws.OpCode
		size       int
		wantHeader int
	}{
		{
			name:       "empty text",
			op:         ws.OpText,
			size:       0,
			wantHeader: 2,
		},
		{
			name:       "text of 125 bytes",
			op:         ws.OpText,
			size:       125,
			wantHeader: 2,
		},
		{
			name:       "text of 126 bytes",
			op:         ws.OpText,
			size:       126,
			wantHeader: 4,
		},
		{
			name:       "text of 65535 bytes",
			op:         ws.OpText,
			size:       65535,
			wantHeader: 4,
		},
		{
			name:       "text of 65536 bytes",
			op:         ws.OpText,
			size:       65536,
			wantHeader: 10,
		},
		{
			name:       "ping of 125 bytes",
			op:         ws.OpPing,
			size:       125,
			wantHeader: 2,
		},
		{
			name:       "empty pong",
			op:         ws.OpPong,
			size:       0,
			wantHeader: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			payload := []byte(strings.Repeat("p", tt.size))
			prefix := []byte("kept")
			b := AppendFrame(bytes.Clone(prefix), tt.op, payload)
			if !bytes.HasPrefix(b, prefix) {
				t.Fatal("dst overwritten")
			}
			b = b[len(prefix):]
			if got := len(b) - tt.size; got != tt.wantHeader {
				t.Errorf("header of %d bytes, want %d", got, tt.wantHeader)
			}
			if tt.op == ws.OpText && TextHeaderLen(tt.size) != tt.wantHeader {
				t.Errorf("TextHeaderLen(%d) = %d, want %d", tt.size, TextHeaderLen(tt.size), tt.wantHeader)
			}
			f := readFrame(t, b)
			if !f.Header.Fin || f.Header.Masked || f.Header.Rsv != 0 || f.Header.OpCode != tt.op {
				t.Errorf("header %+v, want FIN, unmasked, op %d", f.Header, tt.op)
			}
			if !bytes.Equal(f.Payload, payload) {
				t.Error("payload differs")
			}
		})
	}
}

func TestAppendTextIsAppendFrame(t *testing.T) {
	p := []byte("hello")
	if got, want := AppendText(nil, p), AppendFrame(nil, ws.OpText, p); !bytes.Equal(got, want) {
		t.Errorf("AppendText = %x, want %x", got, want)
	}
}

func TestAppendFramePanicsOnLongControl(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic for a 126-byte ping")
		}
	}()
	AppendFrame(nil, ws.OpPing, make([]byte, 126))
}

func TestAppendClose(t *testing.T) {
	long := strings.Repeat("é", 100) // 200 bytes, runes of 2
	tests := []struct {
		name       string
		code       ws.StatusCode
		reason     string
		wantBody   bool
		wantReason string
	}{
		{
			name:       "code and reason",
			code:       ws.StatusPolicyViolation,
			reason:     "slow",
			wantBody:   true,
			wantReason: "slow",
		},
		{
			name:       "code only",
			code:       ws.StatusNormalClosure,
			reason:     "",
			wantBody:   true,
			wantReason: "",
		},
		{
			name:       "reason of 123 bytes is kept",
			code:       ws.StatusGoingAway,
			reason:     strings.Repeat("r", 123),
			wantBody:   true,
			wantReason: strings.Repeat("r", 123),
		},
		{
			name:       "reason of 124 bytes is cut",
			code:       ws.StatusGoingAway,
			reason:     strings.Repeat("r", 124),
			wantBody:   true,
			wantReason: strings.Repeat("r", 123),
		},
		{
			name:       "long reason is cut on a rune boundary",
			code:       ws.StatusGoingAway,
			reason:     long,
			wantBody:   true,
			wantReason: long[:122],
		},
		{
			name:       "4-byte rune across the limit is dropped whole",
			code:       ws.StatusGoingAway,
			reason:     strings.Repeat("r", 121) + "😀",
			wantBody:   true,
			wantReason: strings.Repeat("r", 121),
		},
		{
			name:       "reason that is not UTF-8 is cut at most 3 bytes back",
			code:       ws.StatusGoingAway,
			reason:     strings.Repeat("r", 120) + "\x93\x93\x93\x93\x93",
			wantBody:   true,
			wantReason: strings.Repeat("r", 120),
		},
		{
			name:       "code 1005 sends no payload",
			code:       ws.StatusNoStatusRcvd,
			reason:     "ignored",
			wantBody:   false,
			wantReason: "",
		},
		{
			name:       "code 0 sends no payload",
			code:       0,
			reason:     "",
			wantBody:   false,
			wantReason: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := readFrame(t, AppendClose(nil, tt.code, tt.reason))
			if f.Header.OpCode != ws.OpClose || !f.Header.Fin {
				t.Fatalf("header %+v, want a final close frame", f.Header)
			}
			if len(f.Payload) > ws.MaxControlFramePayloadSize {
				t.Fatalf("payload of %d bytes", len(f.Payload))
			}
			if !tt.wantBody {
				if len(f.Payload) != 0 {
					t.Errorf("payload %q, want none", f.Payload)
				}
				return
			}
			code, reason := ws.ParseCloseFrameData(f.Payload)
			if code != tt.code || reason != tt.wantReason {
				t.Errorf("got %d %q, want %d %q", code, reason, tt.code, tt.wantReason)
			}
			if utf8.ValidString(tt.reason) && !utf8.ValidString(reason) {
				t.Error("reason is not valid UTF-8")
			}
		})
	}
}

// TestWritersRoundTrip masks what the writers produce, as a client would
// send it, and reads it back.
func TestWritersRoundTrip(t *testing.T) {
	var stream []byte
	for _, b := range [][]byte{
		AppendText(nil, []byte("hi")),
		AppendText(nil, []byte(strings.Repeat("€", 30000))),
		AppendFrame(nil, ws.OpPing, []byte("p")),
		AppendFrame(nil, ws.OpPong, nil),
		AppendClose(nil, ws.StatusGoingAway, "bye"),
	} {
		stream = append(stream, maskServerFrame(t, b, testMask)...)
	}
	want := []event{text("hi"), text(strings.Repeat("€", 30000)), ping("p"), pong(""), closed(ws.StatusGoingAway, "bye")}
	for _, c := range chunkings {
		r := Reader{MaxMessage: 1 << 20}
		if got := run(&r, stream, c.next()); !got.equal(result{events: want, idle: true}) {
			t.Errorf("fed %s: got %d events, %v", c.name, len(got.events), got.err)
		}
	}
}

// maskServerFrame turns one server frame into the client frame with the
// same content, masked with m. gobwas/ws does the decoding and masking.
func maskServerFrame(t testing.TB, b []byte, m [4]byte) []byte {
	t.Helper()
	f, err := ws.ReadFrame(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("ws.ReadFrame: %v", err)
	}
	out, err := ws.CompileFrame(ws.MaskFrameWith(f, m))
	if err != nil {
		t.Fatalf("ws.CompileFrame: %v", err)
	}
	return out
}

func TestAppendTextDoesNotAllocate(t *testing.T) {
	payload := []byte(strings.Repeat("x", 100))
	dst := make([]byte, 0, 256)
	allocs := testing.AllocsPerRun(100, func() {
		dst = AppendText(dst[:0], payload)
		dst = AppendClose(dst, ws.StatusGoingAway, "bye")
	})
	if allocs != 0 {
		t.Errorf("%v allocations, want 0 when dst has room", allocs)
	}
}

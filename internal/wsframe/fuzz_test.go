package wsframe

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// Limits of the Reader under fuzzing: small, so that the fuzzer reaches them.
const (
	fuzzMaxFrame   = 300
	fuzzMaxMessage = 1000
)

// FuzzReader feeds random bytes in several chunkings. The Reader must not
// panic, must give the same calls and error whatever the chunking, and must
// only deliver what the rules allow.
func FuzzReader(f *testing.F) {
	for i, tc := range ruleCases() {
		if len(tc.stream) <= 2048 { // big seeds only slow the fuzzer down
			f.Add(tc.stream, uint64(i))
		}
	}
	f.Fuzz(func(t *testing.T, stream []byte, seed uint64) {
		newReader := func() *Reader {
			return &Reader{MaxFrame: fuzzMaxFrame, MaxMessage: fuzzMaxMessage}
		}
		want := run(newReader(), stream, whole)
		for _, c := range []struct {
			name string
			next chunker
		}{
			{"byte by byte", oneByte},
			{"random", randomChunks(seed)},
			{"split", splitAt(int(seed % uint64(len(stream)+1)))},
		} {
			if got := run(newReader(), stream, c.next); !got.equal(want) {
				t.Fatalf("fed %s: got %+v, %v; fed whole: %+v, %v", c.name, got.events, got.err, want.events, want.err)
			}
		}
		if want.err != nil {
			if _, ok := want.err.(*CloseError); !ok {
				t.Fatalf("error %T is not a *CloseError", want.err)
			}
		}
		if !want.idle {
			// Stopped in the middle of a frame: Release must let go.
			r := newReader()
			run(r, stream, whole)
			r.Release()
			if !r.Idle() {
				t.Fatal("not idle after Release")
			}
		}
		for i, e := range want.events {
			switch e.kind {
			case "text":
				if !utf8.ValidString(e.data) {
					t.Fatalf("text %q is not UTF-8", e.data)
				}
				if len(e.data) > fuzzMaxMessage {
					t.Fatalf("text of %d bytes, over MaxMessage", len(e.data))
				}
			case "ping", "pong":
				if len(e.data) > ws.MaxControlFramePayloadSize {
					t.Fatalf("%s of %d bytes", e.kind, len(e.data))
				}
			case "close":
				if i != len(want.events)-1 {
					t.Fatal("calls after OnClose")
				}
				if e.code != ws.StatusNoStatusRcvd && !ValidCloseCode(e.code) || !utf8.ValidString(e.data) {
					t.Fatalf("invalid close %d %q delivered", e.code, e.data)
				}
				if e.code == ws.StatusNoStatusRcvd && e.data != "" {
					t.Fatal("reason without a code")
				}
			}
		}
	})
}

// FuzzWriters builds a frame with the writers, checks it with gobwas/ws,
// masks it as a client would and reads it back with a Reader.
func FuzzWriters(f *testing.F) {
	f.Add(uint8(0), []byte("hello"), uint16(1000), "bye", uint32(0x12345678), uint64(1))
	f.Add(uint8(0), []byte("\xff"), uint16(0), "", uint32(0), uint64(2))
	f.Add(uint8(0), bytes.Repeat([]byte("é"), 100), uint16(0), "", uint32(7), uint64(3))
	f.Add(uint8(1), []byte("ping"), uint16(0), "", uint32(1), uint64(4))
	f.Add(uint8(2), []byte{}, uint16(0), "", uint32(2), uint64(5))
	f.Add(uint8(3), []byte{}, uint16(1001), strings.Repeat("€", 50), uint32(3), uint64(6))
	f.Add(uint8(3), []byte{}, uint16(1005), "x", uint32(4), uint64(7))
	f.Add(uint8(3), []byte{}, uint16(999), "x", uint32(5), uint64(8))
	f.Add(uint8(3), []byte{}, uint16(4000), "\xe2\x82", uint32(6), uint64(9))
	f.Fuzz(func(t *testing.T, kind uint8, payload []byte, code uint16, reason string, key uint32, seed uint64) {
		var out []byte
		var want []event
		var wantErr error
		switch kind % 4 {
		case 0:
			out = AppendText(nil, payload)
			switch {
			case len(payload) > fuzzMaxMessage:
				wantErr = ErrMessageTooBig
			case !utf8.Valid(payload):
				wantErr = ErrInvalidUTF8
			default:
				want = []event{text(string(payload))}
			}
		case 1, 2:
			payload = payload[:min(len(payload), ws.MaxControlFramePayloadSize)]
			if kind%4 == 1 {
				out = AppendFrame(nil, ws.OpPing, payload)
				want = []event{ping(string(payload))}
			} else {
				out = AppendFrame(nil, ws.OpPong, payload)
				want = []event{pong(string(payload))}
			}
		case 3:
			c := ws.StatusCode(code)
			out = AppendClose(nil, c, reason)
			f, err := ws.ReadFrame(bytes.NewReader(out))
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Payload) > ws.MaxControlFramePayloadSize {
				t.Fatalf("close payload of %d bytes", len(f.Payload))
			}
			sent := ""
			if len(f.Payload) >= 2 {
				sent = string(f.Payload[2:])
			}
			noCode := c == 0 || c == ws.StatusNoStatusRcvd
			if noCode && len(f.Payload) != 0 {
				t.Fatalf("close without a code has payload %q", f.Payload)
			}
			if !noCode && (!strings.HasPrefix(reason, sent) || len(sent) < min(len(reason), maxCloseReason-3)) {
				t.Fatalf("reason %q cut to %q", reason, sent)
			}
			if utf8.ValidString(reason) && !utf8.ValidString(sent) {
				t.Fatalf("valid reason %q cut into invalid %q", reason, sent)
			}
			switch {
			case noCode:
				want = []event{closed(ws.StatusNoStatusRcvd, "")}
			case !ValidCloseCode(c):
				wantErr = ErrCloseCode
			case !utf8.ValidString(sent):
				wantErr = ErrCloseReason
			default:
				want = []event{closed(c, sent)}
			}
		}
		// gobwas/ws must read back exactly what was written.
		fr, err := ws.ReadFrame(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("ws.ReadFrame: %v", err)
		}
		if !fr.Header.Fin || fr.Header.Masked || int(fr.Header.Length) != len(out)-int(ws.HeaderSize(fr.Header)) {
			t.Fatalf("bad header %+v for %d bytes", fr.Header, len(out))
		}
		if fr.Header.OpCode == ws.OpText && TextHeaderLen(len(payload)) != ws.HeaderSize(fr.Header) {
			t.Fatalf("TextHeaderLen(%d) = %d, header is %d", len(payload), TextHeaderLen(len(payload)), ws.HeaderSize(fr.Header))
		}
		m := [4]byte{byte(key), byte(key >> 8), byte(key >> 16), byte(key >> 24)}
		masked := maskServerFrame(t, out, m)
		wantRes := result{events: want, err: wantErr, idle: true}
		for _, next := range []chunker{whole, randomChunks(seed)} {
			r := &Reader{MaxMessage: fuzzMaxMessage}
			if got := run(r, masked, next); !got.equal(wantRes) {
				t.Fatalf("got %+v, %v; want %+v, %v", got.events, got.err, want, wantErr)
			}
		}
	})
}

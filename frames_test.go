package epchat_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/gobwas/ws"

	"github.com/epchat-go/epchat"
	"github.com/epchat-go/epchat/epchattest"
)

// TestFrameViolations sends one offending stream per case, from a member of
// a room, over a real WebSocket. The offender must get the close code of
// PROTOCOL.md; nothing it sent may be relayed; and a bystander in the same
// room must get the next message of the room, and only it.
func TestFrameViolations(t *testing.T) {
	hh := newTestHub(t,
		epchat.WithMaxMembers(100),
		epchat.WithMaxMessageSize(1000),    // read limit: 2*1000+1024 = 3024 bytes
		epchat.WithRequestRate(1000, 1000), // the owner makes two requests per case
	)
	const readLimit = 2*1000 + 1024
	ana, ben := hh.client(t, "nick-ana-frames"), hh.client(t, "nick-ben-frames")
	room := hh.room(t, ana, ben)

	leak := func(tag string) []byte { return sendReq(room, "LEAK "+tag) }
	split := "héllo wörld 🌍 €uro ✓"

	tests := []struct {
		name    string
		stream  []byte        // what the offender writes
		code    ws.StatusCode // close code it must get; 0: the connection stays open
		relayed []string      // texts of the offender's the room must get, in order
		pongs   []string      // pong payloads the offender must get
		maxHeap uint64        // if not 0: bound on bytes allocated while handling it
	}{
		{
			name:   "RSV1 set",
			stream: rawFrame(finBit|0x40|opText, leak("rsv1")),
			code:   ws.StatusProtocolError,
		},
		{
			name:   "RSV3 set",
			stream: rawFrame(finBit|0x10|opText, leak("rsv3")),
			code:   ws.StatusProtocolError,
		},
		{
			name:   "reserved data opcode",
			stream: rawFrame(finBit|0x3, leak("op3")),
			code:   ws.StatusProtocolError,
		},
		{
			name:   "reserved control opcode",
			stream: rawFrame(finBit|0xb, []byte("x")),
			code:   ws.StatusProtocolError,
		},
		{
			name:   "unmasked frame",
			stream: unmaskedFrame(finBit|opText, leak("unmasked")),
			code:   ws.StatusProtocolError,
		},
		{
			name:   "fragmented ping",
			stream: cat(rawFrame(opPing, []byte("a")), rawFrame(finBit|opCont, []byte("b"))),
			code:   ws.StatusProtocolError,
		},
		{
			name:   "ping of 126 bytes",
			stream: rawFrame(finBit|opPing, []byte(strings.Repeat("p", 126))),
			code:   ws.StatusProtocolError,
		},
		{
			name:   "close of 126 bytes",
			stream: rawFrame(finBit|opCls, closeBody(1000, strings.Repeat("r", 124))),
			code:   ws.StatusProtocolError,
		},
		{
			name:   "continuation without a start",
			stream: rawFrame(finBit|opCont, leak("cont")),
			code:   ws.StatusProtocolError,
		},
		{
			name: "new message inside a fragmented one",
			stream: cat(
				rawFrame(opText, leak("first")[:10]),
				rawFrame(finBit|opText, leak("second")),
			),
			code: ws.StatusProtocolError,
		},
		{
			name:   "64-bit length with its top bit set",
			stream: []byte{finBit | opText, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4},
			code:   ws.StatusProtocolError,
		},
		{
			name:   "invalid UTF-8",
			stream: rawFrame(finBit|opText, leak("\xff")),
			code:   ws.StatusInvalidFramePayloadData,
		},
		{
			name:   "overlong encoding",
			stream: rawFrame(finBit|opText, leak("\xc0\xaf")),
			code:   ws.StatusInvalidFramePayloadData,
		},
		{
			name:   "UTF-16 surrogate",
			stream: rawFrame(finBit|opText, leak("\xed\xa0\x80")),
			code:   ws.StatusInvalidFramePayloadData,
		},
		{
			name: "invalid UTF-8 split across fragments",
			// A euro sign's first two bytes, then a byte that cannot
			// continue it.
			stream: cat(
				rawFrame(opText, cat(leak("x")[:20], []byte("\xe2\x82"))),
				rawFrame(finBit|opCont, []byte("X\"}")),
			),
			code: ws.StatusInvalidFramePayloadData,
		},
		{
			name: "message ending inside a character",
			stream: cat(
				rawFrame(opText, []byte(`{"type":"send","room":"`+room+`","text":"`)),
				rawFrame(finBit|opCont, []byte("\"}\xe2\x82")),
			),
			code: ws.StatusInvalidFramePayloadData,
		},
		{
			name: "frame above the limit",
			// Declares 1 GiB and sends none of it: refused at the
			// header, without taking room for it.
			stream:  rawHeader(finBit|opText, 1<<30, false),
			code:    ws.StatusMessageTooBig,
			maxHeap: 16 << 20,
		},
		{
			name: "message above the limit in many fragments",
			// 47 fragments of 64 bytes fit (3008 bytes); the header of
			// the next one, which would cross 3024, is refused at once.
			stream: cat(
				fragments([]byte(strings.Repeat("y", 47*64)), 64, false),
				rawHeader(finBit|opCont, 64, false),
			),
			code: ws.StatusMessageTooBig,
		},
		{
			name:   "binary message",
			stream: rawFrame(finBit|opBin, leak("bin")),
			code:   ws.StatusUnsupportedData,
		},
		{
			name:   "fragmented binary message",
			stream: cat(rawFrame(opBin, leak("bin")[:5]), rawFrame(finBit|opCont, leak("bin")[5:])),
			code:   ws.StatusUnsupportedData,
		},
		{
			name:   "close with a 1-byte payload",
			stream: rawFrame(finBit|opCls, []byte{3}),
			code:   ws.StatusProtocolError,
		},
		{
			name:   "close code 999",
			stream: rawFrame(finBit|opCls, closeBody(999, "")),
			code:   ws.StatusProtocolError,
		},
		{
			name:   "close code 1004 (reserved)",
			stream: rawFrame(finBit|opCls, closeBody(1004, "")),
			code:   ws.StatusProtocolError,
		},
		{
			name:   "close code 1005 (never sent)",
			stream: rawFrame(finBit|opCls, closeBody(1005, "")),
			code:   ws.StatusProtocolError,
		},
		{
			name:   "close code 1006 (never sent)",
			stream: rawFrame(finBit|opCls, closeBody(1006, "")),
			code:   ws.StatusProtocolError,
		},
		{
			name:   "close code 1015 (never sent)",
			stream: rawFrame(finBit|opCls, closeBody(1015, "")),
			code:   ws.StatusProtocolError,
		},
		{
			name:   "close code 2999 (unassigned)",
			stream: rawFrame(finBit|opCls, closeBody(2999, "")),
			code:   ws.StatusProtocolError,
		},
		{
			name:   "close code 5000",
			stream: rawFrame(finBit|opCls, closeBody(5000, "")),
			code:   ws.StatusProtocolError,
		},
		{
			name:   "close reason not UTF-8",
			stream: rawFrame(finBit|opCls, closeBody(1000, "bye\xff")),
			code:   ws.StatusProtocolError,
		},
		{
			name:   "close 4321 is echoed",
			stream: rawFrame(finBit|opCls, closeBody(4321, "done")),
			code:   4321,
		},
		{
			name:   "empty close is answered with 1000",
			stream: rawFrame(finBit|opCls, nil),
			code:   ws.StatusNormalClosure,
		},
		{
			name: "data after the close frame is ignored",
			stream: cat(
				rawFrame(finBit|opCls, closeBody(1000, "")),
				rawFrame(finBit|opText, leak("after close")),
			),
			code: ws.StatusNormalClosure,
		},
		{
			name:    "characters split across one-byte fragments",
			stream:  fragments(sendReq(room, split), 1, true),
			relayed: []string{split},
		},
		{
			name: "ping inside a fragmented message",
			stream: cat(
				rawFrame(opText, sendReq(room, "pinged")[:20]),
				rawFrame(finBit|opPing, []byte("are you there")),
				rawFrame(finBit|opCont, sendReq(room, "pinged")[20:]),
			),
			relayed: []string{"pinged"},
			pongs:   []string{"are you there"},
		},
		{
			name: "empty fragments around a message",
			stream: cat(
				rawFrame(opText, nil),
				rawFrame(opCont, sendReq(room, "padded")),
				rawFrame(finBit|opCont, nil),
			),
			relayed: []string{"padded"},
		},
		{
			name:   "unsolicited pong is ignored",
			stream: cat(rawFrame(finBit|opPong, []byte("hi")), rawFrame(finBit|opText, sendReq(room, "after pong"))),
			relayed: []string{
				"after pong",
			},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hh.secret("LEAK")
			off := hh.client(t, fmt.Sprintf("nick-off-%d", i))
			off.MustCall("joined", map[string]any{"type": "join", "token": hh.invite(t, ana, room)})
			ana.Expect("member_joined", room)
			ben.Expect("member_joined", room)

			var before runtime.MemStats
			if tt.maxHeap > 0 {
				runtime.ReadMemStats(&before)
			}
			if err := off.WriteRaw(tt.stream); err != nil {
				t.Fatal(err)
			}
			if tt.code != 0 {
				if code := off.CloseCode(); code != tt.code {
					t.Fatalf("close code %d, want %d", code, tt.code)
				}
			} else {
				// The offender's requests were answered: it is still
				// served.
				for range tt.relayed {
					off.Expect("sent", room)
				}
				off.MustCall("members", map[string]any{"type": "members", "room": room})
			}
			if tt.maxHeap > 0 {
				var after runtime.MemStats
				runtime.ReadMemStats(&after)
				if grew := after.TotalAlloc - before.TotalAlloc; grew > tt.maxHeap {
					t.Errorf("%d bytes allocated while refusing the frame, want at most %d", grew, tt.maxHeap)
				}
			}
			if got := off.Pongs(); strings.Join(got, "|") != strings.Join(tt.pongs, "|") {
				t.Errorf("pongs %q, want %q", got, tt.pongs)
			}

			for _, text := range tt.relayed {
				expectText(t, ben, room, text)
				expectText(t, ana, room, text)
			}
			marker := "marker after " + tt.name
			hh.say(t, ana, room, marker)
			expectText(t, ben, room, marker)
			ben.None()
			ana.None()
		})
	}
	if n := hh.logs.count("protocol violation"); n == 0 {
		t.Error("no protocol violation was logged")
	}
}

// TestFramesWithTheUpgradeRequest sends hello in the same write as the
// upgrade request, as a client that does not wait for the 101 may: those
// bytes are the start of the stream.
func TestFramesWithTheUpgradeRequest(t *testing.T) {
	hh := newTestHub(t)
	nc := dialRawUpgrade(t, hh.srv.Listener.Addr().String(),
		rawFrame(finBit|opText, []byte(`{"type":"hello","id":"h","nickname":"nick-early"}`)))
	hh.secret("nick-early")
	e := nc.Take("welcome", func(e epchattest.Event) bool { return e.Str("id") == "h" })
	if e.Type() != "welcome" {
		t.Fatalf("got %v, want welcome", e)
	}
	hh.secret(e.Str("token"))
}

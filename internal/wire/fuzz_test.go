package wire

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzDecodeRoundTrip: DecodeRequest never panics, never keeps a long id,
// and what it accepts from valid UTF-8 (all the frame reader lets through)
// is a request with a type that encodes and decodes back to itself.
// FuzzDecodeRequest (decode_test.go) compares it with encoding/json.
func FuzzDecodeRoundTrip(f *testing.F) {
	for _, s := range []string{
		`{"type":"hello","id":"1","nickname":"Ana"}`,
		`{"type":"hello","id":"1","token":"q3Jr"}`,
		`{"type":"send","id":"5","room":"Xk2","text":"hi \u2028 \"quoted\""}`,
		`{"type":"history","id":"9","room":"r","to":"m","data":"opaque"}`,
		`{"type":"join","token":"t","extra":{"a":[1,2,{"b":null}]}}`,
		`{"type":"send","id":12}`,
		`{"type":7}`,
		`{"id":"x"}`,
		`[1,2]`,
		`null`,
		`{"type":"send","text":"\ud800"}`,
		`{"type":"send","id":"` + strings.Repeat("i", 65) + `"}`,
		`{"type":"a","type":"b"}`,
		`{"TYPE":"send"}`,
		"{\"type\":\"send\",\"text\":\"\xff\"}",
		`{"type":"send"} {}`,
		strings.Repeat("[", 100),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		var r Request
		err := DecodeRequest(p, &r)
		if len(r.ID) > MaxIDLen {
			t.Fatalf("id of %d bytes kept", len(r.ID))
		}
		if err != nil {
			if err != ErrBadRequest {
				t.Fatalf("error %v, want ErrBadRequest", err)
			}
			return
		}
		if r.Type == "" {
			t.Fatal("accepted a request without a type")
		}
		if !utf8.Valid(p) {
			return // kept as bytes; json.Marshal would replace them
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var back Request
		if err := DecodeRequest(b, &back); err != nil {
			t.Fatalf("re-encoded request %s refused: %v", b, err)
		}
		if back.Has != allFields {
			t.Fatalf("re-encoded request %s carries fields %08b, want all", b, back.Has)
		}
		back.Has = r.Has // json.Marshal writes every field
		if back != r {
			t.Fatalf("round trip: %+v, want %+v", back, r)
		}
	})
}

// allFields is every field: json.Marshal writes them all.
const allFields = FieldVerifier<<1 - 1

// FuzzRequestRoundTrip: any request a client can encode (valid UTF-8
// fields) decodes to exactly its fields.
func FuzzRequestRoundTrip(f *testing.F) {
	f.Add("send", "1", "", "", "room", "hello \"world\"\n", "", "")
	f.Add("hello", "", "Ana 🌍", "", "", "", "", "")
	f.Add("history", strings.Repeat("x", 64), "", "", "r", "", "m", "\u2028\u0000")
	f.Fuzz(func(t *testing.T, typ, id, nick, token, room, text, to, data string) {
		in := Request{Type: typ, ID: id, Nickname: nick, Token: token, Room: room, Text: text, To: to, Data: data, Has: allFields}
		for _, s := range []string{typ, id, nick, token, room, text, to, data} {
			if !utf8.ValidString(s) {
				return // json.Marshal would change it
			}
		}
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		var out Request
		err = DecodeRequest(b, &out)
		switch {
		case typ == "" || len(id) > MaxIDLen:
			if err == nil {
				t.Fatalf("accepted %s", b)
			}
		case err != nil:
			t.Fatalf("refused %s: %v", b, err)
		case out != in:
			t.Fatalf("got %+v, want %+v", out, in)
		}
	})
}

// FuzzEventsAreJSON: events built around client-chosen strings are always
// one valid JSON object whose strings read back as sent (invalid UTF-8 as
// U+FFFD): a client cannot inject fields into what others receive.
func FuzzEventsAreJSON(f *testing.F) {
	f.Add("room", "from", "text \"x\" \\ \u2028", "id")
	f.Add("", "", "\xff\xfe", "\x00")
	f.Fuzz(func(t *testing.T, room, from, text, id string) {
		events := map[string][]byte{
			"message": Message(nil, room, from, 1, 2, text),
			"history": History(nil, room, from, text),
			"error":   Error(nil, id, NotFound, room),
			"sent":    Sent(nil, id, room, 3, 4),
		}
		for name, b := range events {
			var m map[string]any
			dec := json.NewDecoder(strings.NewReader(string(b)))
			if err := dec.Decode(&m); err != nil || dec.More() {
				t.Fatalf("%s event %q is not one JSON object: %v", name, b, err)
			}
			if m["type"] != name {
				t.Fatalf("%s event has type %v", name, m["type"])
			}
			if !utf8.Valid(b) {
				t.Fatalf("%s event is not valid UTF-8", name)
			}
		}
		var msg map[string]any
		json.Unmarshal(events["message"], &msg)
		if want := strings.ToValidUTF8(text, "\ufffd"); msg["text"] != want && utf8.ValidString(text) {
			t.Fatalf("text %q read back as %q", text, msg["text"])
		}
		if len(msg) != 6 {
			t.Fatalf("message event has %d fields: %v", len(msg), msg)
		}
	})
}

// FuzzSplitBatch: SplitBatch never panics, and what it accepts is a batch
// that AppendBatched makes again from the pieces it yields.
func FuzzSplitBatch(f *testing.F) {
	for _, s := range []string{"3:abc", "1:x2:yz", "0:", "3:ab", "12:", "9999999999:x"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var again []byte
		err := SplitBatch(b, func(e []byte) bool {
			again = AppendBatched(again, e)
			return true
		})
		if err == nil && string(again) != string(b) {
			t.Fatalf("SplitBatch accepted %q, which is not the batch %q of its pieces", b, again)
		}
	})
}

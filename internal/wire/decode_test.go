package wire

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// seen is set by any JSON value but null, which encoding/json treats as
// no value at all for a string (it leaves the string as it was).
type seen bool

func (s *seen) UnmarshalJSON(b []byte) error {
	if string(b) != "null" {
		*s = true
	}
	return nil
}

// presence mirrors Request: it tells which fields a request carried, as
// Request.Has does.
type presence struct {
	Type, ID, Nickname, Token, Room, Text, To, Data, Member seen
}

func (p presence) has() Fields {
	var f Fields
	for i, v := range []seen{p.Type, p.ID, p.Nickname, p.Token, p.Room, p.Text, p.To, p.Data, p.Member} {
		if v {
			f |= 1 << i
		}
	}
	return f
}

// decodeStd is what encoding/json makes of p, for comparison. When p is
// a JSON object with a field of the wrong type, ok is false and id is
// the id encoding/json read anyway (it reads on past such a field).
func decodeStd(p []byte) (r Request, ok bool, id string) {
	err := json.Unmarshal(p, &r)
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && len(r.ID) <= MaxIDLen {
		id = r.ID
	}
	if err != nil || r.Type == "" || len(r.ID) > MaxIDLen {
		return Request{}, false, id
	}
	var pr presence
	json.Unmarshal(p, &pr)
	r.Has = pr.has()
	return r, true, r.ID
}

var corpus = []string{
	`{"type":"hello","id":"1","nickname":"Ana"}`,
	` { "type" : "send" , "room":"r", "text":"a\"b\\c\/d\b\f\n\r\t" } `,
	`{"type":"send","text":"\u00e9\u4e2d\ud83d\ude00"}`,
	`{"type":"send","text":"\ud83d"}`,
	`{"type":"send","text":"\ud83dx"}`,
	`{"type":"send","text":"\ude00\ud83d\ude00"}`,
	`{"type":"send","text":"\ud83d\u0041"}`,
	`{"type":"send","extra":{"a":[1,2.5,-3e10,true,false,null,"x",{}],"b":[]},"room":"r"}`,
	`{"type":"send","room":null}`,
	`{"type":"send","room":"a","room":"b"}`,
	`{"type":"join","token":"t","n":-0.0e+1}`,
	`{"type":"hello","id":""}`,
	`{}`,
	`{"id":"x"}`,
	`{"type":7}`,
	`{"type":7,"id":"o2"}`,
	`{"id":"o3","type":"send","room":5,"text":"x"}`,
	`{"type":"send","room":{"a":[1]},"id":"o4"}`,
	`{"type":"send","to":false,"id":"o5","id":null}`,
	`{"type":"send","id":"o6","id":7}`,
	`{"type":"send","room":1,"id":"o7",}`,
	`{"type":"send","room":"r","text":null}`,
	`{"type":"send","room":"r","text":"a","text":null}`,
	`{"type":"send","room":"r","text":null,"text":""}`,
	`{"type":"send","room":["r"]}`,
	`{"type":"send","room":true}`,
	`{"type":"send",}`,
	`{"type":"send"`,
	`{"type":"send"} x`,
	`[{"type":"send"}]`,
	`"send"`,
	``,
	`{"type":"send","n":01}`,
	`{"type":"send","n":1.}`,
	`{"type":"send","n":.5}`,
	`{"type":"send","n":-}`,
	`{"type":"send","text":"a` + "\x01" + `b"}`,
	`{"type":"send","text":"\x"}`,
	`{"type":"send","text":"\u12"}`,
	`{"type":"send","x":tru}`,
	`{"type":"send","x":nul}`,
	`{"type":"hello","id":"` + strings.Repeat("i", 65) + `"}`,
	`{"ty\u0070e":"send"}`,
	`{"type":"send","x":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`,
	`{"type":"send","x":` + strings.Repeat("[", 20) + strings.Repeat("]", 20) + `}`,
}

// The hand-written decoder agrees with encoding/json on every request,
// except where this one is stricter by design: nesting over 32 levels, and
// field names that match only case-insensitively or through escapes.
func TestDecodeAgreesWithEncodingJSON(t *testing.T) {
	for _, in := range corpus {
		t.Run(in[:min(len(in), 40)], func(t *testing.T) {
			compare(t, []byte(in))
		})
	}
}

func compare(t *testing.T, p []byte) {
	var got Request
	err := DecodeRequest(p, &got)
	want, ok, wantID := decodeStd(p)
	if !utf8.Valid(p) {
		// encoding/json makes each invalid byte a 3-byte U+FFFD, so its
		// id may pass MaxIDLen where ours does not: compare the rest.
		var std Request
		if err == nil && (json.Unmarshal(p, &std) != nil || std.Type == "") {
			t.Fatalf("%q: accepted, but encoding/json refuses it", p)
		}
		return
	}
	if strict(p) {
		// Fields encoding/json filled through other cases or escapes may
		// differ; what this decoder accepts must still be a request there.
		if err == nil && !ok {
			t.Fatalf("%q: got %+v, but encoding/json refuses it", p, got)
		}
		return
	}
	if (err == nil) != ok {
		t.Fatalf("%q: err %v, but encoding/json ok=%v (%+v)", p, err, ok, want)
	}
	if err != nil && wantID != "" && got.ID != wantID {
		t.Fatalf("%q: refused with id %q, but encoding/json read id %q", p, got.ID, wantID)
	}
	if ok && got != want {
		t.Fatalf("%q:\n got %+v\nwant %+v", p, got, want)
	}
}

// strict reports inputs where this decoder may refuse, or read less than,
// what encoding/json accepts. Invalid UTF-8 is among them: encoding/json
// replaces it, this decoder keeps the bytes (the frame reader has already
// refused such text, and the encoder replaces it on the way out).
func strict(p []byte) bool {
	var m map[string]any
	if json.Unmarshal(p, &m) != nil {
		return !utf8.Valid(p) || strings.Count(string(p), "[")+strings.Count(string(p), "{") > maxDepth
	}
	for k := range m {
		var r Request
		if f, _ := r.field([]byte(strings.ToLower(k))); f != nil && !strings.Contains(string(p), `"`+k+`"`) {
			return true // the key was written with escapes
		}
		if strings.ToLower(k) != k {
			return true
		}
	}
	return !utf8.Valid(p) || strings.Count(string(p), "[")+strings.Count(string(p), "{") > maxDepth
}

func TestDecodeKeepsIDOnError(t *testing.T) {
	var r Request
	if err := DecodeRequest([]byte(`{"id":"q1","type":"send","room":5}`), &r); err == nil || r.ID != "q1" {
		t.Fatalf("err %v, id %q", err, r.ID)
	}
	// A field of the wrong type before the id: the id is read all the same.
	for _, in := range []string{
		`{"type":7,"id":"o2"}`,
		`{"type":"send","room":[1,{"a":2}],"text":true,"id":"o2"}`,
	} {
		if err := DecodeRequest([]byte(in), &r); err == nil || r.ID != "o2" {
			t.Fatalf("%s: err %v, id %q, want the error to name o2", in, err, r.ID)
		}
	}
	deep := `{"type":"send","id":"q2","x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`
	if err := DecodeRequest([]byte(deep), &r); err == nil || r.ID != "q2" {
		t.Fatalf("deep: err %v, id %q", err, r.ID)
	}
	// Broken syntax (PROTOCOL.md): the id is kept if it came before it.
	for in, want := range map[string]string{
		`{"id":"c1","type":`:         "c1",
		`{"id":"c1","type":"ping"}x`: "c1",
		`{"id":"c1" "type":"ping"}`:  "c1",
		`{"type":"ping",`:            "",
		`{"type":"ping" "id":"c1"}`:  "",
	} {
		if err := DecodeRequest([]byte(in), &r); err == nil || r.ID != want {
			t.Fatalf("%s: err %v, id %q, want an error naming %q", in, err, r.ID, want)
		}
	}
}

func FuzzDecodeRequest(f *testing.F) {
	for _, in := range corpus {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		compare(t, p)
	})
}

// TestDecodeHas: Has tells absent and null from an empty string.
func TestDecodeHas(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Fields
	}{
		{
			in:   `{"type":"send","room":"r"}`,
			want: FieldType | FieldRoom,
		},
		{
			in:   `{"type":"send","room":"r","text":""}`,
			want: FieldType | FieldRoom | FieldText,
		},
		{
			in:   `{"type":"send","room":"r","text":null}`,
			want: FieldType | FieldRoom,
		},
		{
			in:   `{"type":"history","id":"1","to":"m","data":"d","nickname":"n","token":"t"}`,
			want: FieldType | FieldID | FieldTo | FieldData | FieldNickname | FieldToken,
		},
	} {
		var r Request
		if err := DecodeRequest([]byte(tc.in), &r); err != nil || r.Has != tc.want {
			t.Errorf("%s: Has %08b (err %v), want %08b", tc.in, r.Has, err, tc.want)
		}
	}
}

func BenchmarkDecodeRequest(b *testing.B) {
	p := []byte(`{"type":"send","id":"42","room":"Xk2mNq8vR0aZcVw1eLp9Tg","text":"` + strings.Repeat("QUJDREVGR0g", 12) + `"}`)
	b.Run("hand-written", func(b *testing.B) {
		b.ReportAllocs()
		var r Request
		for b.Loop() {
			DecodeRequest(p, &r)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		var r Request
		for b.Loop() {
			json.Unmarshal(p, &r)
		}
	})
}

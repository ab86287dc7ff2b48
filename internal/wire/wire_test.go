package wire

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

func TestQuoteIsValidJSON(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // what a JSON decoder reads back
	}{
		{
			name: "plain",
			in:   "hello",
			want: "hello",
		},
		{
			name: "quotes and backslashes",
			in:   `a"b\c`,
			want: `a"b\c`,
		},
		{
			name: "control characters",
			in:   "a\x00b\nc\td\x1f",
			want: "a\x00b\nc\td\x1f",
		},
		{
			name: "line separators",
			in:   "a\u2028b\u2029c",
			want: "a\u2028b\u2029c",
		},
		{
			name: "invalid UTF-8 becomes U+FFFD",
			in:   "a\xffb",
			want: "a\ufffdb",
		},
		{
			name: "multi-byte",
			in:   "héllo 🌍",
			want: "héllo 🌍",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := quote(nil, tt.in)
			var got string
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("quote(%q) = %s: %v", tt.in, b, err)
			}
			if got != tt.want {
				t.Fatalf("quote(%q) read back %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestEventsAreJSON(t *testing.T) {
	st := RoomState{Room: "r", Owner: "a", Seq: 3, Members: []Member{{ID: "a", Nickname: "Ana"}, {ID: "b", Nickname: `B"en`}}}
	events := [][]byte{
		Welcome(nil, "1", Member{ID: "a", Nickname: "Ana"}, "tok", []RoomState{st, st}, Limits{MaxMessage: 16384, MaxMembers: 10, RoomIdle: 600}),
		Welcome(nil, "", Member{ID: "a", Nickname: "Ana"}, "", nil, Limits{MaxMessage: 1, MaxMembers: 1}),
		State(nil, "joined", "2", st),
		Invite(nil, "3", "r", "tok", "ref", 300123, 123),
		Sent(nil, "4", "r", 5, 6),
		OK(nil, "5"),
		Error(nil, "6", NotFound, "r"),
		Message(nil, "r", "a", 1, 2, "hi"),
		MemberJoined(nil, "r", Member{ID: "b", Nickname: "Ben"}),
		MemberLeft(nil, "r", "b", "left"),
		OwnerChanged(nil, "r", "b"),
		RoomClosed(nil, "r", "idle"),
		History(nil, "r", "a", "data"),
		RoomLeft(nil, "r", "kicked"),
		LockChanged(nil, "r", true),
		LockChanged(nil, "r", false),
		InviteOK(nil, "7", 300123, 123, true, false),
	}
	for _, e := range events {
		var m map[string]any
		if err := json.Unmarshal(e, &m); err != nil {
			t.Errorf("%s: %v", e, err)
		}
	}
	var w map[string]any
	json.Unmarshal(events[0], &w)
	if rooms, _ := w["rooms"].([]any); len(rooms) != 2 || w["token"] != "tok" {
		t.Errorf("welcome: %v", w)
	}
	if lim, _ := w["limits"].(map[string]any); lim["max_message"] != 16384.0 || lim["max_members"] != 10.0 || lim["room_idle"] != 600.0 || len(lim) != 3 {
		t.Errorf("welcome limits: %v", w["limits"])
	}
	var inv map[string]any
	json.Unmarshal(events[3], &inv)
	if inv["expires"] != 300123.0 || inv["now"] != 123.0 {
		t.Errorf("invite: %v", inv)
	}
	var ok map[string]any
	json.Unmarshal(events[len(events)-1], &ok)
	if ok["type"] != "invite_ok" || ok["id"] != "7" || ok["expires"] != 300123.0 || ok["now"] != 123.0 || ok["locked"] != true || ok["full"] != false || len(ok) != 6 {
		t.Errorf("invite_ok: %v", ok)
	}
}

// TestModerationEvents: the events and fields of kick and lock are shaped
// as PROTOCOL.md says.
func TestModerationEvents(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{
			name: "room_left",
			got:  RoomLeft(nil, "r", "kicked"),
			want: `{"type":"room_left","room":"r","reason":"kicked"}`,
		},
		{
			name: "room_locked",
			got:  LockChanged(nil, "r", true),
			want: `{"type":"room_locked","room":"r","locked":true}`,
		},
		{
			name: "room_unlocked",
			got:  LockChanged(nil, "r", false),
			want: `{"type":"room_locked","room":"r","locked":false}`,
		},
		{
			name: "members of a locked room",
			got:  State(nil, "members", "1", RoomState{Room: "r", Owner: "a", Seq: 2, Locked: true}),
			want: `{"type":"members","id":"1","room":"r","owner":"a","seq":2,"locked":true,"members":[]}`,
		},
		{
			name: "joined of an open room",
			got:  State(nil, "joined", "1", RoomState{Room: "r", Owner: "a"}),
			want: `{"type":"joined","id":"1","room":"r","owner":"a","seq":0,"locked":false,"members":[]}`,
		},
		{
			name: "welcome room",
			got:  Welcome(nil, "", Member{ID: "a", Nickname: "A"}, "", []RoomState{{Room: "r", Owner: "a", Locked: true}}, Limits{}),
			want: `{"type":"welcome","you":{"id":"a","nickname":"A"},"rooms":[{"room":"r","owner":"a","seq":0,"locked":true,"members":[]}],"limits":{"max_message":0,"max_members":0,"room_idle":0}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if string(tt.got) != tt.want {
				t.Fatalf("got  %s\nwant %s", tt.got, tt.want)
			}
		})
	}
	var r Request
	if err := DecodeRequest([]byte(`{"type":"kick","id":"1","room":"r","member":"m"}`), &r); err != nil || r.Type != "kick" || r.Member != "m" || r.Room != "r" {
		t.Fatalf("kick request decoded to %+v, %v", r, err)
	}
	if DecodeRequest([]byte(`{"type":"kick","member":7}`), &r) == nil {
		t.Fatal("a kick with a number for member decoded")
	}
}

func TestEnvelopeRoundTrip(t *testing.T) {
	in := Envelope{Kind: KindLeft, Closed: true, Node: "n1", Skip: 42, Room: "r", User: "u", To: "", Payload: []byte(`{"type":"x"}`)}
	var out Envelope
	if err := DecodeEnvelope(AppendEnvelope(nil, &in), &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("got %+v, want %+v", out, in)
	}
	for i := range 12 {
		b := AppendEnvelope(nil, &in)[:i]
		if DecodeEnvelope(b, &out) == nil && i < 12 {
			t.Errorf("truncated envelope of %d bytes decoded", i)
		}
	}
}

// TestMessageParts: head, seq, tail is the message event Message makes.
func TestMessageParts(t *testing.T) {
	head, tail := MessageParts("r\"1", "u", -5, "hé \"x\"")
	got := string(head) + "42" + string(tail)
	if want := string(Message(nil, "r\"1", "u", 42, -5, "hé \"x\"")); got != want {
		t.Fatalf("parts give %s, want %s", got, want)
	}
}

// A batch carries envelopes of any bytes, in order; anything else is
// refused, and an envelope is never taken for a batch.
func TestBatch(t *testing.T) {
	envs := [][]byte{
		AppendEnvelope(nil, &Envelope{Kind: KindMessage, Node: "n", Skip: 7, Room: "r", Payload: []byte(`{"type":"message"}`)}),
		AppendEnvelope(nil, &Envelope{Kind: KindMessage, Room: "r", Payload: []byte("12:34:")}),
		bytes.Repeat([]byte{0, ':', '9'}, 400),
	}
	var b []byte
	for _, e := range envs {
		b = AppendBatched(b, e)
	}
	if !IsBatch(b) || IsBatch(envs[0]) || IsBatch(nil) {
		t.Fatal("IsBatch mistakes a batch or an envelope")
	}
	var got [][]byte
	if err := SplitBatch(b, func(e []byte) bool { got = append(got, e); return true }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(envs) {
		t.Fatalf("split %d envelopes of %d", len(got), len(envs))
	}
	for i := range envs {
		if !bytes.Equal(got[i], envs[i]) {
			t.Fatalf("envelope %d: %q; want %q", i, got[i], envs[i])
		}
	}
	n := 0
	SplitBatch(b, func([]byte) bool { n++; return false })
	if n != 1 {
		t.Fatalf("yield returned false and was called %d times", n)
	}
	for _, bad := range []string{"0:", "3:ab", "3", "3:abc2", "3:abc4:de", "03:abc", "a:b", ":", "99999999999:x"} {
		if err := SplitBatch([]byte(bad), func([]byte) bool { return true }); err == nil {
			t.Errorf("SplitBatch(%q) = nil; want ErrEnvelope", bad)
		}
	}
}

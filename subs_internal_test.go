package epchat

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// Every shard of the subscriptions and of the room locks fills one cache
// line (64 bytes on the machines the Hub runs on), so that two rooms'
// fan-outs or lockings do not contend on a line they share.
func TestShardSize(t *testing.T) {
	if got := unsafe.Sizeof(subShard{}); got != 64 {
		t.Errorf("subShard is %d bytes, want 64", got)
	}
	if got := unsafe.Sizeof(lockShard{}); got != 64 {
		t.Errorf("lockShard is %d bytes, want 64", got)
	}
}

// A shard tells the first subscriber of a room and the last, which the
// Broker's Serve and Unserve follow, and forgets a room with its last.
func TestSubShard(t *testing.T) {
	var s subShard
	a, b := newTestConn(1), newTestConn(2)
	steps := []struct {
		name string
		do   func() bool
		want bool
	}{
		{
			name: "first",
			do:   func() bool { return s.add("r", a) },
			want: true,
		},
		{
			name: "second",
			do:   func() bool { return s.add("r", b) },
			want: false,
		},
		{
			name: "remove one of two",
			do:   func() bool { return s.remove("r", a) },
			want: false,
		},
		{
			name: "remove one not subscribed",
			do:   func() bool { return s.remove("r", a) },
			want: false,
		},
		{
			name: "remove the last",
			do:   func() bool { return s.remove("r", b) },
			want: true,
		},
		{
			name: "remove from a room with none",
			do:   func() bool { return s.remove("r", b) },
			want: false,
		},
	}
	for _, st := range steps {
		if got := st.do(); got != st.want {
			t.Fatalf("%s: %v, want %v", st.name, got, st.want)
		}
	}
	if len(s.m) != 0 {
		t.Fatalf("%d rooms kept after the last subscriber left", len(s.m))
	}
}

// A connection's room set holds what was added and not removed, in any
// order, and holds no array once back to one room or none.
func TestRoomSet(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var r roomSet
	want := map[string]bool{}
	for step := range 5000 {
		room := fmt.Sprint("r", rng.IntN(8))
		if want[room] {
			r.remove(room)
			delete(want, room)
		} else {
			r.add(room)
			want[room] = true
		}
		got := r.list()
		if len(got) != len(want) {
			t.Fatalf("step %d: list %v, want %d rooms", step, got, len(want))
		}
		for _, x := range got {
			if !want[x] || !r.has(x) {
				t.Fatalf("step %d: %q listed or held, not added", step, x)
			}
		}
		if r.has("never") {
			t.Fatalf("step %d: holds a room never added", step)
		}
		if len(want) <= 1 && r.more != nil {
			t.Fatalf("step %d: %d rooms and an array", step, len(want))
		}
	}
}

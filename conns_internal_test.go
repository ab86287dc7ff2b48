package epchat

import (
	"slices"
	"testing"
	"unsafe"

	"github.com/epchat-go/epchat/internal/transport"
)

// Every Hub test runs the transport's state checker: an illegal
// transition of a connection's states panics.
func init() { transport.Strict = true }

// TestConnSize guards the idle-memory budget (README, Performance): every
// member's connection is one conn, and the next size class up (384) costs 32
// bytes more per member. Grow it only with a measurement.
func TestConnSize(t *testing.T) {
	if got := unsafe.Sizeof(conn{}); got > 352 {
		t.Fatalf("conn is %d bytes, over the 352-byte size class", got)
	}
}

// userIndex keeps every connection of a user until it is removed, in any
// order, and forgets the user with the last.
func TestUserIndex(t *testing.T) {
	var u userIndex
	a, b, c := newTestConn(1), newTestConn(2), newTestConn(3)
	other := newTestConn(4)
	a.user, b.user, c.user, other.user = "ana", "ana", "ana", "ben"
	u.add("ben", other)
	ids := func() []uint64 {
		var out []uint64
		for x := range u.conns("ana") {
			out = append(out, x.ID)
		}
		slices.Sort(out)
		return out
	}
	for _, x := range []*conn{a, b, c} {
		u.add("ana", x)
	}
	if got := ids(); !slices.Equal(got, []uint64{1, 2, 3}) {
		t.Fatalf("after three adds: %v", got)
	}
	u.remove("ana", a) // the first: one of the others moves up
	if got := ids(); !slices.Equal(got, []uint64{2, 3}) {
		t.Fatalf("after removing the first: %v", got)
	}
	u.remove("ana", c)
	if got := ids(); !slices.Equal(got, []uint64{2}) {
		t.Fatalf("after removing another: %v", got)
	}
	u.remove("ana", b)
	if got := ids(); len(got) != 0 || u.has("ana") || len(u.more) != 0 || !u.has("ben") {
		t.Fatalf("after removing all: %v, %d, %d entries", got, u.one.n, len(u.more))
	}
}

// The Hub's connection list stays a list of the live ones, each at the
// index its slot says, whatever order they leave in.
func TestConnList(t *testing.T) {
	var h Hub
	all := make([]*conn, 2000)
	for i := range all {
		all[i] = newTestConn(uint64(i))
		all[i].slot = int32(len(h.conns))
		h.conns = append(h.conns, all[i])
	}
	left := map[*conn]bool{}
	for _, c := range all {
		left[c] = true
	}
	for i, j := range []int{0, 1999, 7, 1000, 3, 4, 5, 1998} {
		h.dropConnLocked(all[j])
		delete(left, all[j])
		if len(h.conns) != len(left) {
			t.Fatalf("after %d removals: %d listed, want %d", i+1, len(h.conns), len(left))
		}
	}
	for j := 8; j < 1500; j++ { // enough to give the array back
		if !left[all[j]] {
			continue
		}
		h.dropConnLocked(all[j])
		delete(left, all[j])
	}
	for i, c := range h.conns {
		if !left[c] || int(c.slot) != i {
			t.Fatalf("index %d: conn %d with slot %d, live %v", i, c.ID, c.slot, left[c])
		}
	}
	if len(h.conns) != len(left) || cap(h.conns) > 1024 {
		t.Fatalf("%d listed (cap %d), want %d", len(h.conns), cap(h.conns), len(left))
	}
}

// newTestConn is a connection with an id and nothing else, for the tests
// of the Hub's indexes.
func newTestConn(id uint64) *conn {
	c := &conn{}
	c.ID = id
	return c
}

package epchat

import (
	"testing"
	"unsafe"
)

// TestConnSize guards the idle-memory budget (README, Performance): every
// member's connection is one conn, and the next size class up costs 32
// bytes more per member. Grow it only with a measurement.
func TestConnSize(t *testing.T) {
	if got := unsafe.Sizeof(conn{}); got > 384 {
		t.Fatalf("conn is %d bytes, over the 384-byte size class", got)
	}
}

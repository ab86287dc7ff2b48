package wsframe

import (
	"strings"
	"testing"
)

// BenchmarkFeedSmallText feeds one masked 100-byte text frame per
// operation, whole: the fast path. Each operation first copies the masked
// frame back into the read buffer, since Feed unmasks in place.
func BenchmarkFeedSmallText(b *testing.B) {
	msg := frame(finText, strings.Repeat("x", 100))
	buf := make([]byte, len(msg))
	var r Reader
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		copy(buf, msg)
		if err := r.Feed(buf, nopHandler{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFeedFragmented feeds a 100-byte text message that takes the
// buffered path: in four 25-byte fragments with a ping among them, all in
// one chunk; and as one frame split across two Feed calls.
func BenchmarkFeedFragmented(b *testing.B) {
	s := strings.Repeat("x", 100)
	for _, bc := range []struct {
		name   string
		stream []byte
		cut    int
	}{
		{
			name:   "4 fragments in one chunk",
			stream: cat(frame(fragText, s[:25]), frame(fragCont, s[25:50]), frame(opPing, "p"), frame(fragCont, s[50:75]), frame(finCont, s[75:])),
		},
		{
			name:   "1 frame in 2 chunks",
			stream: frame(finText, s),
			cut:    50,
		},
	} {
		b.Run(bc.name, func(b *testing.B) {
			buf := make([]byte, len(bc.stream))
			var r Reader
			b.SetBytes(int64(len(bc.stream)))
			b.ReportAllocs()
			for b.Loop() {
				copy(buf, bc.stream)
				if bc.cut == 0 {
					if err := r.Feed(buf, nopHandler{}); err != nil {
						b.Fatal(err)
					}
					continue
				}
				if err := r.Feed(buf[:bc.cut], nopHandler{}); err != nil {
					b.Fatal(err)
				}
				if err := r.Feed(buf[bc.cut:], nopHandler{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFeedLargeText feeds one masked 16 KiB text frame whole, to show
// the cost of unmasking and UTF-8 checking per byte.
func BenchmarkFeedLargeText(b *testing.B) {
	msg := frame(finText, strings.Repeat("añ€😀", 16<<10/10))
	buf := make([]byte, len(msg))
	var r Reader
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		copy(buf, msg)
		if err := r.Feed(buf, nopHandler{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendText writes a 100-byte text frame into a reused slice.
func BenchmarkAppendText(b *testing.B) {
	payload := []byte(strings.Repeat("x", 100))
	dst := make([]byte, 0, 128)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendText(dst[:0], payload)
	}
}

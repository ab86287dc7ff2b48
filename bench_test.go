package epchat_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/epchat-go/epchat"
	"github.com/epchat-go/epchat/epchattest"
)

// BenchmarkFanout measures the whole message path over loopback: one
// member's send request decoded, sequenced by the Store, encoded once and
// queued to the 9 others, who read it from their sockets. One op is one
// message, so deliveries/s is 9 times ops/s.
func BenchmarkFanout(b *testing.B) {
	for _, netpoll := range []bool{true, false} {
		b.Run(fmt.Sprintf("netpoll=%v", netpoll), func(b *testing.B) {
			benchFanout(b, epchat.WithNetpoll(netpoll))
		})
	}
}

func benchFanout(b *testing.B, opts ...epchat.Option) {
	th := newTestHub(b, append(opts,
		epchat.WithSendQueueLimit(64<<20),
		// One member sends b.N messages at one instant of the test clock:
		// the request rate limit is not what is measured.
		epchat.WithRequestRate(1e9, 1<<30),
	)...)
	owner := th.client(b, "owner")
	others := make([]*epchattest.Client, 9)
	for i := range others {
		others[i] = th.client(b, fmt.Sprint("m", i))
	}
	room := th.room(b, owner, others...)

	// Take the sockets from the test clients: the readers below count
	// frames without decoding JSON, so the client side stays cheap.
	var delivered atomic.Int64
	var wg sync.WaitGroup
	for _, c := range others {
		c.Conn.SetReadDeadline(pastDeadline)
	}
	for _, c := range others {
		c.WaitReaderDone()
		c.Conn.SetReadDeadline(noDeadline)
		wg.Go(func() { countFrames(c.Conn, &delivered) })
	}
	sender := owner
	sender.Conn.SetReadDeadline(pastDeadline)
	sender.WaitReaderDone()
	sender.Conn.SetReadDeadline(noDeadline)
	go io.Copy(io.Discard, sender.Conn) // the sent replies

	req := []byte(fmt.Sprintf(`{"type":"send","room":%q,"text":"%s"}`, room, "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODkwYWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXo"))
	frame := compileClientText(req)
	w := bufio.NewWriterSize(sender.Conn, 64<<10)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		w.Write(frame)
		if w.Available() < len(frame) {
			w.Flush()
		}
	}
	w.Flush()
	want := int64(9 * b.N)
	deadline := time.Now().Add(time.Minute)
	for delivered.Load() < want {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d deliveries after a minute", delivered.Load(), want)
		}
		waitABit()
	}
	b.StopTimer()
	b.ReportMetric(float64(want)/b.Elapsed().Seconds(), "deliveries/s")
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	th.Shutdown(ctx)
	wg.Wait()
}

func compileClientText(p []byte) []byte {
	f := ws.MaskFrame(ws.NewTextFrame(p))
	out, err := ws.CompileFrame(f)
	if err != nil {
		panic(err)
	}
	return out
}

// countFrames reads server frames and counts the text ones.
func countFrames(nc net.Conn, n *atomic.Int64) {
	r := bufio.NewReaderSize(nc, 64<<10)
	for {
		h, err := ws.ReadHeader(r)
		if err != nil {
			return
		}
		if _, err := r.Discard(int(h.Length)); err != nil {
			return
		}
		if h.OpCode == ws.OpText {
			n.Add(1)
		}
	}
}

package epchat_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/epchat-go/epchat"
	"github.com/epchat-go/epchat/epchattest"
)

// queueBoundOK samples the send queues of the Hub and fails if any holds
// more than limit bytes.
func queueBoundOK(t testing.TB, hh *testHub, limit int) {
	t.Helper()
	for _, q := range hh.QueuedBytes() {
		if q > limit {
			t.Fatalf("a send queue holds %d bytes, above its limit of %d", q, limit)
		}
	}
}

// joinPaused seats a new client in room and stops it reading.
func joinPaused(t testing.TB, hh *testHub, owner *epchattest.Client, room, nick string, others ...*epchattest.Client) *epchattest.Client {
	t.Helper()
	hh.secret(nick)
	c := dialSmall(t, hh.url)
	c.Hello(nick)
	hh.secret(c.Token)
	c.MustCall("joined", map[string]any{"type": "join", "token": hh.invite(t, owner, room)})
	for _, o := range append([]*epchattest.Client{owner}, others...) {
		o.Expect("member_joined", room)
	}
	c.Pause()
	return c
}

// TestSlowConsumer: a member that stops reading while the others send far
// more than the kernel buffers hold is dropped alone, with 4001, once its
// bounded queue overflows; the others get every message, in order, while
// it is stuck.
func TestSlowConsumer(t *testing.T) {
	const (
		queueLimit = 64 << 10
		size       = 4000
		n          = 300 // 1.2 MB: many times the queue and the buffers
	)
	hh := newTestHub(t, smallSendBuffer, quiet,
		epchat.WithMaxMessageSize(size),
		epchat.WithSendQueueLimit(queueLimit),
		epchat.WithRequestRate(1000, 1000),
	)
	ana, ben := hh.client(t, "nick-ana-slow"), hh.client(t, "nick-ben-slow")
	room := hh.room(t, ana, ben)
	slow := joinPaused(t, hh, ana, room, "nick-slow", ben)

	texts := make([]string, n)
	for i := range texts {
		texts[i] = fmt.Sprintf("%04d %s", i, strings.Repeat("s", size-5))
	}
	hh.secret(texts[0][:40])
	unpaused := false
	for i, text := range texts {
		ana.MustCall("sent", map[string]any{"type": "send", "room": room, "text": text})
		queueBoundOK(t, hh, queueLimit)
		// Ben has it before Ana sends the next: nobody waits for slow.
		if e := ben.Expect("message", room); e.Str("text") != text {
			t.Fatalf("ben's message %d: %.20q", i, e.Str("text"))
		}
		// Slow reads again as soon as its queue overflowed: within the
		// drain the Hub gives the close frame (PROTOCOL.md: a client
		// still reading gets 4001). Unpausing only after all n sends
		// made the test depend on how fast they went: under load they
		// outlasted the drain, and slow was dropped without a close frame.
		if !unpaused && hh.logs.count("connection too slow") > 0 {
			slow.Unpause()
			unpaused = true
		}
	}
	if hh.logs.count("connection too slow") != 1 {
		t.Fatalf("slow consumer dropped %d times, want once", hh.logs.count("connection too slow"))
	}
	if !unpaused {
		t.Fatal("slow's queue never overflowed")
	}
	// Slow read on: a prefix of the messages, in order, then 4001.
	if code := slow.CloseCode(); code != 4001 {
		t.Fatalf("close code %d, want 4001", code)
	}
	got := slow.Events()
	if len(got) == 0 || len(got) >= n {
		t.Fatalf("slow got %d messages before its close, want some but not all", len(got))
	}
	for i, e := range got {
		if e.Str("text") != texts[i] {
			t.Fatalf("slow's message %d: %.20q, want %.20q", i, e.Str("text"), texts[i])
		}
	}
	waitUntil(t, "slow's connection gone", func() bool { conns, _ := hh.LiveConns(); return conns == 2 })
	hh.say(t, ana, room, "after slow")
	expectText(t, ben, room, "after slow")
	ben.None()
}

// TestPingFloodWithoutReading: pongs are queued like any other frame, so a
// peer that pings without reading the answers overflows its bounded queue
// and is dropped with 4001, instead of growing it without end.
func TestPingFloodWithoutReading(t *testing.T) {
	const queueLimit = 64 << 10
	hh := newTestHub(t, smallSendBuffer, epchat.WithMaxMessageSize(1000), epchat.WithSendQueueLimit(queueLimit))
	c := dialSmall(t, hh.url)
	c.Pause()
	ping := rawFrame(finBit|opPing, []byte(strings.Repeat("p", 125)))
	flood := make([]byte, 0, len(ping)*100)
	for range 100 {
		flood = append(flood, ping...)
	}
	for range 40 { // 4000 pings, 508 KB of pongs
		if err := c.WriteRaw(flood); err != nil {
			break // dropped: the server stopped reading
		}
		queueBoundOK(t, hh, queueLimit)
	}
	waitUntil(t, "the flooder dropped", func() bool { return hh.logs.count("connection too slow") == 1 })
	c.Unpause()
	if code := c.CloseCode(); code != 4001 {
		t.Fatalf("close code %d, want 4001", code)
	}
}

// TestResetMidFrame: a member whose TCP connection is reset in the middle
// of a frame, while the server is also blocked writing to it, is cleaned
// up: nothing of the half frame is relayed, the room goes on, and after the
// grace the others see it leave once.
func TestResetMidFrame(t *testing.T) {
	hh := newTestHub(t, smallSendBuffer, quiet,
		epchat.WithMaxMessageSize(4000),
		epchat.WithRequestRate(1000, 1000),
	)
	ana, ben := hh.client(t, "nick-ana-reset"), hh.client(t, "nick-ben-reset")
	room := hh.room(t, ana, ben)
	off := joinPaused(t, hh, ana, room, "nick-off-reset", ben)
	// Fill what the kernel holds for off, so the server is mid-write.
	for i := range 20 {
		hh.say(t, ana, room, fmt.Sprintf("filler %d %s", i, strings.Repeat("f", 3000)))
		expectText(t, ben, room, fmt.Sprintf("filler %d %s", i, strings.Repeat("f", 3000)))
	}
	// Half a send request, then a reset.
	frame := rawFrame(finBit|opText, sendReq(room, "LEAK half a frame"))
	hh.secret("LEAK")
	if err := off.WriteRaw(frame[:len(frame)/2]); err != nil {
		t.Fatal(err)
	}
	tc := off.Conn.(*net.TCPConn)
	tc.SetLinger(0)
	tc.Close()

	waitUntil(t, "the reset connection gone", func() bool { conns, slots := hh.LiveConns(); return conns == 2 && slots == 2 })
	hh.say(t, ana, room, "after the reset")
	expectText(t, ben, room, "after the reset")
	hh.waitDetached(t, off.Token)
	hh.clock.Advance(epchat.DefaultReconnectGrace + time.Second)
	for _, c := range []*epchattest.Client{ana, ben} {
		if e := c.Expect("member_left", room); e.Str("member") != off.ID || e.Str("reason") != "disconnected" {
			t.Fatalf("member_left: %v", e)
		}
	}
	hh.clock.Advance(epchat.DefaultReconnectGrace + time.Second)
	ana.MustCall("members", map[string]any{"type": "members", "room": room})
	ana.None()
	ben.None()
}

// TestSilentConnection: a connection that never says anything holds its
// connection slot for the identify timeout only, then is closed with 4000.
func TestSilentConnection(t *testing.T) {
	hh := newTestHub(t, epchat.WithMaxConnectionsPerAddr(1))
	silent := epchattest.Dial(t, hh.url)
	// The 101 reaches the client before the Hub counts the connection.
	waitUntil(t, "the connection served", func() bool { conns, _ := hh.LiveConns(); return conns == 1 })
	_, _, _, err := ws.Dial(context.Background(), hh.url)
	var status ws.StatusError
	if !errors.As(err, &status) || status != http.StatusServiceUnavailable {
		t.Fatalf("second connection while the silent one holds the slot: %v", err)
	}
	hh.clock.Advance(epchat.DefaultIdentifyTimeout - time.Second)
	if conns, _ := hh.LiveConns(); conns != 1 {
		t.Fatal("silent connection closed before the identify timeout")
	}
	hh.clock.Advance(time.Second)
	if code := silent.CloseCode(); code != 4000 {
		t.Fatalf("close code %d, want 4000", code)
	}
	waitUntil(t, "the slot freed", func() bool { _, slots := hh.LiveConns(); return slots == 0 })
	hh.client(t, "nick-after-silent")
}

// TestHalfOpenMember: a member that stops reading and answering (a peer
// gone without a FIN) is dropped after the ping interval and the pong
// timeout; after the grace the others see it leave exactly once, and its
// seat is free for someone else.
func TestHalfOpenMember(t *testing.T) {
	hh := newTestHub(t, epchat.WithMaxMembers(2))
	ana := hh.client(t, "nick-ana-halfopen")
	room := ana.MustCall("joined", map[string]any{"type": "create"}).Str("room")
	gone := joinPaused(t, hh, ana, room, "nick-gone")
	if e := ana.Call(map[string]any{"type": "invite", "room": room}); e.Str("code") != "room_full" {
		t.Fatalf("invite to a full room: %v", e)
	}
	// Ana speaks after every step of the clock, so she is never the one
	// dropped for silence.
	tick := func(d time.Duration) {
		hh.clock.Advance(d)
		ana.MustCall("members", map[string]any{"type": "members", "room": room})
	}
	tick(epchat.DefaultPingInterval)
	tick(epchat.DefaultPongTimeout)
	hh.waitDetached(t, gone.Token)
	tick(epchat.DefaultReconnectGrace + time.Second)
	if e := ana.Expect("member_left", room); e.Str("member") != gone.ID || e.Str("reason") != "disconnected" {
		t.Fatalf("member_left: %v", e)
	}
	for range 3 {
		tick(epchat.DefaultReconnectGrace)
	}
	cid := hh.client(t, "nick-cid-halfopen")
	cid.MustCall("joined", map[string]any{"type": "join", "token": hh.invite(t, ana, room)})
	ana.Expect("member_joined", room)
	ana.None()
	gone.Unpause()
	if code := gone.CloseCode(); code != 4002 {
		t.Fatalf("close code %d, want 4002", code)
	}
}

// TestShutdownUnderLoad: Shutdown with 100 connections in 10 rooms. Every
// client gets 1001, new upgrades get 503 while it runs, clients that never
// read their close frame are cut at the context's deadline, and the
// goroutines return to what they were before.
func TestShutdownUnderLoad(t *testing.T) {
	hh := newTestHub(t, epchat.WithMaxConnectionsPerAddr(200), epchat.WithRequestRate(1000, 1000))
	baseline := runtime.NumGoroutine()
	var readers, stragglers []*epchattest.Client
	for r := range 10 {
		members := make([]*epchattest.Client, 9)
		for i := range members {
			members[i] = hh.client(t, fmt.Sprintf("nick-r%d-m%d", r, i))
		}
		owner := hh.client(t, fmt.Sprintf("nick-r%d-owner", r))
		hh.room(t, owner, members...)
		readers = append(readers, owner)
		readers = append(readers, members[:8]...)
		stragglers = append(stragglers, members[8])
		members[8].Pause()
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- hh.Shutdown(ctx) }()

	if code := readers[0].CloseCode(); code != ws.StatusGoingAway {
		t.Fatalf("close code %d, want 1001", code)
	}
	_, _, _, err := ws.Dial(context.Background(), hh.url)
	var status ws.StatusError
	if !errors.As(err, &status) || status != http.StatusServiceUnavailable {
		t.Fatalf("upgrade during Shutdown: %v", err)
	}
	// The stragglers hold Shutdown until its deadline.
	if err := <-done; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v, want the deadline", err)
	}
	var wg sync.WaitGroup
	for _, c := range append(readers, stragglers...) {
		c.Unpause()
		wg.Go(func() {
			if code := c.CloseCode(); code != ws.StatusGoingAway {
				t.Errorf("close code %d, want 1001", code)
			}
			if e := c.Expect("room_closed", ""); e.Str("reason") != "shutdown" {
				t.Errorf("room_closed: %v", e)
			}
		})
	}
	wg.Wait()
	checkNoHubGoroutines(t)
	waitUntil(t, "goroutines back to the baseline", func() bool { return runtime.NumGoroutine() <= baseline })
	if conns, slots := hh.LiveConns(); conns != 0 || slots != 0 {
		t.Fatalf("%d connections and %d slots after Shutdown", conns, slots)
	}
}

// TestUpgradeDuringShutdown: a request whose upgrade is under way when
// Shutdown starts gets 1001 and is hung up, and no goroutine of the Hub
// outlives Shutdown for it. (Shutdown used to miss such a connection: its
// read loop started after Shutdown had stopped waiting.)
func TestUpgradeDuringShutdown(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	hh := newTestHub(t, epchat.WithAuthorize(func(r *http.Request) (string, error) {
		if r.Header.Get("X-Hold") != "" {
			close(entered)
			<-release
		}
		return "", nil
	}))
	type dialed struct {
		nc  net.Conn
		br  *bufio.Reader
		err error
	}
	res := make(chan dialed, 1)
	go func() {
		d := ws.Dialer{Header: ws.HandshakeHeaderHTTP(http.Header{"X-Hold": {"1"}})}
		nc, br, _, err := d.Dial(context.Background(), hh.url)
		res <- dialed{nc, br, err}
	}()
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := hh.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	close(release)
	d := <-res
	if d.err != nil {
		t.Fatal(d.err)
	}
	defer d.nc.Close()
	var r io.Reader = d.nc
	if d.br != nil {
		r = io.MultiReader(d.br, d.nc)
	}
	// Read the close frame, and do not answer it.
	h, err := ws.ReadHeader(r)
	if err != nil || h.OpCode != ws.OpClose {
		t.Fatalf("first frame %+v, %v; want a close frame", h, err)
	}
	p := make([]byte, h.Length)
	io.ReadFull(r, p)
	if code, _ := ws.ParseCloseFrameData(p); code != ws.StatusGoingAway {
		t.Fatalf("close code %d, want 1001", code)
	}
	deadline := time.Now().Add(200 * time.Millisecond)
	for time.Now().Before(deadline) {
		var b strings.Builder
		pprof.Lookup("goroutine").WriteTo(&b, 2)
		if strings.Contains(b.String(), "(*blockingSocket).serve") {
			t.Fatalf("a read loop runs after Shutdown returned:\n%s", b.String())
		}
		if conns, _ := hh.LiveConns(); conns != 0 {
			t.Fatalf("%d connections served after Shutdown returned", conns)
		}
		time.Sleep(10 * time.Millisecond) // looking for a goroutine that must not appear
	}
	waitUntil(t, "the slot released", func() bool { _, slots := hh.LiveConns(); return slots == 0 })
}

// TestWriteTimeout: a member that stops reading while its send queue still
// has room is dropped once a write has waited for it the write timeout, in
// real time; moving the Hub's clock (the time rules') does not count. The
// others never notice.
func TestWriteTimeout(t *testing.T) {
	tests := []struct {
		name    string
		timeout time.Duration
		dropped bool
	}{
		{
			name:    "short timeout: dropped",
			timeout: 100 * time.Millisecond,
			dropped: true,
		},
		{
			name:    "the Hub's clock moving past it: kept",
			timeout: time.Minute,
			dropped: false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const size = 4000
			hh := newTestHub(t, smallSendBuffer, quiet,
				epchat.WithMaxMessageSize(size),
				epchat.WithSendQueueLimit(64<<20), // never reached here
				epchat.WithRequestRate(1000, 1000),
				epchat.WithWriteTimeout(tt.timeout),
			)
			ana, ben := hh.client(t, "nick-ana-wt"), hh.client(t, "nick-ben-wt")
			room := hh.room(t, ana, ben)
			stuck := joinPaused(t, hh, ana, room, "nick-stuck", ben)

			// 1 MB is many times what the kernel holds for it (small buffers).
			text := strings.Repeat("w", size-100)
			for range 250 {
				hh.say(t, ana, room, text)
				expectText(t, ben, room, text)
			}
			waitUntil(t, "the stuck member's write waiting", func() bool { return hh.StalledWrites() >= 1 })

			// Sweeps run on the Hub's clock: run one per step, 5 minutes of
			// it in all (the room's idle timeout is 10).
			gone := func() bool { conns, _ := hh.LiveConns(); return conns == 2 }
			for range 30 {
				hh.clock.Advance(10 * time.Second)
				if gone() {
					break
				}
			}
			if !tt.dropped {
				if gone() {
					t.Fatal("dropped after 5 minutes of the Hub's clock, under a write timeout of 1 minute of real time")
				}
				stuck.Unpause() // it reads again: its messages come, in order
				for range 3 {
					expectText(t, stuck, room, text)
				}
				return
			}
			deadline := time.Now().Add(waitFor)
			for !gone() { // real time passes here: the timeout's
				if time.Now().After(deadline) {
					t.Fatal("a write waiting past the write timeout: the member is still connected")
				}
				hh.clock.Advance(10 * time.Millisecond)
				time.Sleep(10 * time.Millisecond) // real state: the timeout is real time
			}
			if s := hh.Stats(); s.ConnectionsClosed.Slow != 1 {
				t.Fatalf("closed: %+v, want one slow", s.ConnectionsClosed)
			}
			if hh.logs.count("write timeout") != 1 {
				t.Fatalf("write timeout logged %d times, want once", hh.logs.count("write timeout"))
			}
			hh.say(t, ana, room, "after the stuck one")
			expectText(t, ben, room, "after the stuck one")
			ben.None()
		})
	}
}

// slowReaderLimits are the sizes of the slow reader tests: a frame of
// about 1 KB, a queue of 16 KiB and the default kernel send buffer.
const (
	slowText  = 900
	slowQueue = 16 << 10
)

// slowBound is the most messages the Hub may take for a reader that
// falls behind before it overflows the queue: what the kernel holds on
// both sides (Linux counts twice the buffer sizes set) and the queue,
// with room for what the reader read meanwhile, in frames of slowText.
func slowBound(readRatio float64) int {
	held := 2*epchat.DefaultSocketSendBuffer + 2*4096 + slowQueue
	return int(float64(held)/slowText/(1-readRatio)) + 100
}

// takeOver stops a test client's reader so the test reads its socket.
func takeOver(c *epchattest.Client) net.Conn {
	c.Conn.SetReadDeadline(pastDeadline)
	c.WaitReaderDone()
	c.Conn.SetReadDeadline(time.Time{})
	return c.Conn
}

// lastClose parses the server's frames in stream and returns the code of
// the close frame that ends them, or 0 when the stream ends without one.
func lastClose(t *testing.T, stream []byte) ws.StatusCode {
	t.Helper()
	r := bufio.NewReader(strings.NewReader(string(stream)))
	for {
		f, err := ws.ReadFrame(r)
		if err != nil {
			return 0 // the stream ended, maybe mid-frame: no close frame
		}
		if f.Header.OpCode == ws.OpClose {
			code, _ := ws.ParseCloseFrameData(f.Payload)
			return code
		}
	}
}

// TestSlowReaderClosed: a member that reads, but at a fifth of the rate of
// the room, through a small window, is closed with 4001 once its bounded
// queue overflows: the kernel holds at most WithSocketSendBuffer for it,
// not megabytes, so the queue fills. As it goes on reading, it reads the
// 4001 close frame, however long the kernel takes to deliver what it held
// before it (TCP's persist backoff on a window that was shut can stall it
// for seconds): the 2 s drain starts once the close frame is out. Both
// read modes.
func TestSlowReaderClosed(t *testing.T) {
	for _, polled := range []bool{true, false} {
		t.Run(fmt.Sprintf("netpoll=%v", polled), func(t *testing.T) {
			hh := newTestHub(t, quiet, epchat.WithNetpoll(polled),
				epchat.WithMaxMessageSize(1000),
				epchat.WithSendQueueLimit(slowQueue),
				epchat.WithRequestRate(1e6, 1<<20),
				// In blocking mode the write timeout times one write
				// call, which a reader this slow can make last seconds
				// on a loaded machine: only the queue rule is tested.
				epchat.WithWriteTimeout(time.Hour),
			)
			ana := hh.client(t, "nick-ana-slowreader")
			room := ana.MustCall("joined", map[string]any{"type": "create"}).Str("room")
			slow := dialSmall(t, hh.url)
			slow.Hello("nick-slowreader")
			hh.secret(slow.Token)
			slow.MustCall("joined", map[string]any{"type": "join", "token": hh.invite(t, ana, room)})
			ana.Expect("member_joined", room)
			nc := takeOver(slow)

			text := strings.Repeat("t", slowText)
			bound := slowBound(0.2)
			var stream []byte
			buf := make([]byte, slowText/5)
			sent := 0
			for ; hh.logs.count("connection too slow") == 0 && sent < 4*bound; sent++ {
				ana.MustCall("sent", map[string]any{"type": "send", "room": room, "text": text})
				n, err := io.ReadFull(nc, buf)
				stream = append(stream, buf[:n]...)
				if err != nil {
					break
				}
			}
			if sent > bound {
				t.Fatalf("the Hub took %d messages for a reader at a fifth of the rate before closing it; the kernel and the queue hold at most %d", sent, bound)
			}
			// It goes on reading, now at once: what the kernel held, then
			// the close frame, then the end of the stream.
			rest, _ := io.ReadAll(nc)
			if code := lastClose(t, append(stream, rest...)); code != 4001 {
				t.Logf("sent %d messages; logged %d write timeouts, %d overflows; read %d bytes after the loop", sent, hh.logs.count("write timeout"), hh.logs.count("connection too slow"), len(rest))
				t.Fatalf("the slow reader's stream ends with close code %d, want 4001", code)
			}
			waitUntil(t, "the slow reader counted", func() bool { return hh.Stats().ConnectionsClosed.Slow == 1 })
		})
	}
}

// TestStoppedReaderDropped: a member that stops reading altogether is
// closed once its queue overflows, with the kernel holding no more than
// WithSocketSendBuffer for it; its 4001 close frame waits behind the full
// buffers, and the connection is dropped once the kernel has delivered
// nothing more for 2 s: when the client reads again, it finds the
// messages the kernel held, then the end of the stream, with or without
// the close frame (PROTOCOL.md). Both read modes.
func TestStoppedReaderDropped(t *testing.T) {
	for _, polled := range []bool{true, false} {
		t.Run(fmt.Sprintf("netpoll=%v", polled), func(t *testing.T) {
			t.Parallel()
			hh := newTestHub(t, quiet, epchat.WithNetpoll(polled),
				epchat.WithMaxMessageSize(1000),
				epchat.WithSendQueueLimit(slowQueue),
				epchat.WithRequestRate(1e6, 1<<20),
			)
			ana := hh.client(t, "nick-ana-stopped")
			room := ana.MustCall("joined", map[string]any{"type": "create"}).Str("room")
			stopped := dialSmall(t, hh.url)
			stopped.Hello("nick-stopped")
			hh.secret(stopped.Token)
			stopped.MustCall("joined", map[string]any{"type": "join", "token": hh.invite(t, ana, room)})
			ana.Expect("member_joined", room)
			nc := takeOver(stopped)

			text := strings.Repeat("t", slowText)
			bound := slowBound(0)
			sent := 0
			for ; hh.logs.count("connection too slow") == 0 && sent < 4*bound; sent++ {
				ana.MustCall("sent", map[string]any{"type": "send", "room": room, "text": text})
			}
			if sent > bound {
				t.Fatalf("the Hub took %d messages for a reader that stopped before closing it; the kernel and the queue hold at most %d", sent, bound)
			}
			waitUntil(t, "the stopped reader's connection gone", func() bool { conns, _ := hh.LiveConns(); return conns == 1 })
			// The kernel sends what it held slowly, as the peer's window
			// was shut for a while (TCP persist backoff): seconds.
			stream, _ := io.ReadAll(nc)
			// Nothing is written past the full buffers, but a kernel that
			// compacts the peer's receive queue may open the window a
			// little, so the close frame itself may have got out.
			if code := lastClose(t, stream); code != 0 && code != 4001 {
				t.Fatalf("the stopped reader read close code %d, want 4001 or none", code)
			}
			if len(stream) == 0 {
				t.Fatal("the stopped reader read nothing the kernel held")
			}
		})
	}
}

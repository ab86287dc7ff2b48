//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gobwas/ws"
)

// config is one load run. The flags of main fill it; the test builds it.
type config struct {
	URL         string        // WebSocket endpoint of the Hub
	Members     int           // N: connections, one member each
	RoomSize    int           // K: members per room (the last room may be smaller)
	Messages    int           // M: messages each member sends
	Rate        float64       // messages per second per member; 0: as fast as Window allows
	Window      int           // sends per member awaiting their sent reply, at most
	Size        int           // bytes of each message text (at least the timestamp)
	Sources     int           // loopback source addresses: see sourceAddr
	Concurrency int           // rooms being seated at once
	Duration    time.Duration // cap on the whole run
	Settle      time.Duration // idle pause once everyone is seated, before the RSS reading
	ServerPID   int           // process to read RSS and CPU of; 0: none

	// Progress, if not nil, is told when each phase starts, so that a
	// person or a script can act on the server in a known phase.
	Progress io.Writer
}

func (c config) validate() error {
	switch {
	case c.Members < 1:
		return errors.New("need at least 1 member")
	case c.RoomSize < 1:
		return errors.New("room size must be at least 1")
	case c.Messages < 0:
		return errors.New("messages must not be negative")
	case c.Rate < 0:
		return errors.New("rate must not be negative")
	case c.Window < 1:
		return errors.New("window must be at least 1")
	case c.Sources < 1 || c.Sources > maxSources:
		return fmt.Errorf("sources must be 1 to %d", maxSources)
	case c.Concurrency < 1:
		return errors.New("concurrency must be at least 1")
	case c.Duration <= 0:
		return errors.New("duration must be positive")
	case c.Size < 0:
		return errors.New("size must not be negative")
	}
	return nil
}

// result is what a run measured.
type result struct {
	Members int `json:"members"`
	Rooms   int `json:"rooms"`

	// Seating: connect, upgrade, hello, then create+invites or join.
	Seated       int     `json:"seated"`
	SeatSeconds  float64 `json:"seat_seconds"`
	JoinsPerSec  float64 `json:"joins_per_sec"`
	SeatSrvCPU   float64 `json:"seat_server_cpu_seconds"`
	SeatGenCPU   float64 `json:"seat_loadgen_cpu_seconds"`
	RSSBefore    int64   `json:"server_rss_before_bytes"`
	RSSSeated    int64   `json:"server_rss_seated_bytes"`
	RSSPerMember float64 `json:"server_rss_per_member_bytes"`

	// Sending.
	Sent             uint64  `json:"sent"` // sent replies received
	Deliveries       uint64  `json:"deliveries"`
	ExpectDeliveries uint64  `json:"expected_deliveries"`
	SendSeconds      float64 `json:"send_seconds"`
	DeliveriesPerSec float64 `json:"deliveries_per_sec"`
	SendSrvCPU       float64 `json:"send_server_cpu_seconds"`
	SendGenCPU       float64 `json:"send_loadgen_cpu_seconds"`
	SrvCPUPerDeliv   float64 `json:"server_cpu_per_delivery_us"`
	RSSAfterSend     int64   `json:"server_rss_after_send_bytes"`
	LatP50           float64 `json:"latency_p50_ms"`
	LatP99           float64 `json:"latency_p99_ms"`
	LatP999          float64 `json:"latency_p999_ms"`
	LatMax           float64 `json:"latency_max_ms"`

	Complete bool           `json:"complete"` // every send acknowledged, every delivery seen
	Short    int            `json:"short_members"`
	Errors   map[string]int `json:"errors"` // error codes, close codes, dropped connections
}

// run is the state of one load run.
type run struct {
	cfg   config
	base  time.Time // send timestamps are nanoseconds since base (monotonic)
	hist  *histogram
	dials []ws.Dialer // one per source address

	clients []*client
	rooms   []roomPlan

	stopping atomic.Bool
	readers  sync.WaitGroup
	senders  sync.WaitGroup
	stop     chan struct{} // closed when the send phase ends

	doneClients atomic.Int64
	allDone     chan struct{}
	doneAt      atomic.Int64 // ns since base when the last client completed

	errMu  sync.Mutex
	errors map[string]int
}

// roomPlan is which members form one room: clients[first : first+size].
type roomPlan struct {
	first, size int
}

func newRun(cfg config) *run {
	r := &run{
		cfg:     cfg,
		base:    time.Now(),
		hist:    newHistogram(),
		stop:    make(chan struct{}),
		allDone: make(chan struct{}),
		errors:  make(map[string]int),
		clients: make([]*client, cfg.Members),
	}
	for first := 0; first < cfg.Members; first += cfg.RoomSize {
		r.rooms = append(r.rooms, roomPlan{first: first, size: min(cfg.RoomSize, cfg.Members-first)})
	}
	for i := range cfg.Sources {
		local := &net.TCPAddr{IP: sourceAddr(i)}
		nd := &net.Dialer{LocalAddr: local, Control: dialControl}
		r.dials = append(r.dials, ws.Dialer{
			Timeout: 10 * time.Second,
			NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
				return nd.DialContext(ctx, network, addr)
			},
		})
	}
	return r
}

// maxSources is how many loopback source addresses sourceAddr names.
const maxSources = 254 * 256

// sourceAddr is the i-th loopback source address: 127.0.0.1 to 127.0.0.254,
// then 127.0.1.1 and on. With one address per member, the Hub keeps the
// per-address state that members on the internet cost it.
func sourceAddr(i int) net.IP {
	return net.IPv4(127, 0, byte(i/254), byte(1+i%254))
}

func (r *run) now() int64 { return int64(time.Since(r.base)) }

func (r *run) progress(format string, args ...any) {
	if r.cfg.Progress != nil {
		fmt.Fprintf(r.cfg.Progress, "loadgen: "+format+"\n", args...)
	}
}

// fail counts one error under a short name (an error code, a close code,
// "drop: ..."). Never a message text.
func (r *run) fail(what string) {
	r.errMu.Lock()
	r.errors[what]++
	r.errMu.Unlock()
}

// execute runs the load: seat everyone, wait, send, then tear down.
func execute(ctx context.Context, cfg config) (*result, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	r := newRun(cfg)
	res := &result{Members: cfg.Members, Rooms: len(r.rooms)}
	pid := cfg.ServerPID

	// Seat.
	r.progress("seating %d members in %d rooms", cfg.Members, len(r.rooms))
	res.RSSBefore = rss(pid)
	srv0, gen0 := procCPU(pid), selfCPU()
	t0 := time.Now()
	seatErr := r.seatAll(ctx)
	seatDur := time.Since(t0)
	srv1, gen1 := procCPU(pid), selfCPU()
	for _, c := range r.clients {
		if c != nil && c.seated {
			res.Seated++
		}
	}
	res.SeatSeconds = seatDur.Seconds()
	res.JoinsPerSec = float64(res.Seated) / seatDur.Seconds()
	res.SeatSrvCPU = (srv1 - srv0).Seconds()
	res.SeatGenCPU = (gen1 - gen0).Seconds()
	defer r.teardown(res)
	if seatErr != nil {
		return res, fmt.Errorf("seating: %w", seatErr)
	}
	r.progress("seated %d in %.2fs; idle for %v", res.Seated, res.SeatSeconds, cfg.Settle)

	// Idle.
	select {
	case <-time.After(cfg.Settle):
	case <-ctx.Done():
		return res, fmt.Errorf("settling: %w", ctx.Err())
	}
	res.RSSSeated = rss(pid)
	if res.Seated > 0 && res.RSSBefore > 0 {
		res.RSSPerMember = float64(res.RSSSeated-res.RSSBefore) / float64(res.Seated)
	}
	if cfg.Messages == 0 {
		res.Complete = true
		return res, nil
	}

	// Send.
	for _, rp := range r.rooms {
		res.ExpectDeliveries += uint64(rp.size) * uint64(rp.size-1) * uint64(cfg.Messages)
	}
	r.progress("sending")
	srv2, gen2 := procCPU(pid), selfCPU()
	start := r.now()
	r.kick()
	var sendErr error
	select {
	case <-r.allDone:
		res.Complete = true
	case <-ctx.Done():
		sendErr = fmt.Errorf("sending: %w (raise -duration or lower -messages)", ctx.Err())
	}
	end := r.doneAt.Load()
	if !res.Complete {
		end = r.now()
	}
	srv3, gen3 := procCPU(pid), selfCPU()
	r.progress("sent")
	r.stopping.Store(true)
	close(r.stop)
	sendDur := time.Duration(end - start)
	res.SendSeconds = sendDur.Seconds()
	res.SendSrvCPU = (srv3 - srv2).Seconds()
	res.SendGenCPU = (gen3 - gen2).Seconds()
	res.RSSAfterSend = rss(pid)
	return res, sendErr
}

// teardown closes every connection, waits for the goroutines and sums up
// the counters into res.
func (r *run) teardown(res *result) {
	r.stopping.Store(true)
	select {
	case <-r.stop:
	default:
		close(r.stop)
	}
	for _, c := range r.clients {
		if c != nil && c.nc != nil {
			c.nc.Close()
		}
	}
	r.senders.Wait()
	r.readers.Wait()
	want := uint64(0)
	for _, c := range r.clients {
		if c == nil || !c.seated {
			continue
		}
		res.Sent += uint64(c.acked.Load())
		res.Deliveries += uint64(c.got)
		want = uint64(c.roomSize-1) * uint64(r.cfg.Messages)
		if uint64(c.got) != want || c.acked.Load() != int64(r.cfg.Messages) {
			res.Short++
		}
	}
	if res.SendSeconds > 0 {
		res.DeliveriesPerSec = float64(res.Deliveries) / res.SendSeconds
	}
	if res.Deliveries > 0 {
		res.SrvCPUPerDeliv = res.SendSrvCPU / float64(res.Deliveries) * 1e6
	}
	q := r.hist.quantiles(0.50, 0.99, 0.999)
	res.LatP50, res.LatP99, res.LatP999 = ms(q[0]), ms(q[1]), ms(q[2])
	res.LatMax = ms(r.hist.max())
	r.errMu.Lock()
	res.Errors = r.errors
	r.errMu.Unlock()
}

func ms(ns int64) float64 { return float64(ns) / 1e6 }

// seatAll seats every room, Concurrency rooms at a time. It returns the
// first failure; the other workers stop at their next room.
func (r *run) seatAll(ctx context.Context) error {
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range min(r.cfg.Concurrency, len(r.rooms)) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(r.rooms) {
					return
				}
				if err := r.seatRoom(ctx, r.rooms[i]); err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return firstErr
}

// seatRoom connects a room's owner, who identifies, creates the room and
// makes one invite per other member; then each other member connects,
// identifies and joins. Requests that do not depend on each other's replies
// are pipelined, as the protocol allows (replies come in request order).
func (r *run) seatRoom(ctx context.Context, rp roomPlan) error {
	owner, err := r.connect(ctx, rp.first, rp.size)
	if err != nil {
		return err
	}
	owner.writeText(helloReq(rp.first))
	owner.writeText([]byte(`{"type":"create","id":"c"}`))
	if _, err := owner.await("welcome"); err != nil {
		return fmt.Errorf("owner hello: %w", err)
	}
	joined, err := owner.await("joined")
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	owner.room = joined.Room
	for range rp.size - 1 {
		owner.writeText([]byte(`{"type":"invite","id":"i","room":"` + owner.room + `"}`))
	}
	tokens := make([]string, 0, rp.size-1)
	for range rp.size - 1 {
		inv, err := owner.await("invite")
		if err != nil {
			return fmt.Errorf("invite: %w", err)
		}
		tokens = append(tokens, inv.Token)
	}
	owner.startReading()

	for j, tok := range tokens {
		idx := rp.first + 1 + j
		m, err := r.connect(ctx, idx, rp.size)
		if err != nil {
			return err
		}
		m.writeText(helloReq(idx))
		m.writeText([]byte(`{"type":"join","id":"j","token":"` + tok + `"}`))
		if _, err := m.await("welcome"); err != nil {
			return fmt.Errorf("member hello: %w", err)
		}
		if _, err := m.await("joined"); err != nil {
			return fmt.Errorf("join: %w", err)
		}
		m.room = owner.room
		m.startReading()
	}
	return nil
}

func helloReq(idx int) []byte {
	return []byte(`{"type":"hello","id":"h","nickname":"u` + strconv.Itoa(idx) + `"}`)
}

// connect dials and upgrades the connection of member idx, from the
// source address idx falls on.
func (r *run) connect(ctx context.Context, idx, roomSize int) (*client, error) {
	d := r.dials[idx%len(r.dials)]
	nc, br, _, err := d.Dial(ctx, r.cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("dial from %v: %w", sourceAddr(idx%len(r.dials)), err)
	}
	c := &client{
		r:        r,
		idx:      idx,
		nc:       nc,
		roomSize: roomSize,
		expect:   int64(roomSize-1) * int64(r.cfg.Messages),
		hdr:      make([]byte, ws.MaxHeaderSize-2),
		mask:     rand.Uint32() | 1,
	}
	var src io.Reader = nc
	if br != nil {
		// The server spoke right after the handshake; those bytes come first.
		src = io.MultiReader(br, nc)
	}
	c.br = bufio.NewReaderSize(src, 4096)
	r.clients[idx] = c
	return c, nil
}

// kick starts the send phase: in window mode each member writes its first
// Window messages and its reader sends one more per sent reply; in rate
// mode each member gets a pacing goroutine.
func (r *run) kick() {
	if r.cfg.Messages == 0 {
		return
	}
	for _, c := range r.clients {
		if r.cfg.Rate > 0 {
			r.senders.Go(c.paced)
			continue
		}
		for range r.cfg.Window {
			if !c.trySend() {
				break
			}
		}
	}
}

// client is one member's connection.
type client struct {
	r        *run
	idx      int
	nc       net.Conn
	br       *bufio.Reader
	room     string
	roomSize int
	expect   int64 // deliveries this member should see
	seated   bool

	// Read side, owned by the reading goroutine (or the seating worker
	// before it starts).
	hdr  []byte
	rbuf []byte
	got  int64 // deliveries seen
	done bool  // got every delivery and every sent reply

	acked atomic.Int64  // sent replies seen
	ack   chan struct{} // rate mode: wakes the pacer waiting for window room

	wmu   sync.Mutex // guards the write side
	wbuf  []byte
	nsent int    // messages written
	mask  uint32 // xorshift state of the masking keys
}

// writeText writes one masked text frame. Safe for concurrent use.
func (c *client) writeText(payload []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wbuf = append(c.wbuf[:0], make([]byte, ws.MaxHeaderSize)...)
	c.wbuf = append(c.wbuf, payload...)
	return c.flushFrame(ws.OpText)
}

// flushFrame masks the payload at c.wbuf[MaxHeaderSize:], puts the header
// in front of it and writes the frame. c.wmu is held.
func (c *client) flushFrame(op ws.OpCode) error {
	p := c.wbuf[ws.MaxHeaderSize:]
	n := len(p)
	var hdr [ws.MaxHeaderSize]byte
	hdr[0] = 0x80 | byte(op)
	h := 2
	switch {
	case n < 126:
		hdr[1] = 0x80 | byte(n)
	case n < 1<<16:
		hdr[1] = 0x80 | 126
		hdr[2], hdr[3] = byte(n>>8), byte(n)
		h = 4
	default:
		hdr[1] = 0x80 | 127
		for i := range 8 {
			hdr[2+i] = byte(uint64(n) >> (56 - 8*i))
		}
		h = 10
	}
	// xorshift32: masks need not be secret here, only present.
	c.mask ^= c.mask << 13
	c.mask ^= c.mask >> 17
	c.mask ^= c.mask << 5
	key := [4]byte{byte(c.mask), byte(c.mask >> 8), byte(c.mask >> 16), byte(c.mask >> 24)}
	copy(hdr[h:], key[:])
	h += 4
	ws.Cipher(p, key, 0)
	start := ws.MaxHeaderSize - h
	copy(c.wbuf[start:], hdr[:h])
	_, err := c.nc.Write(c.wbuf[start:])
	return err
}

// trySend writes the member's next message, if it has one left. The text
// starts with the send time, in nanoseconds since the run's base, which
// the receivers subtract from their own clock. Safe for concurrent use.
func (c *client) trySend() bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.nsent >= c.r.cfg.Messages || c.r.stopping.Load() {
		return false
	}
	c.nsent++
	b := append(c.wbuf[:0], make([]byte, ws.MaxHeaderSize)...)
	b = append(b, `{"type":"send","id":"`...)
	b = strconv.AppendInt(b, int64(c.nsent), 10)
	b = append(b, `","room":"`...)
	b = append(b, c.room...)
	b = append(b, `","text":"`...)
	mark := len(b)
	b = strconv.AppendInt(b, c.r.now(), 10)
	b = append(b, '.')
	for len(b)-mark < c.r.cfg.Size {
		b = append(b, 'x')
	}
	b = append(b, `"}`...)
	c.wbuf = b
	if err := c.flushFrame(ws.OpText); err != nil && !c.r.stopping.Load() {
		c.r.fail("write: " + errClass(err))
	}
	return true
}

// paced sends the member's messages at the configured rate, from a random
// phase so members do not send in lockstep, never with more than Window
// awaiting their reply.
func (c *client) paced() {
	period := time.Duration(float64(time.Second) / c.r.cfg.Rate)
	next := time.Now().Add(time.Duration(rand.Int64N(int64(period))))
	t := time.NewTimer(time.Until(next))
	defer t.Stop()
	for i := 0; i < c.r.cfg.Messages; i++ {
		select {
		case <-t.C:
		case <-c.r.stop:
			return
		}
		for int64(i)-c.acked.Load() >= int64(c.r.cfg.Window) {
			select {
			case <-c.ack:
			case <-c.r.stop:
				return
			}
		}
		c.trySend()
		next = next.Add(period)
		t.Reset(time.Until(next))
	}
}

// reply is the part of a reply the seating reads.
type reply struct {
	Type  string `json:"type"`
	ID    string `json:"id"`
	Room  string `json:"room"`
	Token string `json:"token"`
	Code  string `json:"code"`
}

// await reads frames until the next reply (an event with an id) and
// checks its type. Used while seating, before the reading goroutine runs.
func (c *client) await(want string) (reply, error) {
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer c.nc.SetReadDeadline(time.Time{})
	for {
		op, p, err := c.readFrame()
		if err != nil {
			return reply{}, err
		}
		if op != ws.OpText {
			continue
		}
		if !bytes.Contains(p, []byte(`"id":`)) {
			c.onEvent(p) // an event, not our reply
			continue
		}
		var rep reply
		if err := json.Unmarshal(p, &rep); err != nil {
			return reply{}, fmt.Errorf("bad reply: %w", err)
		}
		if rep.Type == "error" {
			c.r.fail("error: " + rep.Code)
			return reply{}, fmt.Errorf("server error %s, waiting for %s", rep.Code, want)
		}
		if rep.Type != want {
			return reply{}, fmt.Errorf("got %s, waiting for %s", rep.Type, want)
		}
		return rep, nil
	}
}

// startReading marks the member seated and hands its connection to a
// reading goroutine.
func (c *client) startReading() {
	c.seated = true
	if c.r.cfg.Rate > 0 {
		c.ack = make(chan struct{}, 1)
	}
	c.r.readers.Go(c.readLoop)
}

// readFrame reads one frame into c.rbuf, answering pings. Only the read
// side calls it.
func (c *client) readFrame() (ws.OpCode, []byte, error) {
	for {
		h, err := ws.ReadHeaderBuffer(c.br, c.hdr)
		if err != nil {
			return 0, nil, err
		}
		if h.Length > 1<<24 {
			return 0, nil, fmt.Errorf("frame of %d bytes", h.Length)
		}
		n := int(h.Length)
		if cap(c.rbuf) < n {
			c.rbuf = make([]byte, n)
		}
		p := c.rbuf[:n]
		if _, err := io.ReadFull(c.br, p); err != nil {
			return 0, nil, err
		}
		if h.Masked {
			ws.Cipher(p, h.Mask, 0)
		}
		switch {
		case h.OpCode == ws.OpPing:
			c.wmu.Lock()
			c.wbuf = append(append(c.wbuf[:0], make([]byte, ws.MaxHeaderSize)...), p...)
			c.flushFrame(ws.OpPong)
			c.wmu.Unlock()
			continue
		case h.OpCode == ws.OpPong:
			continue
		case !h.Fin || h.OpCode == ws.OpContinuation:
			// The Hub writes every event as one frame.
			return 0, nil, errors.New("fragmented frame")
		}
		return h.OpCode, p, nil
	}
}

func (c *client) readLoop() {
	for {
		op, p, err := c.readFrame()
		if err != nil {
			if !c.r.stopping.Load() {
				c.r.fail("drop: " + errClass(err))
			}
			return
		}
		if op == ws.OpClose {
			if !c.r.stopping.Load() {
				code, _ := ws.ParseCloseFrameDataUnsafe(p)
				c.r.fail("close: " + strconv.Itoa(int(code)))
			}
			return
		}
		if op == ws.OpText {
			c.onEvent(p)
		}
	}
}

var textKey = []byte(`"text":"`)

// onEvent handles one server event on the read side.
func (c *client) onEvent(p []byte) {
	const prefix = `{"type":"`
	if !bytes.HasPrefix(p, []byte(prefix)) {
		c.r.fail("unexpected event")
		return
	}
	t := p[len(prefix):]
	t = t[:max(bytes.IndexByte(t, '"'), 0)]
	switch string(t) {
	case "message":
		now := c.r.now()
		i := bytes.LastIndex(p, textKey)
		if i < 0 {
			c.r.fail("message without text")
			return
		}
		var sentAt int64
		for _, d := range p[i+len(textKey):] {
			if d < '0' || d > '9' {
				break
			}
			sentAt = sentAt*10 + int64(d-'0')
		}
		c.r.hist.record(c.idx, now-sentAt)
		c.got++
	case "sent":
		c.acked.Add(1)
		if c.ack != nil {
			select {
			case c.ack <- struct{}{}:
			default:
			}
		} else {
			c.trySend()
		}
	case "error":
		var rep reply
		json.Unmarshal(p, &rep)
		c.r.fail("error: " + rep.Code)
	default:
		return // member_joined and the like
	}
	if !c.done && c.got >= c.expect && c.acked.Load() >= int64(c.r.cfg.Messages) && c.r.cfg.Messages > 0 {
		c.done = true
		if c.r.doneClients.Add(1) == int64(len(c.r.clients)) {
			c.r.doneAt.Store(c.r.now())
			close(c.r.allDone)
		}
	}
}

// errClass names an I/O error without addresses, so errors group.
func errClass(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "EOF"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Op + ": " + op.Err.Error()
	}
	return err.Error()
}

// ipBindAddressNoPort is Linux's IP_BIND_ADDRESS_NO_PORT: with it, binding
// the source address leaves the choice of the source port to connect,
// which can then reuse a port towards another destination, rather than
// reserving one per bind.
const ipBindAddressNoPort = 24

// dialControl sets IP_BIND_ADDRESS_NO_PORT on the dialing socket. Failing
// to is not fatal: the source address is still bound.
func dialControl(network, address string, rc syscall.RawConn) error {
	return rc.Control(func(fd uintptr) {
		syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
	})
}

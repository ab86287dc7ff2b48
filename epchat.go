package epchat

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"

	"github.com/epchat-go/epchat/internal/ids"
	"github.com/epchat-go/epchat/internal/netpoll"
	"github.com/epchat-go/epchat/internal/transport"
	"github.com/epchat-go/epchat/internal/wsframe"
)

// closeDrain is how long a closing connection is given to read our close
// frame and answer it before the socket is closed.
const closeDrain = 2 * time.Second

// storeTimeout bounds the Store calls of Shutdown.
const storeTimeout = 10 * time.Second

// Hub serves ephemeral chat rooms over WebSockets. It is an http.Handler:
// mount it anywhere in the host application's mux, for example
//
//	mux.Handle("/chat/", http.StripPrefix("/chat", hub))
//
// Every request to it is a WebSocket upgrade; see PROTOCOL.md for what
// clients say once connected. The Go methods (CreateRoom, CloseRoom,
// KickMember, LockRoom, UnlockRoom, Rooms) let the host act without a
// socket.
//
// A Hub is safe for concurrent use. Stop it with Shutdown:
// http.Server.Shutdown does not touch the Hub's connections, which it
// hijacked.
type Hub struct {
	cfg   config
	store Store
	clock Clock
	log   *slog.Logger

	// remoteStore: the Store is not an InProcessStore, so its calls may
	// wait on I/O, and a request that makes them tells the poller
	// (conn.MayBlock).
	remoteStore bool

	// broker carries room events to other processes; nil when this
	// process serves its rooms alone, and then on Shutdown the rooms close
	// with reason shutdown.
	broker     Broker
	msgPub     MessagePublisher // the broker, if it keeps the Store's seqs
	batcher    MessageBatcher   // msgPub, if it records several messages in one step
	batches    sendBatches      // the sends waiting for batcher, per room
	roomBroker RoomBroker       // the broker, if it delivers per room
	node       string           // this Hub's id among the broker's processes
	stopBroker func()

	// poller watches idle connections without a goroutine each; nil when
	// disabled or unsupported, and then each connection has a read loop.
	poller *netpoll.Poller
	// transport is what every connection's transport shares: the
	// poller, the limits, the counters.
	transport transport.Env

	mu        hubMutex
	listeners []net.Listener // given to Serve; closed by Shutdown
	upgrading upgrading      // Serve's connections before their upgrade
	conns     []*conn        // every live connection; conn.slot is its index
	users     userIndex      // user id -> this process's connections
	// joining counts, by user id, the hellos with its token between
	// their place under WithMaxSessionConnections and their connection
	// in users (see reserveSessionConn); no entry for none.
	joining map[string]int
	// removed remembers, for a while, the kicks (and closes: user "")
	// this process applied from the Broker (see subscribeChecked).
	removed map[roomUser]int64
	// drained is closed when Shutdown is under way and no connection is left.
	drained chan struct{}

	// subs holds each room's subscribed connections, in shards of their
	// own (subs.go): a fan-out takes no lock of the whole Hub.
	subs subscriptions

	// locks holds one lock per room in use (locks.go).
	locks roomLocks

	stats counters   // figures for Stats (stats.go)
	hooks hookRunner // the hook queue (hooks.go)

	// ctx is the context of the Store and Broker calls made for the
	// connections and the sweepers: no deadline per call (a Store that talks
	// to a server bounds its own calls), cancelled once Shutdown is done.
	ctx    context.Context
	cancel context.CancelFunc

	// guard counts connections and failed token guesses per address.
	guard guard
	// proxyWarned is set once the Hub warned that it sees a forwarding
	// header but counts its per-address limits by the peer address.
	proxyWarned atomic.Bool
	// protoWarned is set once the Hub warned that it refused an origin
	// that a proxy's X-Forwarded-Proto would have let through.
	protoWarned atomic.Bool
	// unpolledWarned is set once the Hub said that a connection could not
	// be polled.
	unpolledWarned atomic.Bool

	connSweep  connSweeper  // sweep_conns.go
	storeSweep storeSweeper // sweep_store.go

	closing atomic.Bool
	done    chan struct{} // closed by Shutdown: stops the sweepers
	wg      sync.WaitGroup
	// sessionsEnded counts closeSession's calls (see addSessionConn).
	sessionsEnded atomic.Uint64
	// followers are the goroutines of follow's checks, which end at the
	// latest when Shutdown cancels h.ctx.
	followers sync.WaitGroup
}

// New returns a Hub configured by opts, or the first problem found in
// them. It starts the Hub's sweepers; stop them with Shutdown.
func New(opts ...Option) (*Hub, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.store == nil {
		cfg.store = NewMemoryStore()
	}
	if cfg.clock == nil {
		cfg.clock = systemClock{}
	}
	log := cfg.logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &Hub{
		ctx:     ctx,
		cancel:  cancel,
		cfg:     cfg,
		store:   cfg.store,
		clock:   cfg.clock,
		log:     log,
		broker:  cfg.broker,
		node:    ids.Member(),
		drained: make(chan struct{}),
		done:    make(chan struct{}),
	}
	ip, ok := cfg.store.(InProcessStore)
	h.remoteStore = !ok || !ip.InProcess()
	if sc, ok := cfg.broker.(StoreChecker); ok {
		if err := sc.CheckStore(cfg.store); err != nil {
			cancel()
			return nil, fmt.Errorf("epchat: broker: %w", err)
		}
	}
	h.stats.init()
	h.locks.init()
	h.subs.init()
	if cfg.netpoll {
		p, err := netpoll.New(max(8, 4*runtime.GOMAXPROCS(0)))
		if err == nil {
			h.poller = p
		} else if !errors.Is(err, netpoll.ErrUnsupported) {
			cancel()
			return nil, fmt.Errorf("epchat: start poller: %w", err)
		}
	}
	if mp, ok := h.broker.(MessagePublisher); ok && mp.Keeps(h.store) {
		h.msgPub = mp
		h.batcher, _ = mp.(MessageBatcher)
		h.batches.init()
	}
	h.roomBroker, _ = h.broker.(RoomBroker)
	h.transport = transport.Env{
		Poller:       h.poller,
		Clock:        func() int64 { return h.clock.Now().UnixNano() },
		QueueLimit:   cfg.sendQueueLimit,
		WriteTimeout: cfg.writeTimeout,
		Drain:        closeDrain,
		Writers:      &h.wg,
		Log:          log,
		BytesIn:      &h.stats.bytesIn.Uint64,
		BytesOut:     &h.stats.bytesOut.Uint64,
		Polled:       &h.stats.connsPolled,
	}
	if lw, ok := h.store.(LossWatcher); ok {
		lw.WatchLoss(h.storeLost)
	}
	if h.broker != nil {
		stop, err := h.broker.Subscribe(h.deliver)
		if err != nil {
			cancel()
			if h.poller != nil {
				h.poller.Close()
			}
			return nil, fmt.Errorf("epchat: subscribe to broker: %w", err)
		}
		h.stopBroker = stop
	}
	// Two sweepers, so that a slow Store never holds up keepalive. The
	// Store sweeper's ticker is made last (epchattest.Clock.LastTicker).
	connTick, connStop := h.clock.NewTicker(sweepInterval)
	storeTick, storeStop := h.clock.NewTicker(sweepInterval)
	h.wg.Add(2)
	go h.sweepConnsLoop(connTick, connStop)
	go h.sweepStoreLoop(storeTick, storeStop)
	h.startHooks()
	return h, nil
}

// ServeHTTP upgrades the request to a WebSocket and serves the connection
// until it closes. A request that is not a valid upgrade gets a 4xx answer
// and is never hijacked; so does a cross-origin one (403) and one the
// authorize hook refuses (403). During Shutdown, and when the Hub or the
// client's address holds as many connections as allowed, the answer is 503.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.closing.Load() {
		refuseClosing.write(w) // before anything else, as admit would
		return
	}
	if status, msg := checkUpgrade(r); status != 0 {
		if status == http.StatusUpgradeRequired {
			w.Header().Set("Upgrade", "websocket")
			w.Header().Set("Sec-WebSocket-Version", "13")
		}
		http.Error(w, msg, status)
		return
	}
	a, refused := h.admit(r, r.TLS != nil)
	if refused != nil {
		refused.write(w)
		return
	}
	up := ws.HTTPUpgrader{Timeout: h.cfg.handshakeTimeout}
	nc, rw, _, err := up.Upgrade(r, w)
	if err != nil {
		h.guard.release(a.addr)
		if nc != nil {
			nc.Close()
		}
		h.log.Debug("upgrade failed", "reason", upgradeFailure(err))
		return
	}
	// Bytes the client sent right after its request sit in the bufio.Reader
	// of the hijacked connection: they are the start of the stream.
	var early []byte
	if n := rw.Reader.Buffered(); n > 0 {
		early, _ = rw.Reader.Peek(n)
		early = append([]byte(nil), early...)
	}
	h.serveConn(nc, early, a.nickname, a.addr)
}

// serveConn serves an upgraded connection, which holds a connection slot
// of addr: through the poller, or with a blocking read loop that returns
// when the connection ends.
func (h *Hub) serveConn(nc net.Conn, early []byte, nickname, addr string) {
	c := newConn(h, nc)
	c.addr = addr
	c.nick = nickname
	if !h.register(c) {
		// Shutdown began during the upgrade: say so and hang up, starting
		// nothing that Shutdown, already waiting, would not wait for.
		c.Refuse(wsframe.AppendClose(nil, ws.StatusGoingAway, "server shutting down"))
		h.guard.release(addr)
		return
	}
	c.Serve(early) // in poll mode the poller serves it from now on
}

// ErrHubClosed is returned by Serve once Shutdown was called.
var ErrHubClosed = errors.New("epchat: hub closed")

// Serve accepts connections on ln and upgrades them itself, for hosts that
// own a listener for chat alone. It uses gobwas/ws's zero-copy upgrader:
// the request is parsed in place, with no http.Request, no net/http
// goroutine and no buffer left behind, which makes connecting cheaper than
// through ServeHTTP. Every request path is accepted. The origin check and
// the authorize hook apply as with ServeHTTP; the hook gets an
// http.Request holding the method, path, Host, remote address and headers.
// Clients must wait for the upgrade response before sending frames, as RFC
// 6455 requires.
//
// A connection waits for its upgrade request for the handshake timeout at
// most (WithHandshakeTimeout). At most WithMaxConnections connections may
// wait at once, and WithMaxConnectionsPerAddr from one IP address (unless
// WithClientAddr says where clients are: the socket's address is then a
// proxy's); one more gets 503 at once, its request unread, and counts in
// Stats.ConnectionsRefused. An accept that fails for want of descriptors
// or memory is retried after a pause, as net/http does.
//
// Serve returns ErrHubClosed after Shutdown, which closes ln, or the
// listener's error.
func (h *Hub) Serve(ln net.Listener) error {
	h.mu.Lock()
	if h.closing.Load() {
		h.mu.Unlock()
		return ErrHubClosed
	}
	h.listeners = append(h.listeners, ln)
	h.mu.Unlock()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if h.closing.Load() {
				return ErrHubClosed
			}
			if acceptRetries(err) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay) // as net/http does on accept errors
				continue
			}
			return err
		}
		delay = 0
		key, ok := h.upgrading.take(nc, h.cfg.maxConns, h.cfg.maxConnsPerAddr, h.cfg.clientAddr == nil)
		if !ok {
			refuseUnread(nc)
			h.stats.connsRefused.Add(1)
			continue
		}
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			defer h.upgrading.release(key)
			h.upgradeRaw(nc)
		}()
	}
}

// acceptRetries tells an accept error after which Serve goes on, after a
// pause: a timeout, or a process or system out of descriptors or memory
// for now (as net/http's Serve does, where they are "temporary"), or a
// connection aborted before it was accepted. Out of descriptors, Serve
// once returned, and the demo server stopped with it.
func acceptRetries(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED, syscall.EINTR} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// upgrading counts the connections Serve accepted whose upgrade is under
// way, in total and by the socket's IP address. A connection waiting for
// its upgrade request (the handshake timeout, 10 s by default) holds a
// goroutine and a descriptor, and is counted nowhere else: the connection
// limits apply once the request is read. So Serve admits at most
// WithMaxConnections of them at once, and WithMaxConnectionsPerAddr from
// one IP address unless a WithClientAddr hook says where clients are (the
// socket's address is then a proxy's); beyond that, a connection gets 503
// at once, without its request being read.
type upgrading struct {
	mu    sync.Mutex
	total int
	by    map[netip.Addr]int
}

func (u *upgrading) take(nc net.Conn, maxTotal, maxPerAddr int, perAddr bool) (netip.Addr, bool) {
	var key netip.Addr
	if perAddr {
		if ta, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
			key = ta.AddrPort().Addr().Unmap()
		}
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.total >= maxTotal || key.IsValid() && u.by[key] >= maxPerAddr {
		return netip.Addr{}, false
	}
	u.total++
	if key.IsValid() {
		if u.by == nil {
			u.by = make(map[netip.Addr]int)
		}
		u.by[key]++
	}
	return key, true
}

func (u *upgrading) release(key netip.Addr) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.total--
	if key.IsValid() {
		if u.by[key]--; u.by[key] <= 0 {
			delete(u.by, key)
		}
	}
}

// refuseUnread answers a connection whose request Serve does not read
// with 503 and closes it. The response fits any socket buffer: the write
// does not wait.
func refuseUnread(nc net.Conn) {
	nc.SetWriteDeadline(time.Now().Add(time.Second))
	io.WriteString(nc, "HTTP/1.1 503 Service Unavailable\r\nRetry-After: "+retryAfter+"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	nc.Close()
}

// upgradeRaw performs the upgrade of a connection accepted by Serve. The
// request is parsed in place; only the headers admission reads are kept,
// or all of them for the authorize and client address hooks.
func (h *Hub) upgradeRaw(nc net.Conn) {
	nc.SetDeadline(time.Now().Add(h.cfg.handshakeTimeout))
	_, secure := nc.(*tls.Conn)
	var (
		uri, host string
		hdr       http.Header
		a         admitted
		took      bool
	)
	all := h.cfg.authorize != nil || h.cfg.clientAddr != nil
	up := ws.Upgrader{
		OnRequest: func(b []byte) error { uri = string(b); return nil },
		OnHost:    func(b []byte) error { host = string(b); return nil },
		OnHeader: func(k, v []byte) error {
			if all || isAdmissionHeader(k) {
				if hdr == nil {
					hdr = make(http.Header)
				}
				hdr.Add(string(k), string(v))
			}
			return nil
		},
		OnBeforeUpgrade: func() (ws.HandshakeHeader, error) {
			// hdr is nil when no header admission reads came: reading a
			// nil Header is fine, and the hooks that might write it get
			// every header.
			r := &http.Request{Method: http.MethodGet, Header: hdr, Host: host, RemoteAddr: nc.RemoteAddr().String(), RequestURI: uri}
			if h.cfg.authorize != nil {
				if u, err := url.ParseRequestURI(uri); err == nil {
					r.URL = u
				}
			}
			var refused *refusal
			a, refused = h.admit(r, secure)
			if refused != nil {
				opts := []ws.RejectOption{ws.RejectionStatus(refused.status)}
				if refused.retry {
					opts = append(opts, ws.RejectionHeader(ws.HandshakeHeaderString("Retry-After: "+retryAfter+"\r\n")))
				}
				return nil, ws.RejectConnectionError(opts...)
			}
			took = true
			return nil, nil
		},
	}
	if _, err := up.Upgrade(nc); err != nil {
		if took {
			h.guard.release(a.addr)
		}
		nc.Close()
		h.log.Debug("upgrade failed", "reason", upgradeFailure(err))
		return
	}
	nc.SetDeadline(time.Time{})
	h.serveConn(nc, nil, a.nickname, a.addr)
}

// isAdmissionHeader reports whether k names a header admission reads
// when no hook needs them all: Origin, and those a reverse proxy sets.
func isAdmissionHeader(k []byte) bool {
	return strings.EqualFold(string(k), "Origin") || isForwardingHeader(k) ||
		strings.EqualFold(string(k), "X-Forwarded-Proto")
}

// isForwardingHeader reports whether k names a header a reverse proxy
// sets to forward the client's address.
func isForwardingHeader(k []byte) bool {
	return strings.EqualFold(string(k), "X-Forwarded-For") || strings.EqualFold(string(k), "Forwarded")
}

// upgradeFailure names why an upgrade failed without the error's own text:
// network errors carry the peer's address, which is not ours to log.
func upgradeFailure(err error) string {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.As(err, &ne), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "network"
	}
	return "handshake"
}

// checkUpgrade tells what is wrong with a WebSocket upgrade request, before
// anything is hijacked: status 0 means nothing.
func checkUpgrade(r *http.Request) (int, string) {
	if !headerHasToken(r.Header, "Upgrade", "websocket") {
		return http.StatusUpgradeRequired, "this is a WebSocket endpoint"
	}
	if r.Method != http.MethodGet {
		return http.StatusMethodNotAllowed, "WebSocket upgrade needs GET"
	}
	if r.ProtoMajor != 1 || r.ProtoMinor < 1 {
		return http.StatusUpgradeRequired, "WebSocket upgrade needs HTTP/1.1"
	}
	if !headerHasToken(r.Header, "Connection", "upgrade") {
		return http.StatusBadRequest, "missing Connection: Upgrade"
	}
	if len(r.Header.Get("Sec-WebSocket-Key")) != 24 {
		return http.StatusBadRequest, "missing or malformed Sec-WebSocket-Key"
	}
	if r.Header.Get("Sec-WebSocket-Version") != "13" {
		return http.StatusUpgradeRequired, "unsupported Sec-WebSocket-Version"
	}
	return 0, ""
}

// headerHasToken reports whether a header of hd named name lists token,
// in any case: Firefox, for one, sends "Connection: keep-alive, Upgrade".
// The lists are read as RFC 7230 says, as gobwas/ws reads them.
func headerHasToken(hd http.Header, name, token string) bool {
	found := false
	for _, v := range hd.Values(name) {
		httphead.ScanTokens([]byte(v), func(t []byte) bool {
			found = strings.EqualFold(string(t), token)
			return !found
		})
		if found {
			return true
		}
	}
	return false
}

// clientAddr is the address the per-address limits count r by.
func (h *Hub) clientAddr(r *http.Request) string {
	if f := h.cfg.clientAddr; f != nil {
		return f(r)
	}
	if (r.Header.Get("X-Forwarded-For") != "" || r.Header.Get("Forwarded") != "") &&
		h.proxyWarned.CompareAndSwap(false, true) {
		h.log.Warn("request forwarded by a proxy: per-address limits count the proxy's address; set WithClientAddr")
	}
	return remoteAddr(r)
}

// register adds c to the Hub; it reports false during Shutdown. The check
// and the count of the read loop are one step under h.mu, which Shutdown
// takes after setting closing: so either Shutdown waits for this read
// loop, or the loop never starts.
func (h *Hub) register(c *conn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing.Load() {
		return false
	}
	h.wg.Add(1) // the connection; Done in conn.finish
	c.slot = int32(len(h.conns))
	h.conns = append(h.conns, c)
	h.noteConnOpened()
	return true
}

// dropConnLocked removes c from the Hub's list of connections: the last
// one takes its slot. h.mu is held.
func (h *Hub) dropConnLocked(c *conn) {
	last := len(h.conns) - 1
	moved := h.conns[last]
	h.conns[c.slot], moved.slot = moved, c.slot
	h.conns[last] = nil
	h.conns = h.conns[:last]
	if cap(h.conns) > 1024 && len(h.conns) < cap(h.conns)/4 {
		h.conns = slices.Clone(h.conns) // give a burst's array back
	}
}

// Shutdown stops the Hub: new upgrades get 503, the sweepers stop, and
// every connection is closed with 1001 (going away). When this process
// serves the rooms alone (no shared broker), every room is closed first
// with reason shutdown. Shutdown waits for the connections to close until
// ctx is done, then cuts the stragglers, cancels the Store calls still
// under way (a closing connection's Detach waiting on an unreachable
// Store: the Store's own rules, such as redisstore's node timeout, then
// count those connections as gone) and returns ctx's error. It returns
// once every goroutine of the Hub has returned.
func (h *Hub) Shutdown(ctx context.Context) error {
	if !h.closing.CompareAndSwap(false, true) {
		return errors.New("epchat: Shutdown called twice")
	}
	close(h.done)
	h.mu.Lock()
	for _, ln := range h.listeners {
		ln.Close()
	}
	h.mu.Unlock()
	if h.broker == nil {
		h.closeAllRooms(ctx)
	}
	h.mu.Lock()
	conns := slices.Clone(h.conns)
	h.checkDrainedLocked()
	h.mu.Unlock()
	for _, c := range conns {
		c.CloseWith(ws.StatusGoingAway, "server shutting down")
	}
	var err error
	select {
	case <-h.drained:
	case <-ctx.Done():
		err = ctx.Err()
		h.cancel() // the Store calls under way give up
		h.mu.Lock()
		cut := slices.Clone(h.conns)
		h.mu.Unlock()
		for _, c := range cut {
			c.Abort()
		}
	}
	// A closed connection is gone from the list before its Detach: the
	// goroutines may still wait on the Store when the list is empty.
	waited := make(chan struct{})
	go func() {
		h.wg.Wait()
		close(waited)
	}()
	select {
	case <-waited:
	case <-ctx.Done():
		if err == nil {
			err = ctx.Err()
		}
		h.cancel()
		<-waited
	}
	if h.stopBroker != nil {
		h.stopBroker()
	}
	if h.poller != nil {
		h.poller.Close()
	}
	h.cancel()
	h.followers.Wait()
	if herr := h.stopHooks(ctx); err == nil {
		err = herr
	}
	h.log.Info("hub stopped", "connections", len(conns))
	return err
}

// checkDrainedLocked closes drained once Shutdown is under way and the
// last connection is gone. h.mu is held.
func (h *Hub) checkDrainedLocked() {
	if !h.closing.Load() || len(h.conns) > 0 {
		return
	}
	select {
	case <-h.drained:
	default:
		close(h.drained)
	}
}

func (h *Hub) closeAllRooms(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	rooms, err := h.store.Rooms(ctx)
	if err != nil {
		h.log.Error("list rooms at shutdown", "err", err)
		return
	}
	for _, r := range rooms {
		h.closeRoom(ctx, r.ID, ReasonShutdown)
	}
}

// CreatedRoom is a room opened by the host application with CreateRoom, with
// the one-time invite tokens to hand out.
type CreatedRoom struct {
	// ID is the room id.
	ID string
	// Owner is the owner's invite: whoever redeems it joins as owner.
	Owner InviteToken
	// Members are member invites.
	Members []InviteToken
}

// InviteToken is a secret one-time invite token and the end of its validity.
type InviteToken struct {
	Token     string
	ExpiresAt time.Time
}

// RoomSpec describes a room opened with CreateRoom.
type RoomSpec struct {
	// Invites is the number of member invites to make besides the owner's:
	// 0 to MaxMembers-1.
	Invites int
	// InviteTTL is how long the invites stay valid; 0 means the Hub's
	// invite TTL. The room still closes when idle for the room idle timeout.
	InviteTTL time.Duration
}

// CreateRoom opens a room with no member yet, and makes the one-time
// invites that seat its owner and its first members: for example a
// help-desk application opening a room for a ticket and mailing the links.
// Rooms opened this way carry no end-to-end key: clients that encrypt must
// agree on one another way.
func (h *Hub) CreateRoom(ctx context.Context, spec RoomSpec) (CreatedRoom, error) {
	if spec.Invites < 0 || spec.Invites > h.cfg.maxMembers-1 {
		return CreatedRoom{}, fmt.Errorf("epchat: invites must be 0 to %d, got %d", h.cfg.maxMembers-1, spec.Invites)
	}
	ttl := spec.InviteTTL
	if ttl == 0 {
		ttl = h.cfg.inviteTTL
	}
	if ttl < 0 {
		return CreatedRoom{}, fmt.Errorf("epchat: negative invite TTL %v", ttl)
	}
	now := h.clock.Now()
	room := Room{ID: ids.Room(), Limit: h.cfg.maxMembers, CreatedAt: now, ActiveAt: now}
	h.roomActive(now)
	if err := h.store.CreateRoom(ctx, room, nil, 0); err != nil {
		return CreatedRoom{}, fmt.Errorf("epchat: create room: %w", err)
	}
	out := CreatedRoom{ID: room.ID}
	for i := range spec.Invites + 1 {
		tok, err := h.createInvite(ctx, room.ID, "", "", i == 0, now, ttl)
		if err != nil {
			h.store.CloseRoom(ctx, room.ID)
			return CreatedRoom{}, fmt.Errorf("epchat: create invite: %w", err)
		}
		if i == 0 {
			out.Owner = tok
		} else {
			out.Members = append(out.Members, tok)
		}
	}
	h.roomOpened(room.ID, ReasonHost, 0)
	h.log.Info("room opened by host", "room", room.ID, "invites", spec.Invites+1)
	return out, nil
}

// CloseRoom closes a room as its owner would, with reason host: every
// member gets room_closed, and members, invites and the room are deleted.
// ErrNotFound if there is no such room.
func (h *Hub) CloseRoom(ctx context.Context, id string) error {
	return h.closeRoom(ctx, id, ReasonHost)
}

// Rooms lists the open rooms with their member counts, in no set order.
func (h *Hub) Rooms(ctx context.Context) ([]RoomInfo, error) {
	return h.store.Rooms(ctx)
}

package epchat

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"

	"github.com/epchat-go/epchat/internal/ids"
	"github.com/epchat-go/epchat/internal/transport"
	"github.com/epchat-go/epchat/internal/wire"
	"github.com/epchat-go/epchat/internal/wsframe"
)

// Application close codes (PROTOCOL.md).
const (
	closeIdentifyTimeout ws.StatusCode = 4000
	closeTooSlow                       = transport.CloseTooSlow
	closePingTimeout     ws.StatusCode = 4002
	closeSessionEnded    ws.StatusCode = 4003
)

// touchEvery is how often at most a connection's activity is written to the
// Store: the user idle rule counts in days.
const touchEvery = time.Minute

var connSeq atomic.Uint64

// Flags of a connection, in the transport's flag word (transport.Conn.Flags),
// above the transport's own.
const (
	flagIdentified uint32 = 1 << (transport.UpperShift + iota) // hello succeeded: user and nick are set
	flagGreeting                                               // a hello is under way: the identify timeout waits for it

	causeShift = transport.UpperShift + 8 // flags >> causeShift is a closeCause
)

// has reports whether flag f is set.
func (c *conn) has(f uint32) bool { return c.Flags().Load()&f != 0 }

// reqPool holds the scratch requests of handle: a connection keeps none
// while idle.
var reqPool = sync.Pool{New: func() any { return new(wire.Request) }}

// conn is one WebSocket connection as the Hub sees it: a transport (the
// frames, the write queue, the closing handshake; internal/transport) and
// the member behind it. The transport's read side hands it the client's
// requests one at a time (Text), so replies keep the order of requests;
// sends never block on a slow peer.
type conn struct {
	transport.Conn

	h       *Hub
	created int64 // clock time, Unix ns

	// addr is the client address the per-address limits count it by.
	addr string

	// Read side, owned by the transport's read side.
	lastTouch int64 // clock time of the last TouchUser, Unix ns
	bucket    tokenBucket
	abuse     *abuse // nil until the first violation or failed guess

	pinged atomic.Int64 // clock time of the last ping sent, Unix ns
	// stallSeen and stallSince are the connection sweeper's: the write
	// wait it saw (transport.Conn.Waits), and when it first saw it
	// (monotonic, see monoNow).
	stallSeen  uint32
	slot       int32 // index in h.conns; guarded by h.mu
	stallSince int64

	// user and nick are set once by hello, before identified is set; a
	// nickname set by the host (WithAuthorize) is in nick before that.
	user string
	nick string

	// rooms this connection receives the events of; guarded by h.mu.
	rooms roomSet
}

// newConn makes a connection of nc, in poll mode when the Hub has a poller
// and nc a socket it can take over.
func newConn(h *Hub, nc net.Conn) *conn {
	if n := h.cfg.sockSendBuf; n > 0 {
		setSendBuffer(nc, n)
	}
	c := &conn{h: h, created: h.clock.Now().UnixNano()}
	polled := c.Init(&h.transport, c, nc, connSeq.Add(1), h.cfg.readLimit())
	if !polled && h.poller != nil && h.unpolledWarned.CompareAndSwap(false, true) {
		h.log.Info("a connection is served without the poller, with a goroutine of its own: it is not a plain TCP socket (TLS terminated by the http.Server?); Stats.ConnectionsPolled counts the others")
	}
	return c
}

// setSendBuffer sets the kernel send buffer of nc's socket, under TLS
// too; a connection that is no socket keeps what it has. Set before the
// poller detaches the descriptor, so both read modes get it.
func setSendBuffer(nc net.Conn, n int) {
	for {
		switch c := nc.(type) {
		case interface{ SetWriteBuffer(int) error }:
			c.SetWriteBuffer(n)
			return
		case interface{ NetConn() net.Conn }: // *tls.Conn
			nc = c.NetConn()
		default:
			return
		}
	}
}

// Text implements transport.Upper: one request.
func (c *conn) Text(p []byte) { c.h.handle(c, p) }

// Ending implements transport.Upper: the first cause it hears is why the
// connection ended (Stats).
func (c *conn) Ending(code ws.StatusCode) {
	if code == transport.PeerGone {
		c.noteCause(causeClient)
		return
	}
	c.noteCause(causeOf(code))
}

// Ended implements transport.Upper. It runs once, on the read side (so
// never while a request of c is being handled): the connection leaves the
// Hub's maps, and the user's Store record learns a connection went away.
func (c *conn) Ended() {
	h := c.h
	h.mu.Lock()
	h.dropConnLocked(c)
	if c.user != "" {
		h.users.remove(c.user, c)
		if h.roomBroker != nil && !h.users.has(c.user) {
			h.roomBroker.UnserveUser(c.user)
		}
	}
	for _, room := range c.rooms.list() {
		h.unsubscribeLocked(room, c)
	}
	h.checkDrainedLocked()
	h.mu.Unlock()
	h.guard.release(c.addr)

	if c.has(flagIdentified) {
		c.mayWaitOnStore()
		now := h.clock.Now()
		h.storeSweep.vacate.add(now.Add(h.cfg.grace))
		h.guard.seenUser(c.user, now)
		if err := h.store.Detach(h.ctx, c.user, now); err != nil && !errors.Is(err, ErrNotFound) {
			h.log.Error("detach", "conn", c.ID, "err", err)
		}
	}
	h.noteConnClosed(c)
	h.wg.Done()
}

// mayWaitOnStore tells the poller, before a Store call on the read side,
// that the call may wait, unless the Store is in-process: other
// connections then keep their workers meanwhile (transport.Conn.MayBlock).
func (c *conn) mayWaitOnStore() {
	if c.h.remoteStore {
		c.MayBlock()
	}
}

// reply sends a reply or error to this connection only.
func (c *conn) reply(payload []byte) { c.Send(textFrame(payload)) }

func (c *conn) replyError(id string, code wire.Code, room string) {
	c.h.stats.errorSent(code)
	c.reply(wire.Error(nil, id, code, room))
}

// textFrame wraps an encoded event in a WebSocket text frame.
func textFrame(payload []byte) []byte {
	return wsframe.AppendText(make([]byte, 0, wsframe.TextHeaderLen(len(payload))+len(payload)), payload)
}

// handle decodes and dispatches one request.
func (h *Hub) handle(c *conn, p []byte) {
	req := reqPool.Get().(*wire.Request)
	defer reqPool.Put(req)
	allowed := c.bucket.take(h.clock.Now(), h.cfg.requestRate, h.cfg.requestBurst)
	if err := wire.DecodeRequest(p, req); err != nil {
		c.refuse(req.ID, wire.BadRequest, "")
		return
	}
	if !allowed {
		c.refuse(req.ID, wire.RateLimited, req.Room)
		return
	}
	if !c.has(flagIdentified) && req.Type != "hello" && req.Type != "check_invite" {
		c.refuse(req.ID, wire.NotIdentified, "")
		return
	}
	if need := required(req.Type); need&^carried(req) != 0 || !validToken(req.Token) || !validVerifier(req.Verifier) {
		c.refuse(req.ID, wire.BadRequest, req.Room)
		return
	}
	if c.has(flagIdentified) {
		c.touch()
	}
	if h.remoteStore && waitsOnStore(req.Type, h.batcher != nil) {
		c.MayBlock() // other connections keep their workers meanwhile
	}
	if h.batcher != nil && req.Type != "send" && req.Room != "" {
		h.awaitSends(req.Room) // the room's sends queued before come first
	}
	switch req.Type {
	case "hello":
		h.hello(c, req)
	case "create":
		h.create(c, req)
	case "invite":
		h.invite(c, req)
	case "join":
		h.join(c, req)
	case "check_invite":
		h.checkInvite(c, req)
	case "send":
		h.sendMessage(c, req)
	case "members":
		h.members(c, req)
	case "leave":
		h.leave(c, req)
	case "close":
		h.closeByOwner(c, req)
	case "history":
		h.history(c, req)
	case "kick":
		h.kick(c, req)
	case "lock":
		h.lockByOwner(c, req, true)
	case "unlock":
		h.lockByOwner(c, req, false)
	case "end_session":
		h.endSession(c, req)
	default:
		c.refuse(req.ID, wire.UnknownType, req.Room)
	}
}

// waitsOnStore tells whether a request of type typ calls the Store (or
// waits for calls of it) on the read side: every known type but a send
// when sends go in batches (the batch's goroutine calls the Store).
func waitsOnStore(typ string, batched bool) bool {
	switch typ {
	case "send":
		return !batched
	case "hello", "create", "invite", "join", "check_invite", "members", "leave", "close", "history", "kick", "lock", "unlock", "end_session":
		return true
	}
	return false
}

// required returns the fields a request of type typ must carry
// (PROTOCOL.md lists them); one without them gets bad_request. hello
// needs a nickname or a token, and gets invalid_nickname without either.
func required(typ string) wire.Fields {
	switch typ {
	case "invite", "members", "leave", "close", "lock", "unlock":
		return wire.FieldRoom
	case "kick":
		return wire.FieldRoom | wire.FieldMember
	case "join", "check_invite":
		return wire.FieldToken
	case "send":
		return wire.FieldRoom | wire.FieldText
	case "history":
		return wire.FieldRoom | wire.FieldTo | wire.FieldData
	}
	return 0
}

// carried returns the fields req carried with a value: an id (room,
// token, to, member) that is empty names nothing, and counts as missing; a text
// or data may be empty.
func carried(req *wire.Request) wire.Fields {
	has := req.Has
	if req.Room == "" {
		has &^= wire.FieldRoom
	}
	if req.Token == "" {
		has &^= wire.FieldToken
	}
	if req.To == "" {
		has &^= wire.FieldTo
	}
	if req.Member == "" {
		has &^= wire.FieldMember
	}
	return has
}

// touch records the user's activity, at most once a minute.
func (c *conn) touch() {
	now := c.h.clock.Now()
	if time.Duration(now.UnixNano()-c.lastTouch) < touchEvery {
		return
	}
	c.lastTouch = now.UnixNano()
	if err := c.h.store.TouchUser(c.h.ctx, c.user, now); err != nil && !errors.Is(err, ErrNotFound) {
		c.h.log.Error("touch user", "conn", c.ID, "err", err)
	}
}

// hello identifies the connection: a new user, or a returning one with a
// session token.
func (h *Hub) hello(c *conn, req *wire.Request) {
	if c.has(flagIdentified) {
		c.refuse(req.ID, wire.AlreadyIdentified, "")
		return
	}
	// A hello that waits on the Store (a stalled Redis) is answered, not
	// cut by the identify timeout: the client gets its error (unavailable,
	// say) and may try again. A connection whose hello failed is closed at
	// the next sweep once the timeout is past.
	c.Flags().Or(flagGreeting)
	defer c.Flags().And(^flagGreeting)
	ctx := h.ctx
	now := h.clock.Now()
	var (
		u     User
		token string
	)
	if req.Token != "" {
		// Not a guess (see guessBlocked): unknown tokens are what members
		// hold after a restart on a Store that forgot them.
		var err error
		u, err = h.store.UserByToken(ctx, ids.Hash(req.Token))
		if err != nil {
			if !errors.Is(err, ErrNotFound) {
				h.log.Error("find user", "conn", c.ID, "err", err)
				c.replyError(req.ID, failedCode(err), "")
				return
			}
			c.replyError(req.ID, wire.SessionInvalid, "")
			return
		}
	} else {
		nick, ok := validNickname(req.Nickname)
		if c.nick != "" { // set by the host
			nick, ok = c.nick, true
		}
		if !ok {
			c.replyError(req.ID, wire.InvalidNickname, "")
			return
		}
		token = ids.Token()
		u = User{ID: ids.Member(), Nickname: nick, Token: ids.Hash(token), SeenAt: now}
		if code := h.createUser(ctx, c, u, now); code != "" {
			c.replyError(req.ID, code, "")
			return
		}
	}
	resumed := token == ""
	ended := h.sessionsEnded.Load()
	if resumed && !h.reserveSessionConn(u.ID) {
		// The session has as many connections here as allowed: refused
		// before the Store counts one more; the connection stays
		// unidentified.
		c.replyError(req.ID, wire.TooManyConns, "")
		return
	}
	if err := h.store.Attach(ctx, u.ID, now); err != nil {
		if resumed {
			h.releaseSessionConn(u.ID)
		}
		if errors.Is(err, ErrNotFound) { // forgotten in between
			c.replyError(req.ID, wire.SessionInvalid, "")
			return
		}
		h.log.Error("attach", "conn", c.ID, "err", err)
		c.replyError(req.ID, failedCode(err), "")
		return
	}
	c.user, c.nick, c.lastTouch = u.ID, u.Nickname, now.UnixNano()
	c.Flags().Or(flagIdentified)
	if !h.addSessionConn(c, resumed, u.Conns, ended) {
		return // the session ended meanwhile: c got session_ended, and closes
	}

	roomIDs, err := h.store.UserRooms(ctx, u.ID)
	if err != nil {
		h.log.Error("list rooms", "conn", c.ID, "err", err)
	}
	// Hold the rooms' locks until welcome is queued, so that no event of
	// those rooms can overtake it.
	unlock := h.lockRooms(roomIDs)
	rooms := h.resumeRooms(ctx, c, roomIDs)
	if token == "" {
		h.stats.usersResumed.Add(1)
	}
	c.reply(wire.Welcome(nil, req.ID, wire.Member{ID: u.ID, Nickname: u.Nickname}, token, rooms, wire.Limits{MaxMessage: h.cfg.maxMessageSize, MaxMembers: h.cfg.maxMembers, RoomIdle: int(h.cfg.roomIdle / time.Second)}))
	unlock()
	h.log.Debug("identified", "conn", c.ID, "user", u.ID, "resumed", token == "", "rooms", len(rooms))
}

// resumeRooms subscribes a returning user's connection to the rooms they
// are still seated in, and returns their states. The caller holds the
// rooms' locks.
func (h *Hub) resumeRooms(ctx context.Context, c *conn, roomIDs []string) []wire.RoomState {
	var states []wire.RoomState
	var ready []<-chan struct{}
	for _, id := range roomIDs {
		r, members, err := h.store.Room(ctx, id)
		if err != nil || !hasMember(members, c.user) {
			continue
		}
		h.mu.Lock()
		if rd := h.subscribeLocked(id, c); rd != nil {
			ready = append(ready, rd)
		}
		h.mu.Unlock()
		states = append(states, roomState(r, members))
	}
	for _, rd := range ready {
		h.awaitServed(rd)
	}
	if h.broker != nil {
		// Another process may have changed a room (a kick of the user, a
		// leave, a lock) between the read above and the subscription: its
		// event went to the room's subscribers then, which this
		// connection was not yet. Whatever the Store says now was done
		// before the subscription took effect, or its event comes after
		// it; so the welcome tells each room as read again now (events
		// that reached the connection before the welcome are in it too,
		// but for those of the last round trip), and a room the user is no
		// longer seated in is let go of, and left out.
		kept := states[:0]
		for _, st := range states {
			r, members, read, seated := h.readSeat(st.Room, c.user)
			if !seated { // not told of the room yet: left out of the welcome
				h.mu.Lock()
				h.unsubscribeLocked(st.Room, c)
				h.mu.Unlock()
				continue
			}
			if read {
				st = roomState(r, members)
			}
			kept = append(kept, st)
		}
		states = kept
	}
	return states
}

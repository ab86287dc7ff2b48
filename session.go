package epchat

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/epchat-go/epchat/internal/wire"
)

// Sessions: what the Hub does when a hello makes a user, when a second
// connection presents a session's token, and when a user ends the
// session. A user is the session; its token is the only key to it.

// createUser adds the user u that a hello of c makes, within the user
// caps: the address's, counted here (addresses never go to the Store),
// and the total, counted by the Store. It returns the error code to
// answer with, "" on success.
func (h *Hub) createUser(ctx context.Context, c *conn, u User, now time.Time) wire.Code {
	total, perAddr := h.cfg.userLimits()
	if !h.guard.takeUser(c.addr, u.ID, now, perAddr) {
		// Debug: counted in Stats.Errors, and a churner must not flood the log.
		h.log.Debug("user refused: address holds too many", "conn", c.ID)
		return wire.TooManyUsers
	}
	if err := h.store.CreateUser(ctx, u, total); err != nil {
		h.guard.dropUser(u.ID)
		if errors.Is(err, ErrTooManyUsers) {
			h.log.Debug("user refused: store holds too many", "conn", c.ID)
			return wire.TooManyUsers
		}
		h.log.Error("create user", "conn", c.ID, "err", err)
		return failedCode(err)
	}
	h.stats.usersCreated.Add(1)
	return ""
}

// addSessionConn makes c, just identified, one of its user's connections.
// When the token was presented while other connections of the session
// are open, each of them is told session_connected with the number of the
// session's connections now, c included: a token used somewhere else is
// then no secret to its owner. others is how many connections the Store
// counted for the user before c (User.Conns): with a Broker they may be on
// any process, and that count is the one told; alone, this process counts
// its own. A resumed session's place was taken by reserveSessionConn.
//
// It returns false when the session turns out to have ended while the
// hello was under way: an end_session on this process whose closeSession
// ran before c was added (endedBefore, the count of closeSession calls
// read before the Store's Attach, then differs), or one on another process
// whose event this one was not yet subscribed to hear (the user's channel
// is subscribed here only now). Then the Store is asked: a user it no
// longer knows has its connections here closed, c with them, as
// closeSession closes them.
func (h *Hub) addSessionConn(c *conn, resumed bool, others int, endedBefore uint64) bool {
	h.mu.Lock()
	if resumed {
		h.releaseSessionConnLocked(c.user)
	}
	h.users.add(c.user, c)
	n := 0
	for range h.users.conns(c.user) {
		n++
	}
	var ready <-chan struct{}
	if n == 1 && h.roomBroker != nil {
		ready = h.roomBroker.ServeUser(c.user) // the user's events from other processes
	}
	h.mu.Unlock()
	h.awaitServed(ready)
	if !resumed {
		return true
	}
	if (ready != nil || h.sessionsEnded.Load() != endedBefore) && h.sessionGone(c) {
		return false
	}
	if h.broker != nil {
		n = max(n, others+1)
	}
	if n == 1 {
		return true
	}
	h.publish(&wire.Envelope{Kind: wire.KindSession, Skip: c.ID, User: c.user, Payload: wire.SessionConnected(nil, n)})
	return true
}

// sessionGone tells whether c's user is unknown to the Store, and if so
// ends the session's connections on this process.
func (h *Hub) sessionGone(c *conn) bool {
	err := h.store.TouchUser(h.ctx, c.user, h.clock.Now())
	if !errors.Is(err, ErrNotFound) {
		if err != nil {
			h.log.Error("touch user", "conn", c.ID, "err", err)
		}
		return false
	}
	h.closeSession(c.user, wire.SessionEnded(nil))
	return true
}

// reserveSessionConn takes a place for one more connection of user, the
// session a hello presents the token of, before the Store hears of it:
// false when this process serves, or is admitting, as many as
// WithMaxSessionConnections allows. The place becomes the connection's in
// addSessionConn, or is given back (releaseSessionConn) if the hello fails.
func (h *Hub) reserveSessionConn(user string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := h.joining[user]
	for range h.users.conns(user) {
		n++
	}
	if n >= h.cfg.maxSessionConns {
		return false
	}
	if h.joining == nil {
		h.joining = make(map[string]int)
	}
	h.joining[user]++
	return true
}

func (h *Hub) releaseSessionConn(user string) {
	h.mu.Lock()
	h.releaseSessionConnLocked(user)
	h.mu.Unlock()
}

func (h *Hub) releaseSessionConnLocked(user string) {
	if n := h.joining[user] - 1; n > 0 {
		h.joining[user] = n
	} else {
		delete(h.joining, user)
	}
}

// tellSession sends payload to this process's connections of user but
// the one whose id is skip.
func (h *Hub) tellSession(user string, payload []byte, skip uint64) {
	frame := textFrame(payload)
	h.mu.Lock()
	defer h.mu.Unlock()
	for oc := range h.users.conns(user) {
		if oc.ID != skip {
			oc.Send(frame) // only queues; the transport lock comes after h.mu (locks.go)
		}
	}
}

// endSession ends the requester's session at its request: the user is
// deleted, so the token stops working; every connection of the session,
// on every process, gets session_ended and is closed with 4003; and the
// user leaves every room (the others see member_left, reason left).
func (h *Hub) endSession(c *conn, req *wire.Request) {
	ctx := h.ctx
	left, err := h.store.DeleteUser(ctx, c.user, h.clock.Now())
	if err != nil && !errors.Is(err, ErrNotFound) { // not found: ended already
		c.replyError(req.ID, h.codeOf(c, "delete user", err), "")
		return
	}
	if err == nil {
		h.stats.usersEnded.Add(1)
		h.guard.dropUser(c.user)
		h.log.Debug("session ended", "conn", c.ID, "user", c.user, "rooms", len(left))
	}
	c.reply(wire.OK(nil, req.ID))
	// This process's connections of the session at once, and those of
	// the others through the broker: ahead of the departures, so that
	// they see nothing more of the rooms, not even their own departure.
	payload := wire.SessionEnded(nil)
	h.closeSession(c.user, payload)
	if h.broker != nil {
		h.publish(&wire.Envelope{Kind: wire.KindEnded, User: c.user, Payload: payload})
	}
	for _, res := range left {
		lk := h.roomLock(res.Room)
		lk.Lock()
		h.publishLeave(res, ReasonLeft, 0)
		lk.Unlock()
	}
}

// closeSession ends this process's connections of user, whose session
// ended: they stop receiving their rooms' events, get payload (the
// session_ended event) and are closed with 4003. A connection closing
// already takes nothing more, so a second call does nothing.
func (h *Hub) closeSession(user string, payload []byte) {
	frame := textFrame(payload)
	h.mu.Lock()
	h.sessionsEnded.Add(1) // under h.mu: see addSessionConn
	conns := slices.Collect(h.users.conns(user))
	for _, sc := range conns {
		for _, room := range sc.rooms.list() {
			h.unsubscribeLocked(room, sc)
		}
		sc.Send(frame) // only queues; the transport lock comes after h.mu (locks.go)
	}
	h.mu.Unlock()
	for _, sc := range conns {
		sc.CloseWith(closeSessionEnded, "session ended")
	}
}

// userLife is how long after its last connection to this process a user
// that this process created is counted against its address at most: by
// then the Store has forgotten it (see WithMaxUsersPerAddr).
func (h *Hub) userLife() time.Duration {
	return h.cfg.grace + h.cfg.seatlessIdle + 2*storeSweepEvery
}

package epchat

import (
	"context"
	"errors"
	"hash/maphash"
	"iter"
	"slices"
	"time"

	"github.com/epchat-go/epchat/internal/ids"
	"github.com/epchat-go/epchat/internal/wire"
)

// The fan-out seam. Everything that reaches the members of a room is
// published as an envelope (broker.go) and applied by every process serving
// the room: apply calls fanout (every subscribed connection) or deliverTo
// (one member's connections), and changes the subscriptions to follow
// membership (subs.go).

// follow subscribes to room the connections of user on this process that
// are not yet, and sends them the join's event: a process that serves the
// room already did both for the connections it had (KindJoined), and one
// that did not learns of the join here only. The Broker's first events of
// the room may be missed meanwhile, as the joiner's members can tell by
// seq.
//
// It runs on the Broker's delivery goroutine, which must not wait: the
// subscription's confirmation comes on it (a redisstore Broker reads its
// connection there), and every room's events on this process queue behind
// it. So the wait, and the look at the Store after it (stillSeated),
// run on a goroutine of their own.
func (h *Hub) follow(room, user string, payload []byte, skip uint64) {
	h.subscribeChecked(room, user, textFrame(payload), skip)
}

// joinedElsewhere subscribes to room the connections of user on this
// process that are not yet, as a join's event (KindJoined) comes. The
// joining process subscribed its own at the join, so those that are not
// subscribed yet are on other processes, or were let go of since: a kick
// or a close racing the join, whose event, published by another process,
// may reach the processes before the join's. Then a look at the Store
// (stillSeated, on a goroutine of its own as for follow) lets go of the
// room again for a user no longer seated, instead of keeping a kicked
// member's connections subscribed.
func (h *Hub) joinedElsewhere(room, user string) {
	h.subscribeChecked(room, user, nil, 0)
}

// subscribeChecked subscribes to room the connections of user on this
// process that are not yet, sends each but skip frame (when not nil), and
// with a RoomBroker, once the subscription took effect, checks them
// against the Store (stillSeated), on a goroutine of its own.
//
// A join's event may come after the event of a kick (or the room's close)
// that followed the join, published by another process: subscribing first
// and checking after would give the kicked member's connections the
// room's events until the check's answer. So when this process applied
// such a kick of the user (or a close of the room) in the last minute
// (noteRemovedLocked), the Store is asked first, and the connections are
// subscribed only if the user holds the seat (a member kicked and invited
// again), and then checked after as well. A leave is not noted: the
// leaver's own late join event costs its connections the room's events of
// one Store round trip, not a kicked member's, and leaves are many.
func (h *Hub) subscribeChecked(room, user string, frame []byte, skip uint64) {
	h.mu.Lock()
	removed := h.removedLocked(room, user)
	h.mu.Unlock()
	if !removed {
		h.subscribeThenCheck(room, user, frame, skip)
		return
	}
	h.followers.Go(func() {
		if _, _, read, seated := h.readSeat(room, user); read && seated {
			h.subscribeThenCheck(room, user, frame, skip)
		}
	})
}

// removedFor is how long noteRemovedLocked remembers a departure.
const removedFor = time.Minute

// noteRemovedLocked remembers that this process applied the kick of user
// from room from the Broker (user "": the room's close). h.mu is held.
func (h *Hub) noteRemovedLocked(room, user string) {
	if h.roomBroker == nil {
		return
	}
	now := h.clock.Now().UnixNano()
	if len(h.removed) >= 4096 {
		for k, at := range h.removed {
			if now-at > int64(removedFor) {
				delete(h.removed, k)
			}
		}
		if len(h.removed) >= 4096 {
			clear(h.removed) // a burst: forgetting costs a few ms of events
		}
	}
	if h.removed == nil {
		h.removed = make(map[roomUser]int64)
	}
	h.removed[roomUser{room, user}] = now
}

// removedLocked tells whether noteRemovedLocked noted a kick of user from
// room, or the room's close, in the last minute. h.mu is held.
func (h *Hub) removedLocked(room, user string) bool {
	now := h.clock.Now().UnixNano()
	for _, k := range [2]roomUser{{room, user}, {room, ""}} {
		if at, ok := h.removed[k]; ok && now-at <= int64(removedFor) {
			return true
		}
	}
	return false
}

// roomUser names a user in a room.
type roomUser struct{ room, user string }

// subscribeThenCheck is subscribeChecked's work once decided: subscribe,
// then check after (stillSeated).
func (h *Hub) subscribeThenCheck(room, user string, frame []byte, skip uint64) {
	var (
		ready <-chan struct{}
		added []*conn
	)
	h.mu.Lock()
	for c := range h.users.conns(user) {
		if c.rooms.has(room) {
			continue
		}
		if r := h.subscribeLocked(room, c); r != nil {
			ready = r
		}
		added = append(added, c)
		if frame != nil && c.ID != skip {
			c.Send(frame)
		}
	}
	h.mu.Unlock()
	if len(added) == 0 || h.roomBroker == nil {
		return
	}
	h.followers.Go(func() {
		h.awaitServed(ready)
		h.stillSeated(room, user, added)
	})
}

// reasonGone is room_left's reason for a connection that was told of a
// join (its own, or another connection's of its session: follow) and whose
// user then holds the seat no more: removed on another process (a leave, a
// kick, the room's close) before this process's subscription to the room
// took effect, so that this process never saw the event (stillSeated).
const reasonGone = "gone"

// stillSeated tells whether user holds a seat in room, as the Store says
// once this process's subscription to the room took effect (readSeat), and
// lets go of the room for the connections of conns (all of the user's on
// this process when nil) when not (letGo).
func (h *Hub) stillSeated(room, user string, conns []*conn) bool {
	_, _, _, seated := h.readSeat(room, user)
	if !seated {
		h.letGo(room, user, conns)
	}
	return seated
}

// readSeat reads room from the Store to tell whether user holds a seat
// there, once this process's subscription to the room took effect. A
// removal of the user (a leave, a kick, the room's close) on another
// process between the join and then was published to the room's
// subscribers, which this process was not yet, or was but without the
// user's connections; whatever the Store says now was done before, or its
// event comes after. A Store that fails to answer (read false) is taken to
// say yes.
func (h *Hub) readSeat(room, user string) (r Room, members []Member, read, seated bool) {
	r, members, err := h.store.Room(h.ctx, room)
	switch {
	case err == nil:
		return r, members, true, hasMember(members, user)
	case errors.Is(err, ErrNotFound):
		return r, nil, true, false
	}
	if h.ctx.Err() == nil {
		h.log.Error("read a joined room", "room", room, "err", err)
	}
	return r, nil, false, true
}

// letGo unsubscribes from room the connections of conns (all of user's on
// this process when nil) that are subscribed to it, and that no event let
// go of since, and tells them room_left with reason gone.
func (h *Hub) letGo(room, user string, conns []*conn) {
	left := textFrame(wire.RoomLeft(nil, room, reasonGone))
	h.mu.Lock()
	if conns == nil {
		conns = slices.Collect(h.users.conns(user))
	}
	n := 0
	for _, c := range conns {
		if c.rooms.has(room) {
			h.unsubscribeLocked(room, c)
			c.Send(left)
			n++
		}
	}
	h.mu.Unlock()
	h.log.Debug("joined room gone", "room", room, "conns", n)
}

// hasMember tells whether members lists user.
func hasMember(members []Member, user string) bool {
	return slices.ContainsFunc(members, func(m Member) bool { return m.ID == user })
}

// tellChanges sends c the events that take a room's state it was told
// (before, beforeM: a joined reply's) to the one read later (after,
// afterM): with a Broker the first read comes before this process's
// subscription to the room took effect, and what other processes changed
// in between reached the room's subscribers only. Members gone carry
// reason left, whatever their departure was. An event that also came
// through the subscription comes twice, which member events allow
// (PROTOCOL.md).
func tellChanges(c *conn, before Room, beforeM []Member, after Room, afterM []Member) {
	for _, m := range afterM {
		if !slices.ContainsFunc(beforeM, func(x Member) bool { return x.ID == m.ID }) {
			c.reply(wire.MemberJoined(nil, after.ID, wire.Member{ID: m.ID, Nickname: m.Nickname}))
		}
	}
	for _, m := range beforeM {
		if !slices.ContainsFunc(afterM, func(x Member) bool { return x.ID == m.ID }) {
			c.reply(wire.MemberLeft(nil, after.ID, m.ID, ReasonLeft))
		}
	}
	if after.Owner != before.Owner {
		c.reply(wire.OwnerChanged(nil, after.ID, after.Owner))
	}
	if after.Locked != before.Locked {
		c.reply(wire.LockChanged(nil, after.ID, after.Locked))
	}
}

// publishLeave tells a room about a departure. The room's lock is held.
// skip is the leaving connection, which gets a reply instead (0: none).
func (h *Hub) publishLeave(res LeaveResult, reason string, skip uint64) {
	h.memberLeft(res, reason)
	h.publish(&wire.Envelope{
		Kind:    wire.KindLeft,
		Closed:  res.Closed,
		Skip:    skip,
		Room:    res.Room,
		User:    res.User,
		Payload: wire.MemberLeft(nil, res.Room, res.User, reason),
	})
	if res.NewOwner != "" {
		h.publish(&wire.Envelope{
			Kind:    wire.KindMessage,
			Room:    res.Room,
			Payload: wire.OwnerChanged(nil, res.Room, res.NewOwner),
		})
	}
	h.log.Debug("member left", "room", res.Room, "user", res.User, "reason", reason, "closed", res.Closed)
}

// announceClosed tells the members of a room the Store closed that it is
// closed. It takes the room's lock.
func (h *Hub) announceClosed(room, reason string, seats int) {
	lk := h.roomLock(room)
	lk.Lock()
	defer lk.Unlock()
	h.publishClosed(room, reason, seats)
}

// publishClosed tells a room it is closed, with seats still taken. The
// room's lock is held.
func (h *Hub) publishClosed(room, reason string, seats int) {
	h.roomClosed(room, reason, seats)
	h.publish(&wire.Envelope{Kind: wire.KindClosed, Room: room, Payload: wire.RoomClosed(nil, room, reason)})
	h.log.Debug("room closed", "room", room, "reason", reason)
}

// announceDepartures tells the rooms about users a sweep removed.
func (h *Hub) announceDepartures(deps []Departure) {
	for _, d := range deps {
		for _, res := range d.Left {
			lk := h.roomLock(res.Room)
			lk.Lock()
			h.publishLeave(res, ReasonDisconnected, 0)
			lk.Unlock()
		}
	}
}

// closeRoom closes a room in the Store and tells its members.
func (h *Hub) closeRoom(ctx context.Context, room, reason string) error {
	lk := h.roomLock(room)
	lk.Lock()
	defer lk.Unlock()
	cr, err := h.store.CloseRoom(ctx, room)
	if err != nil {
		return err
	}
	h.publishClosed(room, reason, len(cr.Members))
	return nil
}

func roomState(r Room, members []Member) wire.RoomState {
	st := wire.RoomState{Room: r.ID, Owner: r.Owner, Seq: r.Seq, Locked: r.Locked, Members: make([]wire.Member, len(members))}
	for i, m := range members {
		st.Members[i] = wire.Member{ID: m.ID, Nickname: m.Nickname}
	}
	return st
}

// codeOf maps a Store error to the protocol's error code.
func (h *Hub) codeOf(c *conn, op string, err error) wire.Code {
	switch {
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrNotMember):
		return wire.NotFound
	case errors.Is(err, ErrForbidden):
		return wire.Forbidden
	case errors.Is(err, ErrRoomFull):
		return wire.RoomFull
	case errors.Is(err, ErrInviteInvalid):
		return wire.InviteInvalid
	case errors.Is(err, ErrTooManyInvites):
		return wire.TooManyInvites
	case errors.Is(err, ErrAlreadyMember):
		return wire.AlreadyMember
	case errors.Is(err, ErrTooManyRooms):
		return wire.TooManyRooms
	case errors.Is(err, ErrRoomLocked):
		return wire.RoomLocked
	case errors.Is(err, ErrNicknameTaken):
		return wire.NicknameTaken
	}
	h.log.Error("store failed", "op", op, "conn", c.ID, "err", err)
	return failedCode(err)
}

// failedCode is the error code of a Store failure: unavailable when the
// Store could not reach its server, internal otherwise.
func failedCode(err error) wire.Code {
	if errors.Is(err, ErrUnavailable) {
		return wire.Unavailable
	}
	return wire.Internal
}

// create opens a room with the requester as owner and first member.
func (h *Hub) create(c *conn, req *wire.Request) {
	ctx := h.ctx
	now := h.clock.Now()
	r := Room{ID: ids.Room(), Owner: c.user, Limit: h.cfg.maxMembers, CreatedAt: now, ActiveAt: now}
	owner := Member{ID: c.user, Nickname: c.nick, JoinedAt: now}
	lk := h.roomLock(r.ID)
	lk.Lock()
	defer lk.Unlock()
	h.roomActive(now)
	if err := h.store.CreateRoom(ctx, r, &owner, h.cfg.maxRoomsPerUser); err != nil {
		c.replyError(req.ID, h.codeOf(c, "create", err), "")
		return
	}
	h.awaitServed(h.subscribeUser(r.ID, c.user))
	h.roomOpened(r.ID, ReasonCreate, 1)
	h.memberJoined(r.ID, c.user, ReasonCreate)
	c.reply(wire.State(nil, "joined", req.ID, roomState(r, []Member{owner})))
	h.log.Debug("room opened", "room", r.ID, "owner", c.user)
}

// sendMessage relays a message to the room. The room's lock is held from
// the Store's sequence number to the fan-out, so every member sees the
// room's messages in seq order. With a MessageBatcher the message joins
// the room's next batch (batch.go).
func (h *Hub) sendMessage(c *conn, req *wire.Request) {
	if len(req.Text) > h.cfg.maxMessageSize {
		c.replyError(req.ID, wire.TooLarge, req.Room)
		return
	}
	now := h.clock.Now()
	if h.batcher != nil {
		h.queueSend(c, req, now)
		return
	}
	lk := h.roomLock(req.Room)
	lk.Lock()
	defer lk.Unlock()
	seq, err := h.recordMessage(c, req.Room, req.Text, now)
	if err != nil {
		c.replyError(req.ID, h.codeOf(c, "message", err), req.Room)
		return
	}
	h.stats.messages.Add(1)
	c.reply(wire.Sent(nil, req.ID, req.Room, seq, now.UnixMilli()))
}

// memberOf reads a room for a request and checks the requester is seated.
func (h *Hub) memberOf(ctx context.Context, c *conn, req *wire.Request) (Room, []Member, bool) {
	r, members, err := h.store.Room(ctx, req.Room)
	if err == nil && !hasMember(members, c.user) {
		err = ErrNotMember
	}
	if err != nil {
		c.replyError(req.ID, h.codeOf(c, "room", err), req.Room)
		return Room{}, nil, false
	}
	return r, members, true
}

// members answers with the member list.
func (h *Hub) members(c *conn, req *wire.Request) {
	ctx := h.ctx
	r, members, ok := h.memberOf(ctx, c, req)
	if !ok {
		return
	}
	c.reply(wire.State(nil, "members", req.ID, roomState(r, members)))
}

// leave removes the requester from the room.
func (h *Hub) leave(c *conn, req *wire.Request) {
	ctx := h.ctx
	lk := h.roomLock(req.Room)
	lk.Lock()
	defer lk.Unlock()
	res, err := h.store.Leave(ctx, req.Room, c.user)
	if err != nil {
		c.replyError(req.ID, h.codeOf(c, "leave", err), req.Room)
		return
	}
	c.reply(wire.OK(nil, req.ID))
	h.publishLeave(res, ReasonLeft, c.ID)
}

// closeByOwner closes the room at its owner's request.
func (h *Hub) closeByOwner(c *conn, req *wire.Request) {
	ctx := h.ctx
	lk := h.roomLock(req.Room)
	lk.Lock()
	defer lk.Unlock()
	r, _, ok := h.memberOf(ctx, c, req)
	if !ok {
		return
	}
	if r.Owner != c.user {
		c.replyError(req.ID, wire.Forbidden, req.Room)
		return
	}
	cr, err := h.store.CloseRoom(ctx, req.Room)
	if err != nil {
		c.replyError(req.ID, h.codeOf(c, "close", err), req.Room)
		return
	}
	c.reply(wire.OK(nil, req.ID))
	h.publishClosed(req.Room, ReasonOwner, len(cr.Members))
}

// history relays the owner's copy of the conversation to one member.
func (h *Hub) history(c *conn, req *wire.Request) {
	if len(req.Data) > h.cfg.maxMessageSize {
		c.replyError(req.ID, wire.TooLarge, req.Room)
		return
	}
	ctx := h.ctx
	lk := h.roomLock(req.Room)
	lk.Lock()
	defer lk.Unlock()
	r, members, ok := h.memberOf(ctx, c, req)
	if !ok {
		return
	}
	if r.Owner != c.user {
		c.replyError(req.ID, wire.Forbidden, req.Room)
		return
	}
	if req.To == c.user || !hasMember(members, req.To) {
		c.replyError(req.ID, wire.NotFound, req.Room)
		return
	}
	h.stats.histories.Add(1)
	h.publish(&wire.Envelope{
		Kind:    wire.KindDirect,
		Room:    req.Room,
		To:      req.To,
		Payload: wire.History(nil, req.Room, c.user, req.Data),
	})
	c.reply(wire.OK(nil, req.ID))
}

// userIndex finds a user's connections on this process; the Hub's mu
// guards it. Nearly every user has one connection, kept in one, a table of
// connections by their user (8 bytes a slot, where a map's slot would
// hold the id too), with no slice; more holds the further ones of users
// with several (browser tabs). A connection's user never changes while it
// is indexed. Its zero value is ready for use.
type userIndex struct {
	one  ptrTable[conn]
	more map[string][]*conn
	seed maphash.Seed
}

// first returns the user's connection in one, or nil.
func (u *userIndex) first(user string) *conn {
	if u.one.n == 0 {
		return nil
	}
	return u.one.find(maphash.String(u.seed, user), func(c *conn) bool { return c.user == user })
}

// add indexes c, a connection of user (c.user).
func (u *userIndex) add(user string, c *conn) {
	if u.first(user) == nil {
		if u.one.hash == nil {
			seed := maphash.MakeSeed()
			u.seed, u.one.hash = seed, func(c *conn) uint64 { return maphash.String(seed, c.user) }
		}
		u.one.add(c)
		return
	}
	if u.more == nil {
		u.more = make(map[string][]*conn)
	}
	u.more[user] = append(u.more[user], c)
}

func (u *userIndex) remove(user string, c *conn) {
	more := u.more[user]
	if u.first(user) == c {
		u.one.remove(c)
		if len(more) == 0 {
			return
		}
		var next *conn
		next, more = more[len(more)-1], more[:len(more)-1]
		u.one.add(next)
	} else {
		more = slices.DeleteFunc(more, func(x *conn) bool { return x == c })
	}
	if len(more) == 0 {
		delete(u.more, user)
	} else {
		u.more[user] = more
	}
}

// has reports whether the user has a connection here.
func (u *userIndex) has(user string) bool { return u.first(user) != nil }

// conns yields the user's connections.
func (u *userIndex) conns(user string) iter.Seq[*conn] {
	return func(yield func(*conn) bool) {
		c := u.first(user)
		if c == nil || !yield(c) {
			return
		}
		for _, c := range u.more[user] {
			if !yield(c) {
				return
			}
		}
	}
}

package epchat

import (
	"context"
	"errors"

	"github.com/epchat-go/epchat/internal/wire"
)

// Owner moderation: kick, lock and unlock, from a room's owner over the
// wire or from the host through the Go API. The rules themselves (only the
// owner, the seat freed and the pending invites revoked in one step) are
// the Store's; the Hub tells the members.

// kick removes a member at the owner's request.
func (h *Hub) kick(c *conn, req *wire.Request) {
	if req.Room == "" || req.Member == "" {
		c.refuse(req.ID, wire.BadRequest, req.Room)
		return
	}
	if req.Member == c.user {
		// An owner leaves with leave; nobody else may kick themselves.
		c.replyError(req.ID, wire.NotFound, req.Room)
		return
	}
	ctx := h.ctx
	lk := h.roomLock(req.Room)
	lk.Lock()
	defer lk.Unlock()
	res, err := h.store.Kick(ctx, req.Room, c.user, req.Member)
	if err != nil {
		h.refuseModeration(c, req, "kick", err)
		return
	}
	c.reply(wire.OK(nil, req.ID))
	h.publishKick(res)
}

// lockByOwner locks or unlocks the room at the owner's request.
func (h *Hub) lockByOwner(c *conn, req *wire.Request, locked bool) {
	if req.Room == "" {
		c.refuse(req.ID, wire.BadRequest, "")
		return
	}
	ctx := h.ctx
	lk := h.roomLock(req.Room)
	lk.Lock()
	defer lk.Unlock()
	if err := h.store.SetLocked(ctx, req.Room, c.user, locked); err != nil {
		h.refuseModeration(c, req, req.Type, err)
		return
	}
	c.reply(wire.OK(nil, req.ID))
	h.publishLock(req.Room, locked)
}

// refuseModeration answers a kick, lock or unlock the Store refused.
func (h *Hub) refuseModeration(c *conn, req *wire.Request, op string, err error) {
	if errors.Is(err, ErrForbidden) {
		// The Store refuses anyone but the owner; a stranger must not
		// learn that the room exists (PROTOCOL.md).
		if _, _, ok := h.memberOf(h.ctx, c, req); !ok {
			return
		}
	}
	c.replyError(req.ID, h.codeOf(c, op, err), req.Room)
}

// publishKick tells a room about a member removed by its owner or the
// host: the member's connections get room_left, the others member_left.
// The room's lock is held.
func (h *Hub) publishKick(res LeaveResult) {
	h.memberLeft(res, ReasonKicked)
	h.publish(&wire.Envelope{
		Kind:    wire.KindKicked,
		Closed:  res.Closed,
		Room:    res.Room,
		User:    res.User,
		Payload: wire.MemberLeft(nil, res.Room, res.User, ReasonKicked),
	})
	if res.NewOwner != "" {
		h.publish(&wire.Envelope{
			Kind:    wire.KindMessage,
			Room:    res.Room,
			Payload: wire.OwnerChanged(nil, res.Room, res.NewOwner),
		})
	}
	h.log.Debug("member kicked", "room", res.Room, "user", res.User, "closed", res.Closed)
}

// publishLock tells every member that the room was locked or unlocked.
// The room's lock is held.
func (h *Hub) publishLock(room string, locked bool) {
	h.roomLockChanged(room, locked)
	h.publish(&wire.Envelope{
		Kind:    wire.KindMessage,
		Room:    room,
		Payload: wire.LockChanged(nil, room, locked),
	})
	h.log.Debug("room lock changed", "room", room, "locked", locked)
}

// applyKick delivers a kick on this process: room_left to the kicked
// member's connections, the member_left of ev to the others, and then the
// kicked member's connections receive nothing more of the room. The sends
// and the kicked member's unsubscription are one step under the room's
// shard, so that no event of the room comes between them.
func (h *Hub) applyKick(ev *wire.Envelope) {
	left := textFrame(wire.RoomLeft(nil, ev.Room, ReasonKicked))
	others := textFrame(ev.Payload)
	h.mu.Lock()
	h.noteRemovedLocked(ev.Room, ev.User)
	s := h.subs.shard(ev.Room)
	s.mu.Lock()
	subs := s.m[ev.Room]
	n := len(subs)
	for _, c := range subs {
		if c.user == ev.User {
			c.Send(left)
		} else {
			c.Send(others)
		}
	}
	for c := range h.users.conns(ev.User) {
		if s.remove(ev.Room, c) && h.roomBroker != nil {
			h.roomBroker.Unserve(ev.Room)
		}
	}
	s.mu.Unlock()
	for c := range h.users.conns(ev.User) {
		c.rooms.remove(ev.Room)
	}
	if ev.Closed {
		h.dropRoomLocked(ev.Room)
	}
	h.mu.Unlock()
	h.stats.deliveries.Add(uint64(n))
}

// KickMember removes member from room as its owner would with kick: the
// member's connections get room_left with reason kicked and receive
// nothing more of the room, the others get member_left with reason
// kicked, the seat is free at once, and every invite of the room pending
// now is revoked, so that no link made before the kick seats anyone; a
// new invite can readmit the member. The host may kick the owner, whose
// seat passes as if they had left, or the last member, which closes the
// room. ErrNotFound if there is no such room, ErrNotMember if member
// holds no seat there.
func (h *Hub) KickMember(ctx context.Context, room, member string) error {
	lk := h.roomLock(room)
	lk.Lock()
	defer lk.Unlock()
	res, err := h.store.Kick(ctx, room, "", member)
	if err != nil {
		return err
	}
	h.publishKick(res)
	return nil
}

// LockRoom locks room as its owner would with lock: every member gets
// room_locked, and until UnlockRoom new invites are refused, and joins
// with the room's invites get ErrRoomLocked (room_locked on the wire)
// without spending them. Members stay and keep chatting. Locking a locked
// room is not an error. ErrNotFound if there is no such room.
func (h *Hub) LockRoom(ctx context.Context, room string) error {
	return h.setLocked(ctx, room, true)
}

// UnlockRoom undoes LockRoom (or an owner's lock): every member gets
// room_locked with locked false, and invites not yet expired work again.
// ErrNotFound if there is no such room.
func (h *Hub) UnlockRoom(ctx context.Context, room string) error {
	return h.setLocked(ctx, room, false)
}

func (h *Hub) setLocked(ctx context.Context, room string, locked bool) error {
	lk := h.roomLock(room)
	lk.Lock()
	defer lk.Unlock()
	if err := h.store.SetLocked(ctx, room, "", locked); err != nil {
		return err
	}
	h.publishLock(room, locked)
	return nil
}

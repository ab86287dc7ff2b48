package epchat

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// hookQueueSize is how many hook calls may wait for the hook goroutine;
// beyond it new ones are dropped.
const hookQueueSize = 1024

// Hooks are functions the Hub calls when rooms open and close and members
// come and go: for an audit trail, metrics by room, billing. Each is
// optional. Set them with WithHooks.
//
// An event carries ids, counts and reasons, never a nickname, a text or a
// token. Its ids are the room and member ids clients see.
//
// How hooks are called: by one goroutine that New starts, one call at a
// time, in the order the events happened; a room's events come in the
// order its members saw them. The Hub never waits for a hook and never
// calls one with a lock held: it queues the call (up to 1024 calls wait)
// and goes on. While the queue is full, because the hooks are slower than
// the events, new calls are dropped and counted in Stats.HooksDropped.
// Shutdown stops the queue, waits until the calls queued are made (or
// until its context is done: the rest is then dropped and counted), and
// returns; the Hub makes no call after Shutdown returned, and drops the
// events of Hub methods called after it. A hook that panics is recovered
// and logged, and the calls after it are made.
//
// With several Hub processes, an event is seen by the process where it
// happened: the one that served the request, or whose sweep applied the
// time rule.
type Hooks struct {
	// RoomOpened is called when a room opens, with reason ReasonCreate
	// or ReasonHost.
	RoomOpened func(RoomEvent)
	// RoomClosed is called when a room closes, with reason ReasonOwner,
	// ReasonIdle, ReasonEmpty, ReasonHost, ReasonShutdown or ReasonLost.
	// Members is the number of seats still taken when it closed (0 when
	// empty): those members get no MemberLeft.
	RoomClosed func(RoomEvent)
	// MemberJoined is called when a seat is taken, with reason
	// ReasonCreate or ReasonInvite.
	MemberJoined func(MemberEvent)
	// MemberLeft is called when a member leaves a room, with reason
	// ReasonLeft, ReasonDisconnected or ReasonKicked. A room whose last
	// member left then closes with reason ReasonEmpty.
	MemberLeft func(MemberEvent)
	// InviteRedeemed is called when a join redeems an invite.
	InviteRedeemed func(InviteEvent)
	// RoomLocked is called when a room is locked or unlocked: by its
	// owner's lock or unlock, or by Hub.LockRoom or Hub.UnlockRoom. It is
	// called for every such request, even one that leaves the room as it
	// was.
	RoomLocked func(LockEvent)
}

// The reasons of RoomEvent and MemberEvent. Those of a room closing are
// the reason of the room_closed event clients get, and those of a member
// leaving the reason of member_left (PROTOCOL.md), except ReasonEmpty,
// which no client sees: nobody is left to tell.
const (
	// ReasonCreate: a room opened by a member's create request (Members
	// is 1, and MemberJoined follows for the creator), and that creator's
	// seat.
	ReasonCreate = "create"
	// ReasonHost: a room opened by Hub.CreateRoom (Members is 0), or
	// closed by Hub.CloseRoom.
	ReasonHost = "host"
	// ReasonInvite: a seat taken by redeeming an invite (after
	// InviteRedeemed).
	ReasonInvite = "invite"
	// ReasonOwner: a room its owner closed.
	ReasonOwner = "owner"
	// ReasonIdle: a room closed after the room idle timeout without a
	// message.
	ReasonIdle = "idle"
	// ReasonEmpty: a room closed because its last member left.
	ReasonEmpty = "empty"
	// ReasonShutdown: a room closed by Shutdown of a Hub that serves its
	// rooms alone (no Broker).
	ReasonShutdown = "shutdown"
	// ReasonLost: a room closed because the Store lost its data (see
	// LossWatcher).
	ReasonLost = "lost"
	// ReasonLeft: a member that sent leave, or ended its session with
	// end_session.
	ReasonLeft = "left"
	// ReasonDisconnected: a member whose connections went away and did not
	// come back within the reconnect grace, or whose user was forgotten.
	ReasonDisconnected = "disconnected"
	// ReasonKicked: a member removed by the owner's kick or by
	// Hub.KickMember.
	ReasonKicked = "kicked"
)

func (hk Hooks) any() bool {
	return hk.RoomOpened != nil || hk.RoomClosed != nil || hk.MemberJoined != nil ||
		hk.MemberLeft != nil || hk.InviteRedeemed != nil || hk.RoomLocked != nil
}

// RoomEvent is a room opening or closing.
type RoomEvent struct {
	// Room is the room id.
	Room string
	// Reason says why; see Hooks.
	Reason string
	// Members is the number of seats taken at that moment.
	Members int
	// At is the time of the event, on the Hub's clock.
	At time.Time
}

// MemberEvent is a member joining or leaving a room.
type MemberEvent struct {
	// Room is the room id.
	Room string
	// MemberID is the member's public id.
	MemberID string
	// Reason says why; see Hooks.
	Reason string
	// At is the time of the event, on the Hub's clock.
	At time.Time
}

// InviteEvent is an invite redeemed.
type InviteEvent struct {
	// Room is the id of the room the invite was for.
	Room string
	// MemberID is the public id of the member who redeemed it.
	MemberID string
	// Owner reports that the redeemer is the room's owner: an owner invite
	// made by Hub.CreateRoom.
	Owner bool
	// At is the time of the event, on the Hub's clock.
	At time.Time
}

// LockEvent is a room locked or unlocked.
type LockEvent struct {
	// Room is the room id.
	Room string
	// Locked is the room's state now: true when it was locked.
	Locked bool
	// At is the time of the event, on the Hub's clock.
	At time.Time
}

// WithHooks sets the functions called when rooms open and close and
// members join and leave. See Hooks for how they are called. Default: none.
func WithHooks(hk Hooks) Option { return func(c *config) { c.hooks = hk } }

// hookRunner is the queue of hook calls and the goroutine that makes them.
type hookRunner struct {
	mu      sync.RWMutex // held to send on queue (read) and to close it (write)
	closed  bool
	queue   chan func()
	done    chan struct{} // closed when the goroutine returns
	abandon atomic.Bool   // Shutdown gave up waiting: drop the rest
}

// startHooks starts the hook goroutine, if there is any hook.
func (h *Hub) startHooks() {
	if !h.cfg.hooks.any() {
		return
	}
	r := &h.hooks
	r.queue = make(chan func(), hookQueueSize)
	r.done = make(chan struct{})
	go h.runHooks()
}

func (h *Hub) runHooks() {
	r := &h.hooks
	defer close(r.done)
	for call := range r.queue {
		if r.abandon.Load() {
			h.stats.hooksDropped.Add(1)
			continue
		}
		h.callHook(call)
	}
}

func (h *Hub) callHook(call func()) {
	defer func() {
		if v := recover(); v != nil {
			h.log.Error("hook panicked", "panic", v)
		}
	}()
	call()
}

// emit queues a hook call; it never blocks.
func (h *Hub) emit(call func()) {
	r := &h.hooks
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		h.stats.hooksDropped.Add(1)
		return
	}
	select {
	case r.queue <- call:
	default:
		h.stats.hooksDropped.Add(1)
	}
}

// stopHooks closes the queue and waits, until ctx is done, for the calls
// queued to be made.
func (h *Hub) stopHooks(ctx context.Context) error {
	r := &h.hooks
	if r.queue == nil {
		return nil
	}
	r.mu.Lock()
	r.closed = true
	close(r.queue)
	r.mu.Unlock()
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		r.abandon.Store(true)
		h.log.Warn("hooks still running at shutdown; dropping the rest", "queued", len(r.queue))
		return ctx.Err()
	}
}

// The lifecycle of rooms and members: each function counts the event in
// Stats and queues its hook. They are called with the room's lock held (or,
// for a room the host opens, before anyone knows the room), so a room's
// hooks are queued in the order of its events.

// roomOpened counts a room opened with seats taken.
func (h *Hub) roomOpened(room, reason string, seats int) {
	h.stats.roomsOpened.Add(1)
	if f := h.cfg.hooks.RoomOpened; f != nil {
		ev := RoomEvent{Room: room, Reason: reason, Members: seats, At: h.clock.Now()}
		h.emit(func() { f(ev) })
	}
}

// roomClosed counts a room closed with seats still taken.
func (h *Hub) roomClosed(room, reason string, seats int) {
	h.stats.roomsClosed[roomReasonIndex(reason)].Add(1)
	h.stats.seatsClosed.Add(uint64(seats))
	if f := h.cfg.hooks.RoomClosed; f != nil {
		ev := RoomEvent{Room: room, Reason: reason, Members: seats, At: h.clock.Now()}
		h.emit(func() { f(ev) })
	}
}

// memberJoined counts a seat taken.
func (h *Hub) memberJoined(room, user, reason string) {
	h.stats.membersJoined.Add(1)
	if f := h.cfg.hooks.MemberJoined; f != nil {
		ev := MemberEvent{Room: room, MemberID: user, Reason: reason, At: h.clock.Now()}
		h.emit(func() { f(ev) })
	}
}

// memberLeft counts a departure, and the room's closing if it was the last
// member.
func (h *Hub) memberLeft(res LeaveResult, reason string) {
	h.stats.membersLeft[leaveReasonIndex(reason)].Add(1)
	if f := h.cfg.hooks.MemberLeft; f != nil {
		ev := MemberEvent{Room: res.Room, MemberID: res.User, Reason: reason, At: h.clock.Now()}
		h.emit(func() { f(ev) })
	}
	if res.Closed {
		h.roomClosed(res.Room, ReasonEmpty, 0)
		h.log.Debug("room closed", "room", res.Room, "reason", ReasonEmpty)
	}
}

// roomLockChanged counts a room locked or unlocked.
func (h *Hub) roomLockChanged(room string, locked bool) {
	if locked {
		h.stats.roomsLocked.Add(1)
	} else {
		h.stats.roomsUnlocked.Add(1)
	}
	if f := h.cfg.hooks.RoomLocked; f != nil {
		ev := LockEvent{Room: room, Locked: locked, At: h.clock.Now()}
		h.emit(func() { f(ev) })
	}
}

// inviteRedeemed counts an invite redeemed and the seat it gave.
func (h *Hub) inviteRedeemed(room, user string, owner bool) {
	h.stats.invitesRedeemed.Add(1)
	if f := h.cfg.hooks.InviteRedeemed; f != nil {
		ev := InviteEvent{Room: room, MemberID: user, Owner: owner, At: h.clock.Now()}
		h.emit(func() { f(ev) })
	}
	h.memberJoined(room, user, ReasonInvite)
}

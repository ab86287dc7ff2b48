package epchat

import (
	"context"
	"time"

	"github.com/epchat-go/epchat/internal/wire"
)

// Broker carries room events between Hub processes that share a Store, so
// that a member connected to one process chats with members connected to
// another. Without one (the default), a Hub delivers events straight to its
// own connections and assumes it serves its rooms alone.
//
// Messages are opaque bytes, at most a few times MaxMessageSize long. A
// Broker must deliver every message published by any process to every
// subscribed process (the publisher included), and the messages of one
// publisher in the order it published them. It need not order messages
// of different publishers.
//
// The redisstore module has a Broker on Redis pub/sub.
type Broker interface {
	// Publish sends msg, an event of room, to every subscribed process.
	// room is "" for an event about a user rather than a room (a session
	// ended everywhere).
	Publish(ctx context.Context, room string, msg []byte) error
	// Subscribe makes the broker call deliver for every published message,
	// from one goroutine at a time, until the returned function is called.
	// The Hub calls Subscribe once, in New, and the stop function in
	// Shutdown. deliver may keep neither room nor msg after it returns.
	Subscribe(deliver func(room string, msg []byte)) (stop func(), err error)
}

// StoreChecker may be implemented by a Broker that works with some Stores
// only: New calls CheckStore once and fails with its error. (redisstore's
// Broker refuses a redisstore Store of another deployment, whose processes
// it would never let hear each other.)
type StoreChecker interface {
	Broker
	CheckStore(store Store) error
}

// MessagePublisher may be implemented by a Broker that keeps each room's
// seq next to the Store's data (redisstore's Broker does): the Hub then
// has it take a message's seq and publish the message event in one atomic
// step, instead of Store.Message and then Publish. A message costs one
// round trip, and no seq is ever taken without its event published.
type MessagePublisher interface {
	Broker
	// Keeps reports whether PublishMessage records messages where store
	// keeps the rooms, so that it may stand for store.Message. The Hub
	// asks once, in New; if false it uses Message and Publish.
	Keeps(store Store) bool
	// PublishMessage does what store.Message(ctx, room, user, now) does
	// and, in the same atomic step, publishes as Publish would the event
	// made of head, the new seq in decimal, and tail. It returns the seq,
	// and Message's errors.
	PublishMessage(ctx context.Context, room, user string, now time.Time, head, tail []byte) (uint64, error)
}

// MessageBatcher may be implemented by a MessagePublisher that records
// several messages of one room in one atomic step (redisstore's Broker
// does). The Hub then gathers the sends that come for a room while its
// previous ones are on their way and records them together: a busy room
// costs one round trip for many messages, and each member receives them in
// one write.
//
// The Hub calls PublishMessages for a room one call at a time, under the
// room's lock, so an implementation may keep the last call of each room to
// answer a call sent again after a lost reply, as PublishMessage may.
type MessageBatcher interface {
	MessagePublisher
	// PublishMessages does what PublishMessage does for each of msgs, in
	// order, in one atomic step, with now as the time of them all. It sets
	// each message's Seq, or its Err to ErrNotMember when the message's
	// user holds no seat (the others are recorded all the same); an error
	// it returns (ErrNotFound, a lost connection) is every message's, and
	// then none is recorded. The events of the messages recorded go out as
	// one Publish, each as its length in decimal, a colon and the event
	// (Head, the seq in decimal, Tail), one after the other, in seq order.
	PublishMessages(ctx context.Context, room string, now time.Time, msgs []BatchMessage) error
}

// BatchMessage is one message of a MessageBatcher call: the sender's user
// id and its event's parts in, its seq or error out.
type BatchMessage struct {
	User       string
	Head, Tail []byte
	Seq        uint64
	Err        error
}

// RoomBroker may be implemented by a Broker that delivers to a process
// only the events of the rooms and users that process serves
// (redisstore's Broker does, with a subscription per room and per user):
// the Hub tells it which. A process then receives nothing of the rooms
// and users it has no connection of. For each room, Serve and Unserve
// alternate, one call at a time; calls for different rooms may come
// concurrently.
type RoomBroker interface {
	Broker
	// Serve is called when this process gains its first connection
	// subscribed to room. It is called under a lock of the Hub and must
	// not block. Every event of room published after the returned channel
	// is closed reaches this process.
	Serve(room string) (ready <-chan struct{})
	// Unserve is called when this process loses its last connection
	// subscribed to room, under a lock of the Hub: it must not block.
	Unserve(room string)
	// ServeUser is called when this process gains its first identified
	// connection of user, under a lock of the Hub: it must not block.
	// Every message published with PublishUser for user after the
	// returned channel is closed reaches this process.
	ServeUser(user string) (ready <-chan struct{})
	// UnserveUser is called when this process loses its last connection
	// of user, under a lock of the Hub: it must not block.
	UnserveUser(user string)
	// PublishUser sends msg to every process serving user. The Hub sends
	// this way what the user's connections on other processes must learn
	// although those processes may serve none of the user's rooms: that
	// the user joined a room (so that they start serving it), a history
	// the room's owner sends the user, and the events about a user rather
	// than a room (a session ended, or connected again).
	PublishUser(ctx context.Context, user string, msg []byte) error
}

// serveWait bounds how long a request waits for a RoomBroker's new
// subscription before it goes on (and may miss the room's first events).
const serveWait = 5 * time.Second

// awaitServed waits for a RoomBroker's subscription (nil: nothing to wait
// for).
func (h *Hub) awaitServed(ready <-chan struct{}) {
	if ready == nil {
		return
	}
	t := time.NewTimer(serveWait)
	defer t.Stop()
	select {
	case <-ready:
	case <-t.C:
		h.log.Error("broker: room subscription not confirmed", "after", serveWait)
	case <-h.ctx.Done():
	}
}

// recordMessage takes the message's seq and publishes it: in one step
// when the Broker is a MessagePublisher of the Store, otherwise with
// Store.Message then publish. The room's lock is held.
func (h *Hub) recordMessage(c *conn, room, text string, now time.Time) (uint64, error) {
	ts := now.UnixMilli()
	h.roomActive(now)
	if h.msgPub != nil {
		head, tail := wire.MessageParts(room, c.user, ts, text)
		head = wire.AppendEnvelope(nil, &wire.Envelope{Kind: wire.KindMessage, Node: h.node, Skip: c.ID, Room: room, Payload: head})
		return h.msgPub.PublishMessage(h.ctx, room, c.user, now, head, tail)
	}
	seq, err := h.store.Message(h.ctx, room, c.user, now)
	if err != nil {
		return 0, err
	}
	h.publish(&wire.Envelope{
		Kind:    wire.KindMessage,
		Skip:    c.ID,
		Room:    room,
		Payload: wire.Message(nil, room, c.user, seq, ts, text),
	})
	return seq, nil
}

// WithBroker sets the Broker that carries room events between Hub
// processes. Default: none; every event stays in this process. With a
// Broker, Shutdown does not close the rooms: other processes go on serving
// them, and members reconnect there within the reconnect grace; and the
// Store sweeper asks the Store every second for members to free after the
// reconnect grace, since those of a process that died are known to the
// Store alone. Without one, the Hub takes itself for its Store's only
// user: it asks when a connection of its own has had the grace, and once
// a minute besides.
func WithBroker(b Broker) Option { return func(c *config) { c.broker = b } }

// publish sends a room event to every process serving the room, this one
// included. Without a broker it is applied at once, under the room's lock
// held by the caller, which keeps a room's events in one order.
func (h *Hub) publish(ev *wire.Envelope) {
	if h.broker == nil {
		h.apply(ev)
		return
	}
	ev.Node = h.node
	ctx := h.ctx
	msg := wire.AppendEnvelope(nil, ev)
	var err error
	switch {
	case h.roomBroker == nil:
		err = h.broker.Publish(ctx, ev.Room, msg)
	case ev.Room == "":
		// About a user rather than a room: wherever it has connections.
		err = h.roomBroker.PublishUser(ctx, ev.User, msg)
	case ev.Kind == wire.KindDirect:
		// For one member's connections: wherever they are, on the
		// member's channel. A process that learned of the member's join
		// from that channel (KindFollow, published on it as the join was
		// told, before the owner could answer it with a history)
		// subscribed their connections to the room at once, though
		// its subscription to the room's channel may not have taken
		// effect yet: on the room's channel the history would be lost for
		// those connections.
		err = h.roomBroker.PublishUser(ctx, ev.To, msg)
	case ev.Kind == wire.KindJoined:
		// The room's processes tell its members; the processes of the
		// joiner's other connections, which may serve none of the room,
		// start serving it (KindFollow). A process that is both subscribes
		// the connections with the first and tells them nothing twice.
		if err = h.broker.Publish(ctx, ev.Room, msg); err == nil {
			follow := *ev
			follow.Kind = wire.KindFollow
			err = h.roomBroker.PublishUser(ctx, ev.User, wire.AppendEnvelope(nil, &follow))
		}
	default:
		err = h.broker.Publish(ctx, ev.Room, msg)
	}
	if err != nil {
		h.log.Error("publish", "room", ev.Room, "err", err)
	}
}

// deliver is the Broker's callback: apply an event some process published.
func (h *Hub) deliver(room string, msg []byte) {
	if wire.IsBatch(msg) {
		h.deliverBatch(room, msg)
		return
	}
	var ev wire.Envelope
	if err := wire.DecodeEnvelope(msg, &ev); err != nil {
		h.log.Error("broker delivered a malformed event", "err", err)
		return
	}
	if ev.Node != h.node {
		ev.Skip = 0 // connection ids are only unique within one process
		if ev.Kind == wire.KindMessage {
			// Its sender's process sweeps the room when it comes idle;
			// this one too, should that process stop.
			h.roomActive(h.clock.Now())
		}
	}
	h.apply(&ev)
}

// apply delivers a room event to this process's connections and updates
// their subscriptions. It is the one place where subscriptions follow
// membership, so it works the same for events from any process.
func (h *Hub) apply(ev *wire.Envelope) {
	switch ev.Kind {
	case wire.KindMessage:
		h.fanout(ev.Room, ev.Payload, ev.Skip)
	case wire.KindJoined:
		h.joinedElsewhere(ev.Room, ev.User)
		h.fanout(ev.Room, ev.Payload, ev.Skip)
	case wire.KindFollow:
		h.follow(ev.Room, ev.User, ev.Payload, ev.Skip)
	case wire.KindLeft:
		h.fanout(ev.Room, ev.Payload, ev.Skip)
		h.mu.Lock()
		for c := range h.users.conns(ev.User) {
			h.unsubscribeLocked(ev.Room, c)
		}
		if ev.Closed {
			h.dropRoomLocked(ev.Room)
		}
		h.mu.Unlock()
	case wire.KindClosed:
		h.fanout(ev.Room, ev.Payload, ev.Skip)
		h.mu.Lock()
		h.noteRemovedLocked(ev.Room, "")
		h.dropRoomLocked(ev.Room)
		h.mu.Unlock()
	case wire.KindDirect:
		h.deliverTo(ev.Room, ev.To, ev.Payload)
	case wire.KindKicked:
		h.applyKick(ev)
	case wire.KindEnded:
		h.closeSession(ev.User, ev.Payload)
	case wire.KindSession:
		h.tellSession(ev.User, ev.Payload, ev.Skip)
	}
}

package epchat

import (
	"context"

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
	Publish(ctx context.Context, room string, msg []byte) error
	// Subscribe makes the broker call deliver for every published message,
	// from one goroutine at a time, until the returned function is called.
	// The Hub calls Subscribe once, in New, and the stop function in
	// Shutdown. deliver may keep neither room nor msg after it returns.
	Subscribe(deliver func(room string, msg []byte)) (stop func(), err error)
}

// WithBroker sets the Broker that carries room events between Hub
// processes. Default: none; every event stays in this process. With a
// Broker, Shutdown does not close the rooms: other processes go on serving
// them, and members reconnect there within the reconnect grace.
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
	if err := h.broker.Publish(ctx, ev.Room, wire.AppendEnvelope(nil, ev)); err != nil {
		h.log.Error("publish", "room", ev.Room, "err", err)
	}
}

// deliver is the Broker's callback: apply an event some process published.
func (h *Hub) deliver(_ string, msg []byte) {
	var ev wire.Envelope
	if err := wire.DecodeEnvelope(msg, &ev); err != nil {
		h.log.Error("broker delivered a malformed event", "err", err)
		return
	}
	if ev.Node != h.node {
		ev.Skip = 0 // connection ids are only unique within one process
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
		h.subscribeUser(ev.Room, ev.User)
		h.fanout(ev.Room, ev.Payload, ev.Skip)
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
		h.dropRoomLocked(ev.Room)
		h.mu.Unlock()
	case wire.KindDirect:
		h.deliverTo(ev.Room, ev.To, ev.Payload)
	case wire.KindKicked:
		h.applyKick(ev)
	}
}

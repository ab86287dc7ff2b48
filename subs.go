package epchat

import (
	"hash/maphash"
	"slices"
)

// Subscriptions: which of this process's connections receive the events
// of which room. A room's subscribers are kept in one of a fixed set of
// shards, each under its own lock, so that a fan-out takes only its
// room's shard and never a lock of the whole Hub: rooms fan out side by
// side. A change of subscriptions takes h.mu too, which guards each
// connection's own list of rooms (conn.rooms) and the user index that
// finds a member's connections: c is in its room's shard exactly when
// the room is in c.rooms, as both change together.
//
// The Broker's Serve and Unserve are called under the room's shard lock,
// as the first subscriber comes and the last goes, so for each room they
// alternate in the order of the subscription changes.

// subscriptions maps room ids to subscribed connections, in shards.
type subscriptions struct {
	seed   maphash.Seed
	shards [64]subShard
}

type subShard struct {
	mu subsMutex
	m  map[string][]*conn // room id -> subscribed connections
	_  [48]byte           // one shard per cache line: rooms' fan-outs do not contend on it
}

func (s *subscriptions) init() { s.seed = maphash.MakeSeed() }

func (s *subscriptions) shard(room string) *subShard {
	return &s.shards[maphash.String(s.seed, room)%uint64(len(s.shards))]
}

// add subscribes c to room, with the shard's lock held, and reports
// whether c is its first subscriber.
func (s *subShard) add(room string, c *conn) (first bool) {
	if s.m == nil {
		s.m = make(map[string][]*conn)
	}
	subs := s.m[room]
	s.m[room] = append(subs, c)
	return len(subs) == 0
}

// remove unsubscribes c from room, with the shard's lock held, and
// reports whether c was its last subscriber.
func (s *subShard) remove(room string, c *conn) (last bool) {
	subs, ok := s.m[room]
	if !ok {
		return false
	}
	subs = slices.DeleteFunc(subs, func(x *conn) bool { return x == c })
	if len(subs) == 0 {
		delete(s.m, room)
		return true
	}
	s.m[room] = subs
	return false
}

// rooms returns the rooms with subscribers, from every shard.
func (s *subscriptions) rooms() []string {
	var out []string
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for r := range sh.m {
			out = append(out, r)
		}
		sh.mu.Unlock()
	}
	return out
}

// served counts the rooms with subscribers.
func (s *subscriptions) served() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

// subscribeLocked makes c receive the events of room. h.mu is held. When
// c is the process's first subscriber of room and the Broker is a
// RoomBroker, it returns the channel closed once the Broker delivers the
// room's events (see awaitServed); otherwise nil.
func (h *Hub) subscribeLocked(room string, c *conn) (ready <-chan struct{}) {
	if c.rooms.has(room) {
		return nil
	}
	s := h.subs.shard(room)
	s.mu.Lock()
	if s.add(room, c) && h.roomBroker != nil {
		ready = h.roomBroker.Serve(room)
	}
	s.mu.Unlock()
	c.rooms.add(room)
	return ready
}

// unsubscribeLocked stops c receiving the events of room. h.mu is held.
func (h *Hub) unsubscribeLocked(room string, c *conn) {
	s := h.subs.shard(room)
	s.mu.Lock()
	if s.remove(room, c) && h.roomBroker != nil {
		h.roomBroker.Unserve(room)
	}
	s.mu.Unlock()
	c.rooms.remove(room)
}

// dropRoomLocked unsubscribes every connection from room. h.mu is held.
func (h *Hub) dropRoomLocked(room string) {
	s := h.subs.shard(room)
	s.mu.Lock()
	subs, ok := s.m[room]
	delete(s.m, room)
	if ok && h.roomBroker != nil {
		h.roomBroker.Unserve(room)
	}
	s.mu.Unlock()
	for _, c := range subs {
		c.rooms.remove(room)
	}
}

// roomSet is the rooms a connection receives the events of. Nearly every
// connection is in one room, kept in one with no allocation; the others
// go in more. Room ids are never empty.
type roomSet struct {
	one  string
	more *[]string
}

func (r *roomSet) has(room string) bool {
	return r.one == room || r.more != nil && slices.Contains(*r.more, room)
}

// add adds room, which r does not hold.
func (r *roomSet) add(room string) {
	switch {
	case r.one == "":
		r.one = room
	case r.more == nil:
		r.more = &[]string{room}
	default:
		*r.more = append(*r.more, room)
	}
}

// remove removes room, if r holds it, freeing more when it empties.
func (r *roomSet) remove(room string) {
	if r.one == room {
		r.one = ""
		if r.more == nil {
			return
		}
		m := *r.more
		r.one, m = m[len(m)-1], m[:len(m)-1]
		*r.more = m
	} else if r.more != nil {
		*r.more = slices.DeleteFunc(*r.more, func(x string) bool { return x == room })
	}
	if r.more != nil && len(*r.more) == 0 {
		r.more = nil
	}
}

// list returns the rooms in a slice of their own, which the caller may
// keep while r changes.
func (r *roomSet) list() []string {
	if r.one == "" {
		return nil
	}
	out := []string{r.one}
	if r.more != nil {
		out = append(out, *r.more...)
	}
	return out
}

// subscribeUser subscribes every local connection of user to room. It
// returns what subscribeLocked does, for awaitServed.
func (h *Hub) subscribeUser(room, user string) (ready <-chan struct{}) {
	h.mu.Lock()
	for c := range h.users.conns(user) {
		if r := h.subscribeLocked(room, c); r != nil {
			ready = r
		}
	}
	h.mu.Unlock()
	return ready
}

// fanout sends one encoded event to every connection subscribed to room
// but the one whose id is skip. The frame is built once and shared. Only
// the room's shard is locked: sending only queues (a connection torn down
// meanwhile takes nothing, see conn.enqueue).
func (h *Hub) fanout(room string, payload []byte, skip uint64) {
	frame := textFrame(payload)
	s := h.subs.shard(room)
	s.mu.Lock()
	n := 0
	for _, c := range s.m[room] {
		if c.ID != skip {
			c.Send(frame)
			n++
		}
	}
	s.mu.Unlock()
	h.stats.deliveries.Add(uint64(n))
}

// deliverTo sends one encoded event to the connections of user subscribed
// to room: a room's few subscribers are looked through, under its shard
// alone, rather than the user's connections under h.mu.
func (h *Hub) deliverTo(room, user string, payload []byte) {
	frame := textFrame(payload)
	s := h.subs.shard(room)
	s.mu.Lock()
	n := 0
	for _, c := range s.m[room] {
		if c.user == user {
			c.Send(frame)
			n++
		}
	}
	s.mu.Unlock()
	h.stats.deliveries.Add(uint64(n))
}

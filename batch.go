package epchat

import (
	"hash/maphash"
	"sync/atomic"
	"time"

	"github.com/epchat-go/epchat/internal/wire"
)

// Sends to a MessageBatcher. A room's sends that come while one of its
// calls is on its way wait in the room's queue; the request that found
// the queue idle starts the room's leader, a goroutine that makes the
// calls, one after the other, each with everything queued so far, until
// the queue is empty. Every send request returns at once: no poller worker
// waits for Redis, a connection's reader goes on, and a busy room's sends
// share its round trips. The leader holds the room's lock for each call,
// as a lone send does, so the room's events keep one order.
//
// A request about a room other than a send waits for the room's sends
// queued before it (awaitSends), so that a send followed by a leave is
// recorded before the leave, as without batching.

const (
	// batchMax bounds the messages and bytes of one call: a big batch
	// would hold Redis, and every other room's calls, for longer.
	batchMax      = 64
	batchMaxBytes = 256 << 10
	// queueMax bounds a room's queue (messages and bytes) while its calls
	// are slow: a send beyond is answered unavailable at once rather than
	// kept in memory for a Store that does not keep up.
	queueMax      = 512
	queueMaxBytes = 4 << 20
	// connQueuedMax and queuedMax bound the bytes of sends waiting, queued
	// or in a call on its way, from one connection and from all: a client
	// that sends to room ids by the thousand while Redis is slow (or to a
	// room it was kicked from) holds at most its share, and the process at
	// most queuedMax, however many rooms the sends name. A send beyond
	// either is answered unavailable at once, as one beyond its room's
	// queue is.
	connQueuedMax = 1 << 20
	queuedMax     = 64 << 20
	// leadersMax bounds the rooms whose leader runs on a goroutine of its
	// own. Past it (sends to that many rooms wait on a paused Redis at
	// once: a client sending to room ids by the thousand), a new leader
	// runs on the poller worker that read its send, which waits as every
	// request did before batches: the poller adds workers when they are
	// stuck, and a connection whose send waits is not read meanwhile.
	leadersMax = 1024
)

// sendBatches is the rooms' queues, in shards so that rooms do not
// contend on one lock. A room has an entry while it has a leader.
type sendBatches struct {
	seed    maphash.Seed
	shards  [64]batchShard
	leaders atomic.Int32 // leaders running on goroutines of their own
	queued  atomic.Int64 // bytes of the sends waiting, all rooms together
	conns   [64]connQueued
}

// connQueued is a shard of the bytes each connection has waiting, by
// connection id; a connection has an entry while it has sends waiting.
type connQueued struct {
	mu leafMutex
	m  map[uint64]int
}

// reserve counts size bytes more waiting for connection id, or reports
// false, counting nothing, when that would pass its bound or the process's.
func (b *sendBatches) reserve(id uint64, size int) bool {
	if b.queued.Add(int64(size)) > queuedMax {
		b.queued.Add(-int64(size))
		return false
	}
	s := &b.conns[id%uint64(len(b.conns))]
	s.mu.Lock()
	n := s.m[id]
	ok := n+size <= connQueuedMax
	if ok {
		if s.m == nil {
			s.m = make(map[uint64]int)
		}
		s.m[id] = n + size
	}
	s.mu.Unlock()
	if !ok {
		b.queued.Add(-int64(size))
	}
	return ok
}

// unreserve stops counting size bytes of connection id's, reserved.
func (b *sendBatches) unreserve(id uint64, size int) {
	s := &b.conns[id%uint64(len(b.conns))]
	s.mu.Lock()
	if n := s.m[id] - size; n > 0 {
		s.m[id] = n
	} else {
		delete(s.m, id)
	}
	s.mu.Unlock()
	b.queued.Add(-int64(size))
}

// release stops counting the batch's sends, answered.
func (b *sendBatches) release(batch []queuedSend) {
	for _, m := range batch {
		b.unreserve(m.c.ID, len(m.head)+len(m.tail))
	}
}

type batchShard struct {
	mu leafMutex
	m  map[string]*sendQueue
}

// sendQueue is one room's queue, guarded by its shard's lock.
type sendQueue struct {
	q            []queuedSend
	bytes        int
	queued, done uint64        // sends queued and answered, ever
	wake         chan struct{} // closed when sends are answered; nil while nobody waits
}

// queuedSend is one send waiting for its room's next call.
type queuedSend struct {
	c          *conn
	id         string // the request's id, for the reply
	head, tail []byte
	now        time.Time
}

func (b *sendBatches) init() { b.seed = maphash.MakeSeed() }

func (b *sendBatches) shard(room string) *batchShard {
	return &b.shards[maphash.String(b.seed, room)%uint64(len(b.shards))]
}

// queueSend queues a send to the room's next call, and starts the room's
// leader if its queue was idle.
func (h *Hub) queueSend(c *conn, req *wire.Request, now time.Time) {
	head, tail := wire.MessageParts(req.Room, c.user, now.UnixMilli(), req.Text)
	head = wire.AppendEnvelope(nil, &wire.Envelope{Kind: wire.KindMessage, Node: h.node, Skip: c.ID, Room: req.Room, Payload: head})
	size := len(head) + len(tail)
	if !h.batches.reserve(c.ID, size) {
		c.replyError(req.ID, wire.Unavailable, req.Room)
		return
	}
	s := h.batches.shard(req.Room)
	s.mu.Lock()
	q, busy := s.m[req.Room]
	if !busy {
		if s.m == nil {
			s.m = make(map[string]*sendQueue)
		}
		q = new(sendQueue)
		s.m[req.Room] = q
	}
	if len(q.q) >= queueMax || q.bytes+size > queueMaxBytes {
		s.mu.Unlock()
		h.batches.unreserve(c.ID, size)
		c.replyError(req.ID, wire.Unavailable, req.Room)
		return
	}
	q.q = append(q.q, queuedSend{c: c, id: req.ID, head: head, tail: tail, now: now})
	q.bytes += size
	q.queued++
	s.mu.Unlock()
	if !busy {
		// The leader runs on a goroutine of its own, not on the reader's
		// poller worker: the workers go on reading every connection,
		// whose sends join the queues meanwhile, however long Redis
		// takes; past leadersMax, on this worker, which tells the poller
		// it may block (one per connection). Shutdown waits for it
		// (the requester's connection is counted in h.wg until it ends,
		// so the count is not zero here).
		room := req.Room // req goes back to its pool when we return
		if h.batches.leaders.Add(1) > leadersMax {
			h.batches.leaders.Add(-1)
			c.mayWaitOnStore() // this connection waits; the others keep their workers
			h.leadSends(room, s, q)
			return
		}
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			defer h.batches.leaders.Add(-1)
			h.leadSends(room, s, q)
		}()
	}
}

// leadSends makes the room's calls until its queue is empty, then drops
// the queue.
func (h *Hub) leadSends(room string, s *batchShard, q *sendQueue) {
	var batch []queuedSend
	var msgs []BatchMessage
	for {
		lk := h.roomLock(room)
		lk.Lock()
		s.mu.Lock()
		n, size := 0, 0
		for n < len(q.q) && n < batchMax && (n == 0 || size+len(q.q[n].head)+len(q.q[n].tail) <= batchMaxBytes) {
			size += len(q.q[n].head) + len(q.q[n].tail)
			n++
		}
		batch = append(batch[:0], q.q[:n]...)
		clear(q.q[:n])
		q.q = q.q[n:]
		q.bytes -= size
		s.mu.Unlock()

		msgs = h.sendBatch(room, batch, msgs[:0])
		lk.Unlock()
		clear(batch)

		s.mu.Lock()
		q.done += uint64(n)
		if q.wake != nil {
			close(q.wake)
			q.wake = nil
		}
		if len(q.q) == 0 {
			delete(s.m, room)
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
	}
}

// awaitSends waits until the sends queued for room so far are answered.
func (h *Hub) awaitSends(room string) {
	s := h.batches.shard(room)
	s.mu.Lock()
	q := s.m[room]
	if q == nil {
		s.mu.Unlock()
		return
	}
	for target := q.queued; q.done < target; {
		if q.wake == nil {
			q.wake = make(chan struct{})
		}
		wake := q.wake
		s.mu.Unlock()
		<-wake
		s.mu.Lock()
	}
	s.mu.Unlock()
}

// sendBatch records one batch and answers its senders, with msgs as
// scratch space, which it returns cleared. The room's lock is held.
func (h *Hub) sendBatch(room string, batch []queuedSend, msgs []BatchMessage) []BatchMessage {
	now := batch[len(batch)-1].now
	for _, m := range batch {
		msgs = append(msgs, BatchMessage{User: m.c.user, Head: m.head, Tail: m.tail})
	}
	h.roomActive(now)
	err := h.batcher.PublishMessages(h.ctx, room, now, msgs)
	// The call is done: its bytes are free before the senders hear of it,
	// so that one who sends again at once finds its share as it was.
	h.batches.release(batch)
	var failed wire.Code
	if err != nil {
		failed = h.codeOf(batch[0].c, "message", err)
	}
	for i, m := range batch {
		switch {
		case err != nil:
			m.c.replyError(m.id, failed, room)
		case msgs[i].Err != nil:
			m.c.replyError(m.id, h.codeOf(m.c, "message", msgs[i].Err), room)
		default:
			h.stats.messages.Add(1)
			m.c.reply(wire.Sent(nil, m.id, room, msgs[i].Seq, m.now.UnixMilli()))
		}
	}
	clear(msgs)
	return msgs
}

// deliverBatch delivers a batch of message events from the broker: each
// member's connections get the room's messages in one queueing, and so in
// as few writes as their sockets take.
func (h *Hub) deliverBatch(room string, msg []byte) {
	var frames [][]byte
	var from []uint64
	active := false
	var bad error // an envelope that is not a message of room
	err := wire.SplitBatch(msg, func(b []byte) bool {
		var ev wire.Envelope
		if bad = wire.DecodeEnvelope(b, &ev); bad == nil && (ev.Kind != wire.KindMessage || ev.Room != room) {
			bad = wire.ErrEnvelope
		}
		if bad != nil {
			return false
		}
		if ev.Node != h.node {
			ev.Skip = 0 // connection ids are only unique within one process
			active = true
		}
		frames = append(frames, textFrame(ev.Payload))
		from = append(from, ev.Skip)
		return true
	})
	if err == nil {
		err = bad
	}
	if err != nil || len(frames) == 0 {
		h.log.Error("broker delivered a malformed batch", "err", err)
		return
	}
	if active {
		h.roomActive(h.clock.Now())
	}
	s := h.subs.shard(room)
	s.mu.Lock()
	n := 0
	for _, c := range s.m[room] {
		n += c.SendAll(frames, from)
	}
	s.mu.Unlock()
	h.stats.deliveries.Add(uint64(n))
}

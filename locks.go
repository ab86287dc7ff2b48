package epchat

import (
	"hash/maphash"
	"slices"
	"sync"
)

// Lock order. A goroutine that takes more than one of these takes them in
// this order, and never the other way round:
//
//  1. room locks (roomLock, lockRooms), several only through lockRooms,
//     in the order of the rooms' ids;
//  2. h.mu, the Hub's indexes: connections, users, and each connection's
//     list of rooms (conn.rooms);
//  3. one subscription shard (subs.go), the subscribers of its rooms. A
//     fan-out takes it alone, then a connection's transport lock: never
//     h.mu;
//  4. a connection's transport lock (internal/transport: its write queue
//     and close state), a leaf.
//
// The Store and the Broker are called with at most room locks held,
// never h.mu or a transport's lock, but for RoomBroker's Serve, Unserve,
// ServeUser and UnserveUser, which must not block: they come under h.mu
// (and, for a room, its subscription shard). The shard locks of roomLocks
// are leaves: held only inside acquire and release. Built with -tags
// epchat_lockcheck, the package checks this order as each lock is taken
// (lockrank.go), but for the transport's lock, a leaf of another package
// that calls nothing of the Hub while it holds it.

// roomLocks hands out one mutex per room, made when a room is first locked
// and dropped when nobody holds it or waits for it. A room whose request
// waits on its Store (a paused Redis) so holds nothing another room needs,
// as a fixed table of striped locks would for the rooms that share its
// stripe.
type roomLocks struct {
	seed   maphash.Seed
	shards [64]lockShard
}

type lockShard struct {
	mu leafMutex
	m  map[string]*roomMutex
	_  [48]byte // one shard per cache line: rooms' locks do not contend on it
}

// roomMutex is one room's lock; refs counts its holder and its waiters,
// under its shard's lock.
type roomMutex struct {
	mu   sync.Mutex
	refs int32
}

var roomMutexes = sync.Pool{New: func() any { return new(roomMutex) }}

func (l *roomLocks) init() { l.seed = maphash.MakeSeed() }

func (l *roomLocks) shard(room string) *lockShard {
	return &l.shards[maphash.String(l.seed, room)%uint64(len(l.shards))]
}

// acquire returns room's mutex, counted as wanted by one more caller,
// and its shard.
func (l *roomLocks) acquire(room string) (*lockShard, *roomMutex) {
	s := l.shard(room)
	s.mu.Lock()
	m := s.m[room]
	if m == nil {
		if s.m == nil {
			s.m = make(map[string]*roomMutex)
		}
		m = roomMutexes.Get().(*roomMutex)
		s.m[room] = m
	}
	m.refs++
	s.mu.Unlock()
	return s, m
}

// release undoes an acquire, after the caller unlocked m. The last one
// out drops the room's entry.
func (s *lockShard) release(room string, m *roomMutex) {
	s.mu.Lock()
	m.refs--
	if m.refs == 0 {
		delete(s.m, room)
		roomMutexes.Put(m)
	}
	s.mu.Unlock()
}

// held counts the rooms whose lock is held or waited for (tests).
func (l *roomLocks) held() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

// roomLock is the lock of one room, used as a sync.Mutex is:
//
//	lk := h.roomLock(room)
//	lk.Lock()
//	defer lk.Unlock()
//
// It serialises what happens to the room in this process, so that its
// events reach every member in one order (seq order).
type roomLock struct {
	locks *roomLocks
	room  string
	s     *lockShard
	m     *roomMutex
}

func (h *Hub) roomLock(room string) roomLock { return roomLock{locks: &h.locks, room: room} }

func (lk *roomLock) Lock() {
	if lockCheck {
		lockTaken(rankRoom, lk.room)
	}
	lk.s, lk.m = lk.locks.acquire(lk.room)
	lk.m.mu.Lock()
}

func (lk *roomLock) Unlock() {
	s, m := lk.s, lk.m
	lk.s, lk.m = nil, nil
	m.mu.Unlock()
	s.release(lk.room, m)
	if lockCheck {
		lockReleased(rankRoom, lk.room)
	}
}

// lockRooms takes the locks of several rooms, in the order of their ids
// so that two callers cannot deadlock, and returns the function that
// releases them.
func (h *Hub) lockRooms(rooms []string) func() {
	ids := slices.Compact(slices.Sorted(slices.Values(rooms)))
	held := make([]roomLock, len(ids))
	for i, id := range ids {
		held[i] = h.roomLock(id)
		held[i].Lock()
	}
	return func() {
		for i := range held {
			held[i].Unlock()
		}
	}
}

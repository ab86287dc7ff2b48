package epchat

import "sync"

// lockRank is a lock's place in the lock order (locks.go): a goroutine
// takes locks of increasing rank only.
type lockRank uint8

const (
	rankRoom lockRank = iota + 1 // roomLock; several in the order of the rooms' ids
	rankHub                      // h.mu
	rankSubs                     // one subscription shard (subs.go)
	rankConn                     // a connection's transport lock: its package takes it, unseen by the checker
	rankLeaf                     // a shard of roomLocks: nothing is taken under it
)

// The Hub's mutexes are sync.Mutexes that tell the lock-order checker
// what they are when the package is built with -tags epchat_lockcheck
// (lockcheck.go). Otherwise lockCheck is false, the branches go, and
// Lock and Unlock are sync.Mutex's, inlined.

// hubMutex is the type of h.mu.
type hubMutex struct{ sync.Mutex }

func (m *hubMutex) Lock() {
	if lockCheck {
		lockTaken(rankHub, "")
	}
	m.Mutex.Lock()
}

func (m *hubMutex) Unlock() {
	m.Mutex.Unlock()
	if lockCheck {
		lockReleased(rankHub, "")
	}
}

// subsMutex is the type of a subscription shard's lock.
type subsMutex struct{ sync.Mutex }

func (m *subsMutex) Lock() {
	if lockCheck {
		lockTaken(rankSubs, "")
	}
	m.Mutex.Lock()
}

func (m *subsMutex) Unlock() {
	m.Mutex.Unlock()
	if lockCheck {
		lockReleased(rankSubs, "")
	}
}

// leafMutex is the type of a roomLocks shard's lock.
type leafMutex struct{ sync.Mutex }

func (m *leafMutex) Lock() {
	if lockCheck {
		lockTaken(rankLeaf, "")
	}
	m.Mutex.Lock()
}

func (m *leafMutex) Unlock() {
	m.Mutex.Unlock()
	if lockCheck {
		lockReleased(rankLeaf, "")
	}
}

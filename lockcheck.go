//go:build epchat_lockcheck

package epchat

import (
	"bytes"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
)

// lockCheck is true in the build for the lock-order test (go test -tags
// epchat_lockcheck): every lock of the lock order (locks.go) is checked
// by lockOrder as it is taken. It costs a stack trace per lock, so it is
// never built in otherwise.
const lockCheck = true

// lockOrder is the checker of this build's Hubs: a test-only global, as
// the ranks it checks are the package's. It panics at the first
// violation, with the stack that made it: an inversion that deadlocks
// would otherwise hang the test instead of naming itself.
var lockOrder = lockChecker{panics: true}

func lockTaken(r lockRank, key string)    { lockOrder.taken(r, key) }
func lockReleased(r lockRank, key string) { lockOrder.released(r, key) }

// lockChecker records, per goroutine, the locks it holds, and notes a
// violation when one is taken out of order: a lock of a rank below or
// equal to one held, but for room locks taken in the order of their ids.
type lockChecker struct {
	panics bool         // at a violation, rather than only noting it
	checks atomic.Int64 // locks checked

	mu         sync.Mutex
	held       map[int64][]heldLock // goroutine id -> its locks, in the order taken
	violations []string
}

type heldLock struct {
	rank lockRank
	key  string // the room of a room lock
}

func (r lockRank) String() string {
	switch r {
	case rankRoom:
		return "room lock"
	case rankHub:
		return "h.mu"
	case rankSubs:
		return "subscription shard"
	case rankConn:
		return "c.mu"
	case rankLeaf:
		return "roomLocks shard"
	}
	return "rank " + strconv.Itoa(int(r))
}

// maxViolations bounds what a checker keeps: the first few tell.
const maxViolations = 10

func (lc *lockChecker) taken(r lockRank, key string) {
	lc.checks.Add(1)
	g := goid()
	lc.mu.Lock()
	defer lc.mu.Unlock()
	for _, h := range lc.held[g] {
		if h.rank > r || h.rank == r && (r != rankRoom || h.key >= key) {
			lc.noteLocked(fmt.Sprintf("took %v %q while holding %v %q", r, key, h.rank, h.key))
			break
		}
	}
	if lc.held == nil {
		lc.held = make(map[int64][]heldLock)
	}
	lc.held[g] = append(lc.held[g], heldLock{r, key})
}

func (lc *lockChecker) released(r lockRank, key string) {
	g := goid()
	lc.mu.Lock()
	defer lc.mu.Unlock()
	hs := lc.held[g]
	for i := len(hs) - 1; i >= 0; i-- {
		if hs[i] == (heldLock{r, key}) {
			hs = append(hs[:i], hs[i+1:]...)
			if len(hs) == 0 {
				delete(lc.held, g)
			} else {
				lc.held[g] = hs
			}
			return
		}
	}
	lc.noteLocked(fmt.Sprintf("released %v %q on a goroutine that does not hold it", r, key))
}

// noteLocked keeps a violation with the stack that made it, or panics
// with them.
func (lc *lockChecker) noteLocked(what string) {
	buf := make([]byte, 8<<10)
	v := what + "\n" + string(buf[:runtime.Stack(buf, false)])
	if lc.panics {
		panic("epchat: lock order violated: " + v)
	}
	if len(lc.violations) < maxViolations {
		lc.violations = append(lc.violations, v)
	}
}

// report returns the violations noted so far and how many locks were
// checked.
func (lc *lockChecker) report() ([]string, int64) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	return append([]string(nil), lc.violations...), lc.checks.Load()
}

func lockChecks() int64 { return lockOrder.checks.Load() }

// goid returns the id of the calling goroutine, read from the head of its
// stack trace ("goroutine 42 [running]:").
func goid() int64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	id, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		panic("epchat: lockcheck cannot read the goroutine id")
	}
	return id
}

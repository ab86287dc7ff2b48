package wsframe

import "sync"

// bufClasses are the capacities of pooled buffers. A buffer is taken for the
// bytes that arrived so far and swapped for the next class as more arrive,
// so a peer that declares a large frame but sends little of it holds little.
// The smallest class fits a whole control payload (125 bytes).
var bufClasses = [...]int{128, 512, 2 << 10, 8 << 10, 32 << 10, 128 << 10, 512 << 10, 2 << 20}

// bufPools holds one pool per class. Pools hold *[]byte so that Put does not
// allocate. They are the package's only shared state; a sync.Pool is safe
// for concurrent use and drops its contents under memory pressure.
var bufPools [len(bufClasses)]sync.Pool

// getBuf returns an empty buffer with room for at least n bytes: pooled
// when n fits a class, allocated to exactly n otherwise.
func getBuf(n int) *[]byte {
	for i, c := range bufClasses {
		if n <= c {
			if p, ok := bufPools[i].Get().(*[]byte); ok {
				return p
			}
			b := make([]byte, 0, c)
			return &b
		}
	}
	b := make([]byte, 0, n)
	return &b
}

// putBuf returns p to its pool if it has a class's capacity; a larger buffer
// is left to the garbage collector, so the pools never keep one.
func putBuf(p *[]byte) {
	c := cap(*p)
	for i, cc := range bufClasses {
		if c == cc {
			*p = (*p)[:0]
			bufPools[i].Put(p)
			return
		}
	}
}

// appendBuf appends b to the buffer *pp (taking one if it is nil) and
// returns the buffer, moving to a larger one when needed. limit bounds the
// extra room taken beyond what is needed once past the largest class.
func appendBuf(pp *[]byte, b []byte, limit int64) *[]byte {
	if pp == nil {
		pp = getBuf(len(b))
	}
	old := *pp
	need := len(old) + len(b)
	if need > cap(old) {
		n := need
		if need > bufClasses[len(bufClasses)-1] {
			// Past the classes: double, but never beyond what the
			// message may still grow to.
			n = max(need, int(min(int64(2*cap(old)), limit)))
		}
		np := getBuf(n)
		*np = append((*np)[:0], old...)
		putBuf(pp)
		pp = np
	}
	*pp = append(*pp, b...)
	return pp
}

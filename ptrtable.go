package epchat

// ptrTable is a hash set of records, a pointer a slot (open addressing,
// linear probing), for the indexes an idle member costs: where a Go map of
// the same keys holds the key beside the pointer in each slot (24 bytes a
// slot for a string key, 40 for a token hash), the table costs 8 bytes a
// slot at a load of 3/8 to 3/4, 11 to 21 bytes a record. The key is in
// the record; hash gives its hash (set before the first add).
//
// It shrinks as it empties (to half its size at a load of 1/8, to nothing
// when empty), so a burst leaves no memory behind, as Go maps would.
type ptrTable[T any] struct {
	slots []*T // nil or a power of two long; nil entries are free
	n     int  // records held
	hash  func(*T) uint64
}

// ptrTableMin is the fewest slots a table that holds records has.
const ptrTableMin = 16

// find returns the record whose key hashes to h and for which is reports
// true, or nil.
func (t *ptrTable[T]) find(h uint64, is func(*T) bool) *T {
	if t.n == 0 {
		return nil
	}
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		p := t.slots[i]
		if p == nil || is(p) {
			return p
		}
	}
}

// add adds p, whose key the table does not hold.
func (t *ptrTable[T]) add(p *T) {
	if 4*(t.n+1) > 3*len(t.slots) {
		t.resize(max(2*len(t.slots), ptrTableMin))
	}
	t.place(p)
	t.n++
}

// place puts p in the first free slot from its hash on.
func (t *ptrTable[T]) place(p *T) {
	mask := uint64(len(t.slots) - 1)
	i := t.hash(p) & mask
	for t.slots[i] != nil {
		i = (i + 1) & mask
	}
	t.slots[i] = p
}

// remove removes p, if the table holds it (p itself, not another record
// of the same key).
func (t *ptrTable[T]) remove(p *T) {
	if t.n == 0 {
		return
	}
	mask := uint64(len(t.slots) - 1)
	i := t.hash(p) & mask
	for t.slots[i] != p {
		if t.slots[i] == nil {
			return
		}
		i = (i + 1) & mask
	}
	// Backward shift: each record after the freed slot, up to the next
	// free one, moves into it unless its own slot lies between the two
	// (its probe would then never pass the freed slot).
	t.slots[i] = nil
	for j := (i + 1) & mask; t.slots[j] != nil; j = (j + 1) & mask {
		k := t.hash(t.slots[j]) & mask
		if i <= j && (i < k && k <= j) || i > j && (i < k || k <= j) {
			continue // k is cyclically in (i, j]: it stays
		}
		t.slots[i], t.slots[j] = t.slots[j], nil
		i = j
	}
	t.n--
	switch {
	case t.n == 0:
		t.slots = nil
	case len(t.slots) > ptrTableMin && 8*t.n <= len(t.slots):
		t.resize(len(t.slots) / 2)
	}
}

// resize moves the records into size slots, a power of two.
func (t *ptrTable[T]) resize(size int) {
	old := t.slots
	t.slots = make([]*T, size)
	for _, p := range old {
		if p != nil {
			t.place(p)
		}
	}
}

// each yields every record, in no order.
func (t *ptrTable[T]) each(yield func(*T) bool) {
	for _, p := range t.slots {
		if p != nil && !yield(p) {
			return
		}
	}
}

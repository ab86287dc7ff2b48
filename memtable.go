package epchat

import "hash/maphash"

// userTable is one of MemoryStore's two indexes of its users: by id or by
// session token hash. It is a hash set of the records themselves (open
// addressing, linear probing), a pointer a slot, where a Go map of the
// same keys holds the key beside the pointer in each slot: 24 bytes a slot
// by id, 40 by token. At the sizes an idle Hub reaches, a map costs 43 and
// 79 bytes a user; the table costs 8 bytes a slot at a load of 3/8 to 3/4,
// 11 to 21 bytes a user.
//
// It shrinks as it empties (to half its size at a load of 1/8), so a burst
// of users leaves no memory behind, as MemoryStore.tidy does for maps.
// Make one with newUserTable.
type userTable struct {
	slots   []*memUser // nil or a power of two long; nil entries are free
	n       int        // users held
	byToken bool
	seed    maphash.Seed
}

// userTableMin is the fewest slots a table that holds users has.
const userTableMin = 16

func newUserTable(byToken bool) userTable {
	return userTable{byToken: byToken, seed: maphash.MakeSeed()}
}

func (t *userTable) hashID(id string) uint64 { return maphash.String(t.seed, id) }

func (t *userTable) hashToken(h *TokenHash) uint64 { return maphash.Bytes(t.seed, h[:]) }

// hashOf returns the hash of u's key.
func (t *userTable) hashOf(u *memUser) uint64 {
	if t.byToken {
		return t.hashToken(&u.token)
	}
	return t.hashID(u.id)
}

// byID returns the user with the id, or nil (a table keyed by id).
func (t *userTable) byID(id string) *memUser {
	if t.n == 0 {
		return nil
	}
	mask := uint64(len(t.slots) - 1)
	for i := t.hashID(id) & mask; ; i = (i + 1) & mask {
		u := t.slots[i]
		if u == nil || u.id == id {
			return u
		}
	}
}

// byTokenHash returns the user with the token hash h, or nil (a table
// keyed by token).
func (t *userTable) byTokenHash(h TokenHash) *memUser {
	if t.n == 0 {
		return nil
	}
	mask := uint64(len(t.slots) - 1)
	for i := t.hashToken(&h) & mask; ; i = (i + 1) & mask {
		u := t.slots[i]
		if u == nil || u.token == h {
			return u
		}
	}
}

// add adds u, whose key the table does not hold.
func (t *userTable) add(u *memUser) {
	if 4*(t.n+1) > 3*len(t.slots) {
		t.resize(max(2*len(t.slots), userTableMin))
	}
	t.place(u)
	t.n++
}

// place puts u in the first free slot from its hash on.
func (t *userTable) place(u *memUser) {
	mask := uint64(len(t.slots) - 1)
	i := t.hashOf(u) & mask
	for t.slots[i] != nil {
		i = (i + 1) & mask
	}
	t.slots[i] = u
}

// remove removes u, if the table holds it.
func (t *userTable) remove(u *memUser) {
	if t.n == 0 {
		return
	}
	mask := uint64(len(t.slots) - 1)
	i := t.hashOf(u) & mask
	for t.slots[i] != u {
		if t.slots[i] == nil {
			return
		}
		i = (i + 1) & mask
	}
	// Backward shift: each user after the freed slot, up to the next free
	// one, moves into it unless its own slot lies between the two (its
	// probe would then never pass the freed slot).
	t.slots[i] = nil
	for j := (i + 1) & mask; t.slots[j] != nil; j = (j + 1) & mask {
		k := t.hashOf(t.slots[j]) & mask
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
	case len(t.slots) > userTableMin && 8*t.n <= len(t.slots):
		t.resize(len(t.slots) / 2)
	}
}

// resize moves the users into size slots, a power of two.
func (t *userTable) resize(size int) {
	old := t.slots
	t.slots = make([]*memUser, size)
	for _, u := range old {
		if u != nil {
			t.place(u)
		}
	}
}

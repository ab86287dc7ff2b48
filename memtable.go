package epchat

import "hash/maphash"

// userTable is one of MemoryStore's two indexes of its users: by id or by
// session token hash, a ptrTable of the records themselves (43 and 79
// bytes a user as Go maps at the sizes an idle Hub reaches; 11 to 21 so).
// Make one with newUserTable.
type userTable struct {
	ptrTable[memUser]
	seed maphash.Seed
}

func newUserTable(byToken bool) userTable {
	seed := maphash.MakeSeed()
	t := userTable{seed: seed}
	if byToken {
		t.hash = func(u *memUser) uint64 { return maphash.Bytes(seed, u.token[:]) }
	} else {
		t.hash = func(u *memUser) uint64 { return maphash.String(seed, u.id) }
	}
	return t
}

// byID returns the user with the id, or nil (a table keyed by id).
func (t *userTable) byID(id string) *memUser {
	return t.find(maphash.String(t.seed, id), func(u *memUser) bool { return u.id == id })
}

// byTokenHash returns the user with the token hash h, or nil (a table
// keyed by token).
func (t *userTable) byTokenHash(h TokenHash) *memUser {
	return t.find(maphash.Bytes(t.seed, h[:]), func(u *memUser) bool { return u.token == h })
}

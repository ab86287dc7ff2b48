package epchat

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestUserTable checks both tables against maps through random adds and
// removes, with growth and shrinking, and with tables so small that most
// keys share a probe sequence.
func TestUserTable(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	byID, byTok := newUserTable(false), newUserTable(true)
	wantID := map[string]*memUser{}
	wantTok := map[TokenHash]*memUser{}
	var live []*memUser
	check := func(step int) {
		t.Helper()
		if byID.n != len(wantID) || byTok.n != len(wantTok) {
			t.Fatalf("step %d: n = %d, %d, want %d", step, byID.n, byTok.n, len(wantID))
		}
		for id, u := range wantID {
			if got := byID.byID(id); got != u {
				t.Fatalf("step %d: byID(%q) = %p, want %p", step, id, got, u)
			}
			if got := byTok.byTokenHash(u.token); got != u {
				t.Fatalf("step %d: byTokenHash(%q) = %p, want %p", step, id, got, u)
			}
		}
		if byID.byID("nobody") != nil || byTok.byTokenHash(TokenHash{}) != nil {
			t.Fatalf("step %d: found a user never added", step)
		}
		if l := len(byID.slots); l > ptrTableMin && 8*byID.n < l {
			t.Fatalf("step %d: %d slots hold %d users: not shrunk", step, l, byID.n)
		}
	}
	next := 0
	for step := range 20000 {
		// Grow to about 3000 users, empty to none, and grow again.
		grow := step < 6000 || step >= 14000 && step < 17000
		if len(live) > 0 && (!grow && rng.IntN(10) < 9 || grow && rng.IntN(10) < 3) {
			i := rng.IntN(len(live))
			u := live[i]
			live[i] = live[len(live)-1]
			live = live[:len(live)-1]
			byID.remove(u)
			byTok.remove(u)
			delete(wantID, u.id)
			delete(wantTok, u.token)
		} else {
			next++
			u := &memUser{id: fmt.Sprint("u", next), token: sha256.Sum256(fmt.Append(nil, next))}
			byID.add(u)
			byTok.add(u)
			wantID[u.id], wantTok[u.token] = u, u
			live = append(live, u)
		}
		if step%97 == 0 || len(live) < 40 {
			check(step)
		}
	}
	check(-1)
	for _, u := range live {
		byID.remove(u)
		byTok.remove(u)
	}
	if byID.n != 0 || byID.slots != nil || byTok.slots != nil {
		t.Fatalf("emptied tables hold %d users in %d slots", byID.n, len(byID.slots))
	}
	u := &memUser{id: "x"}
	byID.remove(u) // not held: ignored
	byID.add(u)
	byID.remove(&memUser{id: "x"}) // another record with the same key: not held
	if byID.byID("x") != u {
		t.Fatal("remove of a record not held removed the one held")
	}
}

package epchat_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/epchat-go/epchat"
	"github.com/epchat-go/epchat/epchattest"
)

// The lock order (locks.go) under load: 200 rooms, each of its owner and
// four of 40 members seated in 20 rooms each, and every user at once
// sending, joining, leaving, kicking, passing history, closing and
// reopening rooms, and hanging up and coming back with its token (a hello
// that takes the locks of 20 rooms). Built with -tags epchat_lockcheck,
// every lock of the order is checked as it is taken, on every goroutine,
// and the first taken out of order panics with its stack (lockcheck.go),
// in this test or any other of the package; without the tag this is a
// race test of the sharded subscriptions. Either way the
// subscriptions must agree with the connections' lists of rooms
// throughout, and be empty once every member has gone; with a RoomBroker,
// its Serve and Unserve must alternate for each room and end with none
// served.
func TestLockOrderManyRooms(t *testing.T) {
	if testing.Short() {
		t.Skip("lock order storm skipped in -short mode")
	}
	t.Run("alone", func(t *testing.T) { lockStorm(t, nil) })
	t.Run("room broker", func(t *testing.T) { lockStorm(t, newServingBroker()) })

	if !epchat.LockOrderChecked() {
		t.Log("lock order not checked: run with -tags epchat_lockcheck")
		return
	}
	checked := epchat.LockOrderChecks()
	if checked == 0 {
		t.Fatal("the lock-order checker saw no lock")
	}
	t.Logf("%d locks checked in order", checked)
}

const (
	stormOwners       = 20
	stormRoomsPerUser = 10 // rooms per owner
	stormMembers      = 40
	stormSeats        = 4 // members per room besides the owner
	stormTime         = 2 * time.Second
)

// stormUser is one user of the storm. Its connection is replaced when it
// reconnects; mu is held for reading around each request on it, and for
// writing while it is replaced.
type stormUser struct {
	mu    sync.RWMutex
	c     *epchattest.Client
	id    string
	token string
}

// stormRoom is one owner's room: id changes when the owner closes it and
// opens another in its place.
type stormRoom struct {
	owner *stormUser
	seats []*stormUser

	mu sync.Mutex
	id string
}

func (r *stormRoom) current() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.id
}

type storm struct {
	t     *testing.T
	th    *testHub
	seq   atomic.Int64
	fails chan string
}

// stormReply keeps only the replies to the storm's requests (ids "q.n",
// which no random id matches): the events of 200 rooms would pile up.
func stormReply(p []byte) bool { return !bytes.Contains(p, []byte(`"id":"q.`)) }

// call sends req on u's connection and returns the reply. An error reply
// is fine when its code is one of ok: what the storm's races may give.
func (s *storm) call(u *stormUser, want string, req map[string]any, ok ...string) (epchattest.Event, bool) {
	req["id"] = fmt.Sprintf("q.%d", s.seq.Add(1))
	u.mu.RLock()
	e := u.c.Call(req)
	u.mu.RUnlock()
	if e.Type() == want {
		return e, true
	}
	if e.Type() != "error" || !slices.Contains(ok, e.Str("code")) {
		s.fails <- fmt.Sprintf("%v: %v, want %s", req["type"], e, want)
	}
	return e, false
}

// reconnect hangs u up, with a close frame or without, and comes back on
// a new connection with its token.
func (s *storm) reconnect(u *stormUser, graceful bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if graceful {
		u.c.WriteFrame(ws.OpClose, ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))
	}
	u.c.Conn.Close()
	c := epchattest.Dial(s.t, s.th.url)
	c.SetFilter(stormReply)
	id := fmt.Sprintf("q.%d", s.seq.Add(1))
	if e := c.Call(map[string]any{"id": id, "type": "hello", "token": u.token}); e.Type() != "welcome" {
		s.fails <- fmt.Sprintf("resume: %v", e)
	}
	c.ID, c.Token = u.id, u.token
	u.c = c
}

func lockStorm(t *testing.T, broker *servingBroker) {
	opts := append(slices.Clone(unlimited),
		epchat.WithMaxConnectionsPerAddr(10000),
		epchat.WithMaxRoomsPerUser(100),
	)
	if broker != nil {
		opts = append(opts, epchat.WithBroker(broker))
	}
	th := newTestHub(t, opts...)
	s := &storm{t: t, th: th, fails: make(chan string, 1000)}
	newUser := func(nick string) *stormUser {
		c := th.client(t, nick)
		c.SetFilter(stormReply)
		return &stormUser{c: c, id: c.ID, token: c.Token}
	}
	owners := make([]*stormUser, stormOwners)
	for i := range owners {
		owners[i] = newUser(fmt.Sprintf("owner-%d", i))
	}
	members := make([]*stormUser, stormMembers)
	for i := range members {
		members[i] = newUser(fmt.Sprintf("member-%d", i))
	}
	rooms := make([]*stormRoom, stormOwners*stormRoomsPerUser)
	for i := range rooms {
		r := &stormRoom{owner: owners[i%stormOwners]}
		for k := range stormSeats {
			r.seats = append(r.seats, members[(i+k*stormMembers/stormSeats)%stormMembers])
		}
		rooms[i] = r
	}

	// Seat everyone, an owner's rooms at a time.
	var wg sync.WaitGroup
	for o := range owners {
		wg.Go(func() {
			for i := o; i < len(rooms); i += stormOwners {
				s.open(rooms[i])
				for _, m := range rooms[i].seats {
					s.seat(rooms[i], m)
				}
			}
		})
	}
	wg.Wait()
	s.failed()
	if err := th.CheckSubscriptions(); err != nil {
		t.Fatalf("after seating: %v", err)
	}

	deadline := time.Now().Add(stormTime)
	var ops atomic.Int64
	for i, o := range owners {
		rng := rand.New(rand.NewPCG(uint64(i), 1))
		var mine []*stormRoom
		for _, r := range rooms {
			if r.owner == o {
				mine = append(mine, r)
			}
		}
		wg.Go(func() {
			for time.Now().Before(deadline) {
				s.ownerStep(rng, o, mine[rng.IntN(len(mine))])
				ops.Add(1)
			}
		})
	}
	for i, m := range members {
		rng := rand.New(rand.NewPCG(uint64(i), 2))
		var mine []*stormRoom
		for _, r := range rooms {
			if slices.Contains(r.seats, m) {
				mine = append(mine, r)
			}
		}
		wg.Go(func() {
			for time.Now().Before(deadline) {
				s.memberStep(rng, m, mine[rng.IntN(len(mine))])
				ops.Add(1)
			}
		})
	}
	// The subscriptions agree with the connections' lists throughout.
	stop := make(chan struct{})
	var checker sync.WaitGroup
	checker.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond): // a check now and then, not a time rule
			}
			if err := th.CheckSubscriptions(); err != nil {
				s.fails <- err.Error()
				return
			}
		}
	})
	wg.Wait()
	close(stop)
	checker.Wait()
	s.failed()
	if err := th.CheckSubscriptions(); err != nil {
		t.Fatalf("after the storm: %v", err)
	}

	// Everyone hangs up: nothing stays subscribed.
	for _, u := range append(owners, members...) {
		u.c.Conn.Close()
	}
	waitUntil(t, "every connection torn down", func() bool {
		st := th.Stats()
		return st.Connections == 0 && st.RoomsServed == 0
	})
	if err := th.CheckSubscriptions(); err != nil {
		t.Fatal(err)
	}
	if broker != nil {
		if errs, served := broker.report(); len(errs) > 0 || served > 0 {
			t.Fatalf("room broker: %d rooms still served, out of order: %q", served, errs)
		}
	}
	t.Logf("%d rooms, %d users, %d operations", len(rooms), len(owners)+len(members), ops.Load())
}

// failed fails the test with what the workers reported.
func (s *storm) failed() {
	s.t.Helper()
	for {
		select {
		case f := <-s.fails:
			s.t.Error(f)
		default:
			if s.t.Failed() {
				s.t.FailNow()
			}
			return
		}
	}
}

// open has r's owner open a room in r's place.
func (s *storm) open(r *stormRoom) {
	if e, ok := s.call(r.owner, "joined", map[string]any{"type": "create"}); ok {
		r.mu.Lock()
		r.id = e.Str("room")
		r.mu.Unlock()
	}
}

// seat has r's owner invite m, and m join, if they can. The invites of
// joins refused as already_member stay pending, up to the room's cap,
// until a kick revokes them.
func (s *storm) seat(r *stormRoom, m *stormUser) {
	e, ok := s.call(r.owner, "invite", map[string]any{"type": "invite", "room": r.current()}, "not_found", "room_locked", "too_many_invites")
	if !ok {
		return
	}
	s.th.secret(e.Str("token"))
	s.call(m, "joined", map[string]any{"type": "join", "token": e.Str("token")}, "already_member", "invite_invalid", "not_found", "room_locked")
}

func (s *storm) ownerStep(rng *rand.Rand, o *stormUser, r *stormRoom) {
	room := r.current()
	switch op := rng.IntN(100); {
	case op < 40:
		s.call(o, "sent", map[string]any{"type": "send", "room": room, "text": fmt.Sprint(op)})
	case op < 55:
		m := r.seats[rng.IntN(len(r.seats))]
		s.call(o, "ok", map[string]any{"type": "kick", "room": room, "member": m.id}, "not_found")
	case op < 70:
		m := r.seats[rng.IntN(len(r.seats))]
		s.call(o, "ok", map[string]any{"type": "history", "room": room, "to": m.id, "data": "before"}, "not_found")
	case op < 75:
		s.call(o, "ok", map[string]any{"type": "lock", "room": room})
		s.call(o, "ok", map[string]any{"type": "unlock", "room": room})
	case op < 80:
		if _, ok := s.call(o, "ok", map[string]any{"type": "close", "room": room}); ok {
			s.open(r)
		}
	case op < 85:
		s.reconnect(o, op%2 == 0)
	case op < 90:
		s.call(o, "members", map[string]any{"type": "members", "room": room})
	default:
		o.mu.RLock()
		o.c.WriteFrame(ws.OpPing, nil)
		o.mu.RUnlock()
	}
}

func (s *storm) memberStep(rng *rand.Rand, m *stormUser, r *stormRoom) {
	room := r.current()
	switch op := rng.IntN(100); {
	case op < 40:
		s.call(m, "sent", map[string]any{"type": "send", "room": room, "text": fmt.Sprint(op)}, "not_found")
	case op < 50:
		s.call(m, "members", map[string]any{"type": "members", "room": room}, "not_found")
	case op < 60:
		s.call(m, "ok", map[string]any{"type": "leave", "room": room}, "not_found")
	case op < 85:
		s.seat(r, m)
	case op < 92:
		s.reconnect(m, op%2 == 0)
	default:
		m.mu.RLock()
		m.c.WriteFrame(ws.OpPing, nil)
		m.mu.RUnlock()
	}
}

// servingBroker is memBroker as a RoomBroker that checks the Hub's Serve
// and Unserve, and ServeUser and UnserveUser: for each room, and each
// user, they alternate, starting with Serve. (memBroker delivers every
// event to every Hub, so what is served changes no delivery.)
type servingBroker struct {
	*memBroker

	smu    sync.Mutex
	served map[string]bool // rooms, and users as "user:" + id
	errs   []string
	calls  int // Serve and ServeUser calls
}

// The Hub treats a Broker as a RoomBroker only if it has every method: a
// servingBroker short of one would check nothing.
var _ epchat.RoomBroker = (*servingBroker)(nil)

func newServingBroker() *servingBroker {
	return &servingBroker{memBroker: &memBroker{}, served: make(map[string]bool)}
}

var closedReady = func() chan struct{} { ch := make(chan struct{}); close(ch); return ch }()

func (b *servingBroker) Serve(room string) <-chan struct{} {
	b.serve("room", room)
	return closedReady
}

func (b *servingBroker) Unserve(room string) { b.unserve("room", room) }

func (b *servingBroker) ServeUser(user string) <-chan struct{} {
	b.serve("user", "user:"+user)
	return closedReady
}

func (b *servingBroker) UnserveUser(user string) { b.unserve("user", "user:"+user) }

func (b *servingBroker) PublishUser(ctx context.Context, _ string, msg []byte) error {
	return b.Publish(ctx, "", msg)
}

func (b *servingBroker) serve(kind, key string) {
	b.smu.Lock()
	defer b.smu.Unlock()
	if b.served[key] {
		b.errs = append(b.errs, "Serve of a "+kind+" served: "+key)
	}
	b.served[key] = true
	b.calls++
}

func (b *servingBroker) unserve(kind, key string) {
	b.smu.Lock()
	defer b.smu.Unlock()
	if !b.served[key] {
		b.errs = append(b.errs, "Unserve of a "+kind+" not served: "+key)
	}
	delete(b.served, key)
}

// report returns the calls out of order and how many rooms and users are
// served.
func (b *servingBroker) report() ([]string, int) {
	b.smu.Lock()
	defer b.smu.Unlock()
	if b.calls == 0 {
		return []string{"no Serve or ServeUser at all: the Hub did not take it for a RoomBroker"}, 0
	}
	return slices.Clone(b.errs), len(b.served)
}

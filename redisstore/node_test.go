package redisstore

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/epchat-go/epchat"
	"github.com/redis/go-redis/v9"
)

// The Hub's rules with the default settings: a member without connection
// keeps their seats for the reconnect grace.
const grace = 30 * time.Second

// cluster is two processes of one deployment, a and b, with their
// heartbeats driven by the test's clock.
type cluster struct {
	a, b *Store
}

func newCluster(t *testing.T) cluster {
	prefix := freshPrefix()
	return cluster{
		a: newStoreOn(t, newClient(t), prefix),
		b: newStoreOn(t, newClient(t), prefix),
	}
}

func beat(t *testing.T, s *Store, at time.Time) {
	t.Helper()
	if err := s.Heartbeat(bg, at); err != nil {
		t.Fatal(err)
	}
}

// beatSteadily has s beat every third of the node timeout from from to
// to, as a live process does: a process reaps others only once its own
// heartbeats went through, none missed, for a whole node timeout.
func beatSteadily(t *testing.T, s *Store, from, to time.Time) {
	t.Helper()
	for at := from; !at.After(to); at = at.Add(DefaultNodeTimeout / 3) {
		beat(t, s, at)
	}
}

func attach(t *testing.T, s *Store, user string, at time.Time) {
	t.Helper()
	if err := s.Attach(bg, user, at); err != nil {
		t.Fatal(err)
	}
}

// TestDeadNodeMembersAreVacated: b holds ann's only connection and dies
// (its heartbeat stops). After the node timeout a's heartbeat counts that
// connection as gone since b's last heartbeat, and one reconnect grace
// after that heartbeat ann loses her seat; bob, connected to a, and cat,
// connected to both, keep theirs.
func TestDeadNodeMembersAreVacated(t *testing.T) {
	c := newCluster(t)
	for _, u := range []string{"ann", "bob", "cat"} {
		mustUser(t, c.a, u, t0)
	}
	mustRoom(t, c.a, "room", "ann", 5, t0)
	mustJoin(t, c.a, "room", "bob", t0)
	mustJoin(t, c.a, "room", "cat", t0)
	attach(t, c.b, "ann", t0)
	attach(t, c.a, "bob", t0)
	attach(t, c.a, "cat", t0)
	attach(t, c.b, "cat", t0)
	beat(t, c.a, t0)
	beat(t, c.b, t0)
	dead := t0.Add(time.Second)
	beat(t, c.b, dead) // b's last heartbeat

	// a beats every 5 s; b is taken for dead once its heartbeat is more
	// than the node timeout (15 s) old.
	for at := t0.Add(5 * time.Second); !at.After(dead.Add(DefaultNodeTimeout)); at = at.Add(5 * time.Second) {
		beat(t, c.a, at)
		if u := userOf(t, c.a, "ann"); u.Conns != 1 {
			t.Fatalf("at +%v ann has %d connections, want 1 (b not yet dead)", at.Sub(t0), u.Conns)
		}
	}
	reaped := dead.Add(DefaultNodeTimeout + 4*time.Second)
	beat(t, c.a, reaped)
	ann := userOf(t, c.a, "ann")
	if ann.Conns != 0 || !ann.DetachedAt.Equal(dead) {
		t.Fatalf("after b died, ann: conns %d detached %v; want 0 and b's last heartbeat %v", ann.Conns, ann.DetachedAt, dead)
	}
	if cat := userOf(t, c.a, "cat"); cat.Conns != 1 {
		t.Fatalf("cat has %d connections, want 1 (the one on a)", cat.Conns)
	}

	// The Hub sweeps with before = now - grace.
	if ds, err := c.a.VacateUsers(bg, reaped.Add(-grace)); err != nil || len(ds) != 0 {
		t.Fatalf("VacateUsers within the grace: %+v, %v; want nobody", ds, err)
	}
	ds, err := c.a.VacateUsers(bg, dead.Add(grace+time.Millisecond).Add(-grace))
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].User != "ann" || len(ds[0].Left) != 1 || ds[0].Left[0].NewOwner != "bob" {
		t.Fatalf("VacateUsers after the grace: %+v; want ann leaving, bob the new owner", ds)
	}
	r, ms, err := c.a.Room(bg, "room")
	if err != nil || r.Owner != "bob" || memberIDs(ms) != "bob,cat" {
		t.Fatalf("room after: owner %s members %s (%v); want bob, bob,cat", r.Owner, memberIDs(ms), err)
	}
	// ann is a user still: she may come back through a.
	attach(t, c.a, "ann", reaped.Add(time.Minute))
	if u := userOf(t, c.a, "ann"); u.Conns != 1 {
		t.Fatalf("ann back on a has %d connections, want 1", u.Conns)
	}
}

// TestDeadNodeUsersAreForgotten: a user whose only connection was on a dead
// process is forgotten five days after its last heartbeat, and the dormant
// count of that connection goes with them.
func TestDeadNodeUsersAreForgotten(t *testing.T) {
	c := newCluster(t)
	mustUser(t, c.a, "ann", t0)
	attach(t, c.b, "ann", t0)
	beat(t, c.b, t0)
	later := t0.Add(time.Hour)
	beatSteadily(t, c.a, later.Add(-DefaultNodeTimeout), later)
	const idle = 5 * 24 * time.Hour
	if ds, _ := c.a.ForgetUsers(bg, t0, t0); len(ds) != 0 {
		t.Fatalf("ForgetUsers(last heartbeat): %+v, want nobody", ds)
	}
	ds, err := c.a.ForgetUsers(bg, t0.Add(time.Second), t0.Add(time.Second))
	if err != nil || len(ds) != 1 || ds[0].User != "ann" {
		t.Fatalf("ForgetUsers after 5 days: %+v, %v; want ann", ds, err)
	}
	if _, err := c.a.UserByToken(bg, hashOf("session ann")); !errors.Is(err, epchat.ErrNotFound) {
		t.Fatalf("ann after being forgotten: %v", err)
	}
	if n, _ := c.a.c.Exists(bg, c.a.p+"nd:"+c.b.Node()).Result(); n != 0 {
		t.Fatal("the dead node still lists ann's dormant connection")
	}
}

// TestOutageReapsNobody: Redis is away for 45 s (paused, or the network
// cut), so neither process beats; when it comes back, the first process
// to reach it must not take the other for dead: its connections still
// count and its members keep their seats. A process that then really
// stops is reaped once the other has beaten again for a node timeout.
// Before, a's first heartbeat after the outage reaped b, and the sweeps
// freed the seats of members connected to b all along.
func TestOutageReapsNobody(t *testing.T) {
	c := newCluster(t)
	mustUser(t, c.a, "ann", t0)
	mustRoom(t, c.a, "room", "ann", 3, t0)
	attach(t, c.b, "ann", t0)
	beatSteadily(t, c.a, t0, t0.Add(time.Minute))
	beatSteadily(t, c.b, t0, t0.Add(time.Minute))

	back := t0.Add(time.Minute + 45*time.Second)
	beat(t, c.a, back) // first after the outage
	if u := userOf(t, c.a, "ann"); u.Conns != 1 {
		t.Fatalf("ann after the outage: %d connections, want 1 (b is alive)", u.Conns)
	}
	last := back.Add(time.Minute + time.Second) // b's last heartbeat, below
	beatSteadily(t, c.b, back.Add(time.Second), last)
	beatSteadily(t, c.a, back.Add(DefaultNodeTimeout/3), back.Add(time.Minute))
	if u := userOf(t, c.a, "ann"); u.Conns != 1 {
		t.Fatalf("ann a minute after the outage: %d connections, want 1", u.Conns)
	}
	if ds, _ := c.a.VacateUsers(bg, back.Add(time.Minute)); len(ds) != 0 {
		t.Fatalf("VacateUsers after the outage: %+v; want nobody", ds)
	}

	// Now b stops for good: a, beating steadily, reaps it a node timeout
	// after b's last heartbeat.
	beatSteadily(t, c.a, last.Add(DefaultNodeTimeout/3), last.Add(DefaultNodeTimeout+DefaultNodeTimeout/3))
	if u := userOf(t, c.a, "ann"); u.Conns != 0 || !u.DetachedAt.Equal(last) {
		t.Fatalf("ann after b stopped: conns %d detached %v; want 0 and b's last heartbeat %v", u.Conns, u.DetachedAt, last)
	}
}

// TestStalledNodeRevives: b stops beating long enough to be taken for dead,
// then beats again (it was stalled, not dead): its connections count again
// and its members are not vacated. A connection b closed meanwhile is not
// counted back.
func TestStalledNodeRevives(t *testing.T) {
	c := newCluster(t)
	mustUser(t, c.a, "ann", t0)
	mustUser(t, c.a, "bob", t0)
	mustRoom(t, c.a, "room", "ann", 3, t0)
	mustJoin(t, c.a, "room", "bob", t0)
	attach(t, c.b, "ann", t0)
	attach(t, c.b, "ann", t0)
	attach(t, c.b, "bob", t0)
	beat(t, c.b, t0)
	stall := t0.Add(20 * time.Second)
	beatSteadily(t, c.a, t0, stall)
	if u := userOf(t, c.a, "ann"); u.Conns != 0 {
		t.Fatalf("ann during b's stall: %d connections, want 0", u.Conns)
	}
	// b wakes up, closes one of ann's connections and bob's, then beats.
	woke := stall.Add(time.Second)
	if err := c.b.Detach(bg, "ann", woke); err != nil {
		t.Fatal(err)
	}
	if err := c.b.Detach(bg, "bob", woke); err != nil {
		t.Fatal(err)
	}
	beat(t, c.b, woke)
	if u := userOf(t, c.a, "ann"); u.Conns != 1 {
		t.Fatalf("ann after b revived: %d connections, want 1", u.Conns)
	}
	bob := userOf(t, c.a, "bob")
	if bob.Conns != 0 || !bob.DetachedAt.Equal(woke) {
		t.Fatalf("bob after b revived: conns %d detached %v; want 0 and %v", bob.Conns, bob.DetachedAt, woke)
	}
	ds, err := c.a.VacateUsers(bg, woke.Add(time.Minute))
	if err != nil || len(ds) != 1 || ds[0].User != "bob" {
		t.Fatalf("VacateUsers: %+v, %v; want bob only (ann is connected through b)", ds, err)
	}
}

// TestConcurrentReapers: two live processes reap a dead one with many
// users at once; each connection is uncounted exactly once.
func TestConcurrentReapers(t *testing.T) {
	prefix := freshPrefix()
	a := newStoreOn(t, newClient(t), prefix)
	b := newStoreOn(t, newClient(t), prefix)
	dead := newStoreOn(t, newClient(t), prefix)
	const n = 5 * sweepBatch
	for i := range n {
		id := fmt.Sprint("user", i)
		mustUser(t, a, id, t0)
		attach(t, dead, id, t0)
		attach(t, a, id, t0)
	}
	beat(t, dead, t0)
	later := t0.Add(time.Minute)
	// a and b have beaten for almost a node timeout: at later, both reap.
	beatSteadily(t, a, later.Add(-DefaultNodeTimeout), later.Add(-time.Second))
	beatSteadily(t, b, later.Add(-DefaultNodeTimeout), later.Add(-time.Second))
	var wg sync.WaitGroup
	for _, s := range []*Store{a, b, a, b} {
		wg.Go(func() {
			if err := s.Heartbeat(bg, later); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for i := range n {
		if u := userOf(t, a, fmt.Sprint("user", i)); u.Conns != 1 {
			t.Fatalf("user%d has %d connections, want 1 (the one on a)", i, u.Conns)
		}
	}
	if _, err := a.c.ZScore(bg, a.p+"nodes", dead.Node()).Result(); !errors.Is(err, redis.Nil) {
		t.Fatalf("the dead node is still listed (%v)", err)
	}
}

// TestHeartbeatGoroutine: without WithManualHeartbeat, New registers the
// node at once and Close stops the goroutine.
func TestHeartbeatGoroutine(t *testing.T) {
	c := newClient(t)
	s, err := New(c, WithPrefix(freshPrefix()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ZScore(bg, s.p+"nodes", s.Node()).Result(); err != nil {
		t.Fatalf("node not registered by New: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestHeartbeatLogs: with WithLogger the Store tells the operator, with
// node ids and counts only, that it took a process for dead, that its
// heartbeat failed (once for a run of failures) and that it went through
// again.
func TestHeartbeatLogs(t *testing.T) {
	logs := &logLines{}
	prefix := freshPrefix()
	a := newStoreOn(t, newClient(t), prefix, WithLogger(slog.New(logs)))
	dead := newStoreOn(t, newClient(t), prefix)
	mustUser(t, a, "ann", t0)
	attach(t, dead, "ann", t0)
	beat(t, dead, t0)
	beatSteadily(t, a, t0, t0.Add(DefaultNodeTimeout+DefaultNodeTimeout/3))
	if n := logs.count("redisstore: processes taken for dead"); n != 1 {
		t.Fatalf("%d logs of processes taken for dead; want 1", n)
	}

	addr, proc := ownRedis(t)
	c := faultClient(t, addr)
	s := newStoreOn(t, c, freshPrefix(), WithLogger(slog.New(logs)))
	beat(t, s, t0)
	pause(t, proc)
	for i := range 3 {
		if err := s.Heartbeat(bg, t0.Add(time.Duration(i+1)*time.Second)); err == nil {
			t.Fatal("a heartbeat on a paused Redis went through")
		}
	}
	if n := logs.count("redisstore: heartbeat failed"); n != 1 {
		t.Fatalf("%d logs of failed heartbeats for a run of three; want 1", n)
	}
	if err := proc.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	beat(t, s, t0.Add(10*time.Second))
	if n := logs.count("redisstore: heartbeat through again"); n != 1 {
		t.Fatalf("%d logs of the heartbeat back; want 1", n)
	}
}

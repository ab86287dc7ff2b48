package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/epchat-go/epchat"
	"github.com/redis/go-redis/v9"
)

// Defaults of the options.
const (
	// DefaultPrefix is the deployment name used when WithPrefix is not given.
	DefaultPrefix = "epchat"
	// DefaultNodeTimeout is how long a process may go without a heartbeat
	// before the others take it for dead.
	DefaultNodeTimeout = 15 * time.Second
)

// sweepBatch bounds the work of one script call of a sweep or heartbeat,
// so that Redis, which runs one script at a time, stays responsive.
const sweepBatch = 64

// Store is an epchat.Store kept in Redis, shared by every Hub process of a
// deployment. It is safe for concurrent use. Create it with New and stop
// its heartbeat with Close.
type Store struct {
	c       redis.UniversalClient
	hot     caller // c's auto-pipeliner, for Message
	p       string // key prefix, "{name}:"
	node    string
	timeout time.Duration
	ops     atomic.Uint64 // ids of Message calls, for their idempotence

	epoch    atomic.Pointer[string] // the deployment's epoch this Store knows of
	mu       sync.Mutex             // guards watchers; held while a loss is handled
	watchers []func()               // WatchLoss

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once

	// The heartbeats that succeeded (see Heartbeat): the last one, and
	// the first since this Store last missed one.
	hbMu    sync.Mutex
	beatOK  time.Time
	beating time.Time
	failing bool // the last heartbeat failed (and was logged)

	log *slog.Logger
}

var (
	_ epchat.Store       = (*Store)(nil)
	_ epchat.LossWatcher = (*Store)(nil)
)

type config struct {
	prefix   string
	timeout  time.Duration
	manual   bool
	autopipe bool
	persist  bool // WithPersistenceAllowed
	log      *slog.Logger
}

// Option configures New.
type Option func(*config)

// WithPrefix names the deployment: every key of the Store starts with
// "{name}:", so several deployments (or test runs) can share one Redis.
// The braces make it a Redis Cluster hash tag: all keys of a deployment
// live in one hash slot, as the rules span rooms, users and invites in
// single atomic scripts. The name must be non-empty and have no braces.
// Default DefaultPrefix ("epchat").
func WithPrefix(name string) Option { return func(c *config) { c.prefix = name } }

// WithNodeTimeout sets how long this process may go without a heartbeat
// before the other processes take it for dead and count its connections as
// gone since its last heartbeat. The heartbeat runs every third of it. It
// should be shorter than the Hub's reconnect grace, so that the members of
// a dead process are freed one grace after its death, and at least a
// second. Every process of a deployment should use the same value.
// Default DefaultNodeTimeout (15 s).
func WithNodeTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// WithAutoPipeline sends the calls that many goroutines make at once
// (Message, the Broker's publishes) through the client's auto-pipeliner
// (go-redis's AutoPipeline, shared with the client's other users), so that
// concurrent calls share a write and a read of one connection. It spares
// Redis CPU when many calls are in flight at once (see the README's
// figures), and costs the process some. Default: off, the client is used
// as is. Give it to the Broker too.
func WithAutoPipeline() Option { return func(c *config) { c.autopipe = true } }

// WithManualHeartbeat starts no heartbeat goroutine: the application calls
// Heartbeat itself, at least every third of the node timeout, with its own
// clock (for example the clock it drives the Hub with in tests). Default:
// New starts a goroutine that beats with the wall clock.
func WithManualHeartbeat() Option { return func(c *config) { c.manual = true } }

// WithLogger has the Store log what an operator needs of its heartbeats,
// with node ids and counts only: a heartbeat that failed (once, until one
// goes through again, which is logged too, with how long it took), and
// the processes this one took for dead, or found alive again. Default:
// nothing is logged.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.log = l } }

// WithPersistenceAllowed lets New use a Redis that writes its data to
// disk, or one whose settings it cannot read (CONFIG refused, as on some
// managed services). Without it New refuses them (see New). With it, the
// host answers for what a restart brings back: a Redis that reloads a
// snapshot or an append-only file comes back with the deployment as it was
// then, under the same epoch, so the processes do not see a loss: invites
// used since are valid again, members kicked since are seated again,
// and seq numbers are given out a second time.
func WithPersistenceAllowed() Option { return func(c *config) { c.persist = true } }

// New returns a Store on the Redis behind client, which the caller keeps
// owning (Close does not close it). It loads the scripts, so an unreachable
// Redis is reported here. It refuses a Redis that writes its data to disk
// (CONFIG GET save not empty, or appendonly yes, on any master), unless
// WithPersistenceAllowed: the deployment's rooms, members and invites are
// to live in memory only, and a Redis that reloads old data on a restart
// brings spent invites and kicked members back. Unless WithManualHeartbeat is given, it records
// a first heartbeat and starts the heartbeat goroutine; Close stops it.
func New(client redis.UniversalClient, opts ...Option) (*Store, error) {
	cfg := config{prefix: DefaultPrefix, timeout: DefaultNodeTimeout}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.prefix == "" || strings.ContainsAny(cfg.prefix, "{}") {
		return nil, fmt.Errorf("redisstore: prefix %q must be non-empty, without braces", cfg.prefix)
	}
	if cfg.timeout < time.Second {
		return nil, fmt.Errorf("redisstore: node timeout %v is under a second", cfg.timeout)
	}
	if client == nil {
		return nil, errors.New("redisstore: nil client")
	}
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("redisstore: node id: %w", err)
	}
	s := &Store{
		c:       client,
		hot:     hotPath(client, cfg.autopipe),
		p:       "{" + cfg.prefix + "}:",
		node:    hex.EncodeToString(id[:]),
		timeout: cfg.timeout,
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		log:     cfg.log,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	ctx := context.Background()
	if !cfg.persist {
		if err := checkMemoryOnly(ctx, client); err != nil {
			return nil, err
		}
	}
	if err := loadLibrary(ctx, client); err != nil {
		return nil, err
	}
	e, err := s.newEpoch(ctx)
	if err != nil {
		return nil, err
	}
	s.epoch.Store(&e)
	if cfg.manual {
		close(s.done)
		return s, nil
	}
	if err := s.Heartbeat(ctx, time.Now()); err != nil {
		return nil, err
	}
	go s.beat()
	return s, nil
}

// Node returns the id of this process in the deployment: random, new for
// every Store. It is safe to log.
func (s *Store) Node() string { return s.node }

// Close stops the heartbeat goroutine. It does not close the Redis client
// and does not end the node's connections: the other processes take it for
// dead after the node timeout, unless its connections were detached.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.done
	})
	return nil
}

func (s *Store) beat() {
	defer close(s.done)
	every := s.timeout / 3
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), every)
			// A failed beat is retried at the next tick; if Redis stays
			// away, every other call of the Hub fails too and says so.
			_ = s.Heartbeat(ctx, now)
			cancel()
		}
	}
}

// Heartbeat records that this process is alive at now and does the
// deployment's node housekeeping: it reaps the processes whose last
// heartbeat is older than the node timeout (their users' connections are
// counted as gone since that heartbeat, so the sweeps free their seats)
// and, if this process was itself taken for dead, revives its connections.
// Several processes may run it at once. The heartbeat goroutine calls it;
// with WithManualHeartbeat the application must.
//
// A process reaps others only once its own heartbeats have gone through,
// none missed (none more than two thirds of the node timeout after the
// one before), for a whole node timeout. After Redis was unreachable or
// paused, or this process stalled, every process's last heartbeat is old:
// the first to reach Redis again would take all the others for dead and
// free the seats of members still connected to them. Waiting a timeout
// gives the others the time to beat again; a process truly dead is then
// reaped a node timeout later at most.
func (s *Store) Heartbeat(ctx context.Context, now time.Time) error {
	n := encTime(now)
	s.hbMu.Lock()
	if s.beatOK.IsZero() || now.Sub(s.beatOK) > 2*s.timeout/3 {
		s.beating = now // missed one, or the first: start counting again
	}
	reap := !now.Before(s.beating.Add(s.timeout))
	s.hbMu.Unlock()
	deadline := "" // reap nobody
	if reap {
		deadline = encTime(now.Add(-s.timeout))
	}
	var revived, reaped, removed int64
	for {
		vals, err := s.call(ctx, s.c, scriptHeartbeat, "nodes",
			s.node, n, msScore(n), msScore(deadline), sweepBatch).Slice()
		if err != nil {
			err = mapErr(err)
			s.beatFailed(err)
			return err
		}
		r := &reply{vals: vals}
		more := r.int()
		revived += r.int()
		reaped += r.int()
		removed += r.int()
		if r.err != nil {
			s.beatFailed(r.err)
			return r.err
		}
		if more == 0 {
			break
		}
	}
	s.hbMu.Lock()
	last, failing := s.beatOK, s.failing
	if now.After(s.beatOK) {
		s.beatOK = now
	}
	s.failing = false
	s.hbMu.Unlock()
	if failing {
		s.log.Info("redisstore: heartbeat through again", "node", s.node, "since_last", now.Sub(last).Round(time.Millisecond))
	}
	if revived > 0 {
		s.log.Warn("redisstore: this process was taken for dead; its connections count again", "node", s.node, "users", revived)
	}
	if reaped > 0 || removed > 0 {
		s.log.Warn("redisstore: processes taken for dead", "node", s.node, "nodes", removed, "users", reaped)
	}
	return nil
}

// beatFailed logs a failed heartbeat, once until one goes through.
func (s *Store) beatFailed(err error) {
	s.hbMu.Lock()
	first := !s.failing
	s.failing = true
	s.hbMu.Unlock()
	if first {
		s.log.Error("redisstore: heartbeat failed", "node", s.node, "err", err)
	}
}

func (s *Store) run(ctx context.Context, sc *script, key string, args ...any) *redis.Cmd {
	return s.call(ctx, s.c, sc, key, args...)
}

// call calls sc's function through via, with the key P+key, the prefix
// and this Store's epoch, then args. A call that finds the epoch changed
// fails with errLost and has the Store handle the loss (see lost).
func (s *Store) call(ctx context.Context, via caller, sc *script, key string, args ...any) *redis.Cmd {
	e := *s.epoch.Load()
	cmd := fcall(ctx, via, s.c, sc, []string{s.p + key}, append([]any{s.p + e}, args...)...)
	if isLost(cmd.Err()) {
		s.lost(ctx, e)
	}
	return cmd
}

// newEpoch sets the deployment's epoch in Redis unless it has one, and
// returns it.
func (s *Store) newEpoch(ctx context.Context) (string, error) {
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", err
	}
	e, err := fcall(ctx, s.c, s.c, scriptEpoch, []string{s.p + "epoch"}, s.p, hex.EncodeToString(id[:])).Text()
	if err != nil {
		return "", mapErr(err)
	}
	return e, nil
}

// lost handles the loss of the deployment's data that a call made with
// epoch found: once per epoch, it tells the watchers (WatchLoss), then
// adopts the deployment's new epoch. Until it has, calls fail with
// errLost without telling the watchers again.
func (s *Store) lost(ctx context.Context, epoch string) {
	s.mu.Lock()
	if *s.epoch.Load() != epoch {
		s.mu.Unlock()
		return // handled already
	}
	if epoch != epochPending {
		for _, f := range s.watchers {
			f()
		}
	}
	pending := epochPending
	s.epoch.Store(&pending)
	s.mu.Unlock()
	if e, err := s.newEpoch(ctx); err == nil {
		s.epoch.CompareAndSwap(&pending, &e)
	}
}

// epochPending is the epoch of a Store that lost its data and has not yet
// adopted the new epoch: it matches no epoch key, so calls fail until it
// has.
const epochPending = "-"

// WatchLoss implements epchat.LossWatcher: f is called when a call (or a
// heartbeat) finds that Redis lost the deployment's data, restarted
// empty or flushed. Redis keeps an epoch key, set by the first Store of a
// deployment; every call checks it in the same atomic step as it acts, so
// no call acts on data other than the data it knows of. f is called
// before the Store uses the new epoch; it must return soon and must not
// call the Store.
func (s *Store) WatchLoss(f func()) {
	s.mu.Lock()
	s.watchers = append(s.watchers, f)
	s.mu.Unlock()
}

// CreateUser implements epchat.Store.
// The users are counted in one key, which CreateUser and the deletions
// keep; a deployment upgraded in place counts the users made since.
func (s *Store) CreateUser(ctx context.Context, u epchat.User, maxUsers int) error {
	return mapErr(s.run(ctx, scriptCreateUser, "u:"+u.ID,
		u.ID, u.Nickname, hexHash(u.Token), encTime(u.SeenAt), encTime(u.DetachedAt), maxUsers).Err())
}

// DeleteUser implements epchat.Store.
func (s *Store) DeleteUser(ctx context.Context, user string, _ time.Time) ([]epchat.LeaveResult, error) {
	vals, err := s.run(ctx, scriptDeleteUser, "u:"+user, user).Slice()
	if err != nil {
		return nil, mapErr(err)
	}
	r := &reply{vals: vals}
	var out []epchat.LeaveResult
	for r.more() {
		l := r.list()
		out = append(out, l.leave())
		if l.err != nil {
			return nil, errReply
		}
	}
	return out, r.err
}

// UserByToken implements epchat.Store.
func (s *Store) UserByToken(ctx context.Context, token epchat.TokenHash) (epchat.User, error) {
	vals, err := s.run(ctx, scriptUserByToken, "t:"+hexHash(token), hexHash(token)).Slice()
	if err != nil {
		return epchat.User{}, mapErr(err)
	}
	r := &reply{vals: vals}
	u := epchat.User{
		ID:       r.str(),
		Nickname: r.str(),
		Token:    token,
		SeenAt:   r.time(),
	}
	u.Conns = int(r.int())
	u.DetachedAt = r.time()
	return u, r.err
}

// Attach implements epchat.Store. The connection is counted on this
// process's node, so that it is counted as gone if the process dies.
func (s *Store) Attach(ctx context.Context, user string, now time.Time) error {
	return mapErr(s.run(ctx, scriptAttach, "u:"+user, user, s.node, encTime(now)).Err())
}

// Detach implements epchat.Store. It ends a connection counted on this
// process's node; Conns never goes below the connections of the other
// processes.
func (s *Store) Detach(ctx context.Context, user string, now time.Time) error {
	return mapErr(s.run(ctx, scriptDetach, "u:"+user, user, s.node, encTime(now)).Err())
}

// TouchUser implements epchat.Store.
func (s *Store) TouchUser(ctx context.Context, user string, now time.Time) error {
	return mapErr(s.run(ctx, scriptTouch, "u:"+user, user, encTime(now)).Err())
}

// CreateRoom implements epchat.Store.
func (s *Store) CreateRoom(ctx context.Context, r epchat.Room, owner *epchat.Member, maxRooms int) error {
	seated, mid, mval := "0", "", ""
	if owner != nil {
		seated, mid, mval = "1", owner.ID, memberValue(*owner)
	}
	return mapErr(s.run(ctx, scriptCreateRoom, "r:"+r.ID,
		r.ID, r.Owner, r.Limit, encTime(r.CreatedAt), encTime(r.ActiveAt),
		strconv.FormatUint(r.Seq, 10), seated, mid, mval, maxRooms).Err())
}

// Room implements epchat.Store.
func (s *Store) Room(ctx context.Context, room string) (epchat.Room, []epchat.Member, error) {
	vals, err := s.run(ctx, scriptRoom, "r:"+room, room).Slice()
	if err != nil {
		return epchat.Room{}, nil, mapErr(err)
	}
	r := &reply{vals: vals}
	rm, ms := r.room()
	return rm, ms, r.err
}

// Rooms implements epchat.Store. It is not one snapshot: a room created or
// closed while it runs may or may not be listed.
func (s *Store) Rooms(ctx context.Context) ([]epchat.RoomInfo, error) {
	ids, err := s.c.ZRange(ctx, s.p+"rooms", 0, -1).Result()
	if err != nil {
		return nil, mapErr(err)
	}
	out := make([]epchat.RoomInfo, 0, len(ids))
	for len(ids) > 0 {
		n := min(len(ids), 256)
		args := make([]any, n)
		for i, id := range ids[:n] {
			args[i] = id
		}
		ids = ids[n:]
		vals, err := s.run(ctx, scriptRoomsInfo, "rooms", args...).Slice()
		if err != nil {
			return nil, mapErr(err)
		}
		for _, v := range vals {
			vs, _ := v.([]any)
			r := &reply{vals: vs}
			ri := epchat.RoomInfo{Room: epchat.Room{
				ID:        r.str(),
				Owner:     r.str(),
				Limit:     int(r.int()),
				CreatedAt: r.time(),
				ActiveAt:  r.time(),
				Seq:       r.uint(),
				Locked:    r.int() == 1,
			}}
			ri.Members = int(r.int())
			if r.err != nil {
				return nil, r.err
			}
			out = append(out, ri)
		}
	}
	return out, nil
}

// UserRooms implements epchat.Store.
func (s *Store) UserRooms(ctx context.Context, user string) ([]string, error) {
	ids, err := s.c.SMembers(ctx, s.p+"ur:"+user).Result()
	return ids, mapErr(err)
}

// CloseRoom implements epchat.Store.
func (s *Store) CloseRoom(ctx context.Context, room string) (epchat.ClosedRoom, error) {
	vals, err := s.run(ctx, scriptCloseRoom, "r:"+room, room).Slice()
	if err != nil {
		return epchat.ClosedRoom{}, mapErr(err)
	}
	r := &reply{vals: vals}
	rm, ms := r.room()
	return epchat.ClosedRoom{Room: rm, Members: ms}, r.err
}

// inviteBackstop is how long after its expiry an invite's key lives at
// most, should no ExpireInvites run: a garbage backstop, never the rule
// (the rule compares ExpiresAt with the now of each call).
const inviteBackstop = time.Hour

// CreateInvite implements epchat.Store.
func (s *Store) CreateInvite(ctx context.Context, inv epchat.Invite, by string, now time.Time) error {
	owner := "0"
	if inv.Owner {
		owner = "1"
	}
	ttl := max(inv.ExpiresAt.Sub(now), 0) + inviteBackstop
	return mapErr(s.run(ctx, scriptCreateInvite, "r:"+inv.Room,
		hexHash(inv.Token), inv.Room, owner, encTime(inv.ExpiresAt), by, encTime(now),
		ttl.Milliseconds()).Err())
}

// Invite implements epchat.Store.
func (s *Store) Invite(ctx context.Context, token epchat.TokenHash, now time.Time) (epchat.Invite, error) {
	vals, err := s.run(ctx, scriptInvite, "i:"+hexHash(token), hexHash(token), encTime(now)).Slice()
	if err != nil {
		return epchat.Invite{}, mapErr(err)
	}
	r := &reply{vals: vals}
	inv := epchat.Invite{Token: token, Room: r.str(), Owner: r.str() == "1"}
	inv.ExpiresAt = r.time()
	return inv, r.err
}

// Redeem implements epchat.Store.
func (s *Store) Redeem(ctx context.Context, token epchat.TokenHash, m epchat.Member, now time.Time, maxRooms int) (epchat.Room, error) {
	vals, err := s.run(ctx, scriptRedeem, "i:"+hexHash(token),
		hexHash(token), m.ID, memberValue(m), encTime(now), maxRooms, epchat.NicknameKey(m.Nickname)).Slice()
	if err != nil {
		return epchat.Room{}, mapErr(err)
	}
	r := &reply{vals: vals}
	rm, _ := r.room()
	return rm, r.err
}

// Leave implements epchat.Store.
func (s *Store) Leave(ctx context.Context, room, user string) (epchat.LeaveResult, error) {
	vals, err := s.run(ctx, scriptLeave, "r:"+room, room, user).Slice()
	if err != nil {
		return epchat.LeaveResult{}, mapErr(err)
	}
	r := &reply{vals: vals}
	res := r.leave()
	return res, r.err
}

// Kick implements epchat.Store.
func (s *Store) Kick(ctx context.Context, room, by, member string) (epchat.LeaveResult, error) {
	vals, err := s.run(ctx, scriptKick, "r:"+room, room, by, member).Slice()
	if err != nil {
		return epchat.LeaveResult{}, mapErr(err)
	}
	r := &reply{vals: vals}
	res := r.leave()
	return res, r.err
}

// SetLocked implements epchat.Store.
func (s *Store) SetLocked(ctx context.Context, room, by string, locked bool) error {
	v := "0"
	if locked {
		v = "1"
	}
	return mapErr(s.run(ctx, scriptSetLocked, "r:"+room, room, by, v).Err())
}

// Message implements epchat.Store. It is one function call on the room's
// keys, safe to send again (see scriptMessage).
func (s *Store) Message(ctx context.Context, room, user string, now time.Time) (uint64, error) {
	op := strconv.FormatUint(s.ops.Add(1), 36)
	seq, err := s.call(ctx, s.hot, scriptMessage, "r:"+room,
		room, user, encTime(now), s.node, op).Int64()
	if err != nil {
		return 0, mapErr(err)
	}
	return uint64(seq), nil
}

// sweep runs a sweep script until it reports no more work and hands each
// result to each.
func (s *Store) sweep(ctx context.Context, sc *script, index string, at time.Time, each func(*reply), extra ...any) error {
	a := encTime(at)
	for {
		vals, err := s.run(ctx, sc, index, append([]any{a, msScore(a), sweepBatch}, extra...)...).Slice()
		if err != nil {
			return mapErr(err)
		}
		r := &reply{vals: vals}
		more := r.int()
		for r.more() {
			each(r)
		}
		if r.err != nil {
			return r.err
		}
		if more == 0 {
			return nil
		}
	}
}

// CloseIdleRooms implements epchat.Store. Several processes may run it at
// once: each closed room is returned by exactly one of them.
func (s *Store) CloseIdleRooms(ctx context.Context, before time.Time) ([]epchat.ClosedRoom, error) {
	var out []epchat.ClosedRoom
	err := s.sweep(ctx, scriptCloseIdle, "rooms", before, func(r *reply) {
		rm, ms := r.list().room()
		out = append(out, epchat.ClosedRoom{Room: rm, Members: ms})
	})
	return out, err
}

func departures(out *[]epchat.Departure) func(*reply) {
	return func(r *reply) {
		d := r.list()
		dep := epchat.Departure{User: d.str()}
		left := d.list()
		for left.more() {
			dep.Left = append(dep.Left, left.list().leave())
		}
		if d.err != nil || left.err != nil {
			r.err = errReply
		}
		*out = append(*out, dep)
	}
}

// VacateUsers implements epchat.Store. A user whose connections were on a
// process that died is vacated as if detached at that process's last
// heartbeat, once some live process's Heartbeat has reaped it. Several
// processes may run it at once: each user is returned by exactly one.
func (s *Store) VacateUsers(ctx context.Context, before time.Time) ([]epchat.Departure, error) {
	var out []epchat.Departure
	err := s.sweep(ctx, scriptVacate, "detached", before, departures(&out))
	return out, err
}

// ForgetUsers implements epchat.Store. Several processes may run it at
// once: each user is returned by exactly one.
func (s *Store) ForgetUsers(ctx context.Context, before, seatless time.Time) ([]epchat.Departure, error) {
	var out []epchat.Departure
	if seatless.Before(before) {
		seatless = before // the index is walked to the later cut
	}
	err := s.sweep(ctx, scriptForget, "seen", seatless, departures(&out), encTime(before))
	return out, err
}

// ExpireInvites implements epchat.Store. Several processes may run it at
// once: each invite is counted by exactly one.
func (s *Store) ExpireInvites(ctx context.Context, now time.Time) (int, error) {
	n := 0
	err := s.sweep(ctx, scriptExpireInvites, "invites", now, func(r *reply) {
		r.next()
		n++
	})
	return n, err
}

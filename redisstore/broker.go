package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/epchat-go/epchat"
	"github.com/redis/go-redis/v9"
)

// subscribeTimeout bounds the wait for Redis to confirm the subscription.
const subscribeTimeout = 10 * time.Second

// healthInterval is how long the subscription's connection may be quiet
// before the Broker pings it (go-redis's channel's default). A connection
// on which nothing came for three intervals, not even the answers to
// those pings, is dead however it looks (a network that drops packets
// without a reset): the Broker drops it, and the client connects and
// subscribes again.
const healthInterval = 3 * time.Second

// Broker is an epchat.Broker on Redis pub/sub: it carries each room's
// events between the Hub processes of a deployment, next to the Store that
// keeps the rules. Each room has a channel, "{name}:room:<room id>" (name
// set by WithPrefix, as for the Store), and so has each user,
// "{name}:user:<user id>", which carries what the user's connections on
// other processes must learn (that the user joined a room, a history sent
// to them, a session ended or connected; see PublishUser). A process subscribes to the
// channels of the rooms it has members in and of the users it has
// connections of, and so receives nothing of the others. It implements
// epchat.RoomBroker (the Hub tells it which rooms and users it serves) and
// epchat.MessagePublisher (a message's seq and its event are one function
// call in Redis).
//
// On a Redis Cluster (a *redis.ClusterClient) the channels are shard
// channels (SSUBSCRIBE, SPUBLISH): a deployment's keys and channels share
// its hash tag, so they live on one shard.
//
// Order: the messages of calls to Publish that do not overlap (the Hub
// publishes a room's events one at a time, under the room's lock) reach
// every subscriber in the order of the calls, whatever pooled connection
// each used, since Redis handles one command at a time and pushes a
// message to its subscribers before answering PUBLISH; a process reads
// all its channels on one connection, so the users' channels keep that
// order with the rooms' channels. Different processes' messages are not
// ordered with each other; members order a room's messages by seq (see
// PROTOCOL.md).
//
// Pub/sub delivers at most once: a message published while a subscriber's
// connection is down (it reconnects and subscribes again by itself) is
// lost for that subscriber.
//
// A Broker is safe for concurrent use. Messages are bytes, passed as is.
type Broker struct {
	c       redis.UniversalClient
	hot     caller        // c's auto-pipeliner, for the publishes
	p       string        // key prefix, "{name}:", for PublishMessage
	channel string        // rooms' channel prefix, "{name}:room:"
	users   string        // users' channel prefix, "{name}:user:"
	own     string        // this Broker's channel, which nobody publishes to: Subscribe's first
	sharded bool          // a Cluster: SSUBSCRIBE and SPUBLISH
	node    string        // this Broker's id, for PublishMessage's idempotence
	health  time.Duration // healthInterval; shorter in tests
	ops     atomic.Uint64

	mu      sync.Mutex
	store   *Store            // set by Keeps
	ps      *redis.PubSub     // nil until Subscribe, and after stop
	pending map[string]*waits // Serve calls not confirmed, per channel
	todo    []subOp           // for the subscribing goroutine, in order
	wake    chan struct{}     // a token when todo is not empty
	served  atomic.Int64      // rooms subscribed to (Serve less Unserve)
	usersIn atomic.Int64      // users subscribed to (ServeUser less UnserveUser)
}

// waits are the Serve (or ServeUser) calls of one channel that Redis has
// not confirmed yet, oldest first. Each SUBSCRIBE sent gets its own
// confirmation, in order, so a confirmation closes the oldest wait; but a
// connection that breaks loses the commands in flight, and the client's
// resubscription on the new connection confirms each channel of its set
// once. So when the connection breaks (lost), the waits of a channel
// unserved since are closed (no confirmation will come, and nobody needs
// it), and those of a channel still served are all closed by its next
// confirmation (flush). Without that, a lost SUBSCRIBE's wait took the
// confirmation of the channel's next Serve, which then never had one.
type waits struct {
	chans    []chan struct{}
	unserved bool // an Unserve came after the last Serve
	flush    bool // the next confirmation closes every wait
}

// subOp is a SUBSCRIBE (sub) or UNSUBSCRIBE of a room's or a user's
// channel.
type subOp struct {
	channel string
	sub     bool
}

var (
	_ epchat.StoreChecker     = (*Broker)(nil)
	_ epchat.Broker           = (*Broker)(nil)
	_ epchat.RoomBroker       = (*Broker)(nil)
	_ epchat.MessagePublisher = (*Broker)(nil)
	_ epchat.MessageBatcher   = (*Broker)(nil)
)

// NewBroker returns a Broker on the Redis behind client, which the caller
// keeps owning. Of the options only WithPrefix and WithAutoPipeline apply:
// give it the same name as the deployment's Stores. It does not contact Redis; Subscribe
// does, and reports an unreachable Redis.
func NewBroker(client redis.UniversalClient, opts ...Option) (*Broker, error) {
	cfg := config{prefix: DefaultPrefix}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.prefix == "" || strings.ContainsAny(cfg.prefix, "{}") {
		return nil, fmt.Errorf("redisstore: prefix %q must be non-empty, without braces", cfg.prefix)
	}
	if client == nil {
		return nil, errors.New("redisstore: nil client")
	}
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("redisstore: broker id: %w", err)
	}
	p := "{" + cfg.prefix + "}:"
	_, sharded := client.(*redis.ClusterClient)
	node := "b" + hex.EncodeToString(id[:])
	return &Broker{
		c:       client,
		hot:     hotPath(client, cfg.autopipe),
		p:       p,
		channel: p + "room:",
		users:   p + "user:",
		own:     p + "node:" + node,
		sharded: sharded,
		node:    node,
		health:  healthInterval,
		pending: make(map[string]*waits),
		wake:    make(chan struct{}, 1),
	}, nil
}

// errNoRoom is Publish's error for an event of no room: the Hub sends
// those with PublishUser.
var errNoRoom = errors.New("redisstore: publish: an event of no room goes to a user's channel (PublishUser)")

// Publish implements epchat.Broker: one PUBLISH of msg on room's channel.
func (b *Broker) Publish(ctx context.Context, room string, msg []byte) error {
	if room == "" {
		return errNoRoom
	}
	return b.publish(ctx, b.channel+room, msg)
}

// PublishUser implements epchat.RoomBroker: one PUBLISH on user's
// channel, which the processes with connections of user subscribe to.
func (b *Broker) PublishUser(ctx context.Context, user string, msg []byte) error {
	return b.publish(ctx, b.users+user, msg)
}

func (b *Broker) publish(ctx context.Context, channel string, msg []byte) error {
	var err error
	if b.sharded {
		err = b.hot.SPublish(ctx, channel, msg).Err()
	} else {
		err = b.hot.Publish(ctx, channel, msg).Err()
	}
	if err != nil {
		return fmt.Errorf("redisstore: publish: %w", err)
	}
	return nil
}

// CheckStore implements epchat.StoreChecker: a Store of this package with
// another prefix is an error (the Hub's New fails with it). Its
// deployment's processes would take the rules from one place and their
// events from another, and never hear each other.
func (b *Broker) CheckStore(store epchat.Store) error {
	if s, ok := store.(*Store); ok && s.p != b.p {
		return fmt.Errorf("redisstore: the Broker's prefix %q is not its Store's %q: give both the same WithPrefix", strings.Trim(b.p, "{}:"), strings.Trim(s.p, "{}:"))
	}
	return nil
}

// Keeps implements epchat.MessagePublisher: true for a Store of the same
// deployment (prefix). PublishMessage then calls through that Store, with
// its epoch (see Store.WatchLoss).
func (b *Broker) Keeps(store epchat.Store) bool {
	s, ok := store.(*Store)
	if !ok || s.p != b.p {
		return false
	}
	b.mu.Lock()
	b.store = s
	b.mu.Unlock()
	return true
}

// PublishMessage implements epchat.MessagePublisher: Store.Message and the
// PUBLISH of the event, in one function call, sent again safely after a
// lost reply (see scriptMessage).
func (b *Broker) PublishMessage(ctx context.Context, room, user string, now time.Time, head, tail []byte) (uint64, error) {
	cmd, op := b.publishing()
	seq, err := b.callRoom(ctx, scriptMessage, room,
		room, user, encTime(now), b.node, op, cmd, b.channel+room, head, tail).Int64()
	if err != nil {
		return 0, mapErr(err)
	}
	return uint64(seq), nil
}

// PublishMessages implements epchat.MessageBatcher: PublishMessage for
// several messages of one room in one function call (see scriptMessages).
func (b *Broker) PublishMessages(ctx context.Context, room string, now time.Time, msgs []epchat.BatchMessage) error {
	cmd, op := b.publishing()
	args := make([]any, 0, 7+3*len(msgs))
	args = append(args, room, encTime(now), b.node, op, cmd, b.channel+room, len(msgs))
	for _, m := range msgs {
		args = append(args, m.User, m.Head, m.Tail)
	}
	seqs, err := b.callRoom(ctx, scriptMessages, room, args...).Int64Slice()
	if err != nil {
		return mapErr(err)
	}
	if len(seqs) != len(msgs) {
		return fmt.Errorf("redisstore: %d seqs for %d messages", len(seqs), len(msgs))
	}
	for i, seq := range seqs {
		if seq > 0 {
			msgs[i].Seq = uint64(seq)
		} else {
			msgs[i].Err = epchat.ErrNotMember
		}
	}
	return nil
}

// publishing returns the publish command of the deployment's channels and
// a new op id, which makes a message call idempotent.
func (b *Broker) publishing() (cmd, op string) {
	cmd = "PUBLISH"
	if b.sharded {
		cmd = "SPUBLISH"
	}
	return cmd, strconv.FormatUint(b.ops.Add(1), 36)
}

// callRoom calls sc on room's key: through the deployment's Store once
// Keeps has found it (with its epoch, see Store.WatchLoss), or else
// directly, with the key prefix where the Store puts its epoch key.
func (b *Broker) callRoom(ctx context.Context, sc *script, room string, args ...any) *redis.Cmd {
	b.mu.Lock()
	s := b.store
	b.mu.Unlock()
	if s != nil {
		return s.call(ctx, b.hot, sc, "r:"+room, args...)
	}
	return fcall(ctx, b.hot, b.c, sc, []string{b.p + "r:" + room}, append([]any{b.p}, args...)...)
}

// Serve implements epchat.RoomBroker: it queues a SUBSCRIBE to room's
// channel; the channel returned is closed when Redis confirms it.
func (b *Broker) Serve(room string) <-chan struct{} {
	return b.sub(b.channel+room, &b.served)
}

// Unserve implements epchat.RoomBroker: it queues an UNSUBSCRIBE.
func (b *Broker) Unserve(room string) { b.unsub(b.channel+room, &b.served) }

// ServeUser implements epchat.RoomBroker: it queues a SUBSCRIBE to user's
// channel; the channel returned is closed when Redis confirms it.
func (b *Broker) ServeUser(user string) <-chan struct{} {
	return b.sub(b.users+user, &b.usersIn)
}

// UnserveUser implements epchat.RoomBroker: it queues an UNSUBSCRIBE.
func (b *Broker) UnserveUser(user string) { b.unsub(b.users+user, &b.usersIn) }

func (b *Broker) sub(ch string, count *atomic.Int64) <-chan struct{} {
	ready := make(chan struct{})
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ps == nil {
		close(ready) // not subscribed, or stopped: nothing to wait for
		return ready
	}
	w := b.pending[ch]
	if w == nil {
		w = &waits{}
		b.pending[ch] = w
	}
	w.chans = append(w.chans, ready)
	w.unserved = false
	b.queueLocked(subOp{channel: ch, sub: true})
	count.Add(1)
	return ready
}

func (b *Broker) unsub(ch string, count *atomic.Int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ps == nil {
		return
	}
	if w := b.pending[ch]; w != nil {
		w.unserved = true
	}
	b.queueLocked(subOp{channel: ch})
	count.Add(-1)
}

func (b *Broker) queueLocked(op subOp) {
	b.todo = append(b.todo, op)
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// Served is how many rooms this Broker is subscribed to for its Hub.
func (b *Broker) Served() int { return int(b.served.Load()) }

// ServedUsers is how many users this Broker is subscribed to for its Hub.
func (b *Broker) ServedUsers() int { return int(b.usersIn.Load()) }

// Subscribe implements epchat.Broker. It subscribes to a channel of its
// own ("{name}:node:<id>", which nobody publishes to) on a connection of
// its own, and returns once Redis confirmed it, or with the error that
// prevented it; the rooms' and users' channels are added and removed on
// that connection as the Hub serves them (Serve, Unserve, ServeUser,
// UnserveUser).
// deliver is called from one goroutine; stop ends the subscription and
// returns once that goroutine has returned and deliver will not be called
// again. The Broker pings the subscription's connection when it is quiet
// (3 s), and drops it when nothing came for three times that, not even
// the answers; the client connects it again, and subscribes again to
// every channel, when it breaks or is dropped.
func (b *Broker) Subscribe(deliver func(room string, msg []byte)) (stop func(), err error) {
	ctx, cancel := context.WithTimeout(context.Background(), subscribeTimeout)
	defer cancel()
	var ps *redis.PubSub
	if b.sharded {
		ps = b.c.SSubscribe(ctx, b.own)
	} else {
		ps = b.c.Subscribe(ctx, b.own)
	}
	// Subscribe does not wait for Redis: the first reply is the
	// confirmation, or an error.
	if _, err := ps.Receive(ctx); err != nil {
		ps.Close()
		return nil, fmt.Errorf("redisstore: subscribe: %w", err)
	}
	b.mu.Lock()
	b.ps = ps
	b.mu.Unlock()
	quit := make(chan struct{})
	var got atomic.Bool // something came since the last health check
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		b.subscribing(ps, quit)
	}()
	go func() {
		defer wg.Done()
		healthCheck(ps, &got, quit, b.health, b.lost)
	}()
	go func() {
		defer wg.Done()
		// Received on this goroutine and delivered from it, with no hop
		// through a channel: one goroutine wake-up less per event. The
		// client reconnects the connection, and subscribes again to
		// every channel, when a read fails.
		fails := 0
		for {
			m, err := ps.ReceiveTimeout(context.Background(), 3*b.health)
			if isTimeout(err) {
				// Nothing came, not even the pongs: the connection is
				// dead without having failed.
				m, err = receiveOrDrop(ps)
			}
			if err != nil {
				if errors.Is(err, redis.ErrClosed) {
					return
				}
				select {
				case <-quit:
					return
				default:
				}
				b.lost() // the client connects again at the next read
				if fails++; fails > 1 {
					time.Sleep(100 * time.Millisecond) // as the client's own channel backs off
				}
				continue
			}
			fails = 0
			got.Store(true)
			switch m := m.(type) {
			case *redis.Message:
				if room, ok := strings.CutPrefix(m.Channel, b.channel); ok {
					deliver(room, []byte(m.Payload))
				} else if strings.HasPrefix(m.Channel, b.users) {
					deliver("", []byte(m.Payload)) // about a user, not a room
				}
			case *redis.Subscription:
				if m.Kind == "subscribe" || m.Kind == "ssubscribe" {
					b.confirmed(m.Channel)
				}
			}
		}
	}()
	return func() {
		b.mu.Lock()
		b.ps = nil
		for ch, w := range b.pending {
			for _, r := range w.chans {
				close(r)
			}
			delete(b.pending, ch)
		}
		b.mu.Unlock()
		close(quit)
		ps.Close()
		wg.Wait()
	}, nil
}

// healthCheck pings the subscription's connection when nothing came on
// it for a while, as the client's own channel does: a connection that
// broke while quiet fails the write, and the client reconnects it.
// A failed ping is a broken connection (lost): the client may have made a
// new one within the call, where the receiving goroutine sees no failure.
func healthCheck(ps *redis.PubSub, got *atomic.Bool, quit <-chan struct{}, every time.Duration, lost func()) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-quit:
			return
		case <-t.C:
		}
		if got.Swap(false) {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), subscribeTimeout)
		if ps.Ping(ctx) != nil { // the connection breaks, for the client to make again
			lost()
		}
		cancel()
	}
}

// isTimeout tells a read that timed out.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// receiveOrDrop makes the client drop the subscription's connection,
// which it then connects again, subscribing to every channel. The client
// keeps a connection on which a read given a timeout timed out, and drops
// one on which a read failed otherwise; so this fails one, with a context
// that has already expired. A message the client had already buffered is
// returned instead (and the next silence drops the connection then).
func receiveOrDrop(ps *redis.PubSub) (any, error) {
	ctx, cancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel()
	return ps.Receive(ctx)
}

// confirmed closes the oldest Serve wait of channel, or all of them after
// a broken connection (see waits).
func (b *Broker) confirmed(channel string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	w := b.pending[channel]
	if w == nil {
		return
	}
	n := 1
	if w.flush {
		n = len(w.chans)
	}
	for _, r := range w.chans[:n] {
		close(r)
	}
	if w.chans = w.chans[n:]; len(w.chans) == 0 {
		delete(b.pending, channel)
	}
}

// lost is told that the subscription's connection broke (a read or a
// write failed): the commands in flight on it are lost (see waits).
func (b *Broker) lost() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch, w := range b.pending {
		if !w.unserved {
			w.flush = true
			continue
		}
		for _, r := range w.chans {
			close(r)
		}
		delete(b.pending, ch)
	}
}

// send sends one SUBSCRIBE or UNSUBSCRIBE.
func (b *Broker) send(ps *redis.PubSub, op subOp) error {
	ctx, cancel := context.WithTimeout(context.Background(), subscribeTimeout)
	defer cancel()
	switch {
	case op.sub && b.sharded:
		return ps.SSubscribe(ctx, op.channel)
	case op.sub:
		return ps.Subscribe(ctx, op.channel)
	case b.sharded:
		return ps.SUnsubscribe(ctx, op.channel)
	default:
		return ps.Unsubscribe(ctx, op.channel)
	}
}

// subscribing sends the queued SUBSCRIBE and UNSUBSCRIBE commands in
// order. A SUBSCRIBE whose write failed is sent once more (see the loop);
// the client subscribes again to its whole set when it reconnects.
func (b *Broker) subscribing(ps *redis.PubSub, quit <-chan struct{}) {
	for {
		select {
		case <-quit:
			return
		case <-b.wake:
		}
		b.mu.Lock()
		todo := b.todo
		b.todo = nil
		b.mu.Unlock()
		for _, op := range todo {
			err := b.send(ps, op)
			if err == nil {
				continue
			}
			// The write found the connection broken: the commands in
			// flight on it are lost (the receiving goroutine may not see
			// it fail: the client has made a new one within this call).
			b.lost()
			if op.sub {
				// The client subscribed the new connection to its set,
				// but adds the channel to the set only after the call:
				// the channel would be left out until the next reconnect.
				// Sent again, it is on the new connection; if that fails
				// too, the channel is in the set for the next reconnect.
				_ = b.send(ps, op)
			}
			// An UNSUBSCRIBE leaves the client's set before it is sent.
		}
	}
}

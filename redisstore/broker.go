package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/epchat-go/epchat"
	"github.com/redis/go-redis/v9"
)

// subscribeTimeout bounds the wait for Redis to confirm the subscription.
const subscribeTimeout = 10 * time.Second

// brokerQueue is how many received messages wait for the delivering
// goroutine before the receiving one blocks.
const brokerQueue = 1024

// Broker is an epchat.Broker on Redis pub/sub: it carries each room's
// events between the Hub processes of a deployment, next to the Store that
// keeps the rules. Publish is one PUBLISH on the room's channel,
// "{name}:room:<room id>" (name set by WithPrefix, as for the Store);
// Subscribe is one PSUBSCRIBE on "{name}:room:*", so every process gets
// every room's events and drops those of rooms it has no member of. That
// is simple and always correct; a SUBSCRIBE per room a process serves
// would spare Redis and the processes the events of other rooms, and
// scale further with many processes.
//
// Order: the messages of calls to Publish that do not overlap (the Hub
// publishes a room's events one at a time, under the room's lock) reach
// every subscriber in the order of the calls, whatever pooled connection
// each used, since Redis handles one command at a time and pushes a
// message to its subscribers before answering PUBLISH. Different
// processes' messages are not ordered with each other; members order a
// room's messages by seq (see PROTOCOL.md).
//
// Pub/sub delivers at most once: a message published while a subscriber's
// connection is down (it reconnects and subscribes again by itself) is
// lost for that subscriber.
//
// A Broker is safe for concurrent use. Messages are bytes, passed as is.
type Broker struct {
	c       redis.UniversalClient
	channel string // channel prefix, "{name}:room:"
	pattern string // PSUBSCRIBE pattern matching every room's channel
}

var _ epchat.Broker = (*Broker)(nil)

// NewBroker returns a Broker on the Redis behind client, which the caller
// keeps owning. Of the options only WithPrefix applies: give it the same
// name as the deployment's Stores. It does not contact Redis; Subscribe
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
	ch := "{" + cfg.prefix + "}:room:"
	return &Broker{c: client, channel: ch, pattern: globEscape(ch) + "*"}, nil
}

// globEscape quotes the characters special to Redis patterns.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Publish implements epchat.Broker: one PUBLISH of msg on room's channel.
func (b *Broker) Publish(ctx context.Context, room string, msg []byte) error {
	if err := b.c.Publish(ctx, b.channel+room, msg).Err(); err != nil {
		return fmt.Errorf("redisstore: publish: %w", err)
	}
	return nil
}

// Subscribe implements epchat.Broker. It subscribes to every room's
// channel on a connection of its own, and returns once Redis confirmed it,
// or with the error that prevented it. deliver is called from one
// goroutine; stop ends the subscription and returns once that goroutine
// has returned and deliver will not be called again. The client pings the
// subscription's connection when it is quiet and reconnects it, and
// subscribes again, when it breaks.
func (b *Broker) Subscribe(deliver func(room string, msg []byte)) (stop func(), err error) {
	ctx, cancel := context.WithTimeout(context.Background(), subscribeTimeout)
	defer cancel()
	ps := b.c.PSubscribe(ctx, b.pattern)
	// PSubscribe does not wait for Redis: the first reply is the
	// confirmation, or an error.
	if _, err := ps.Receive(ctx); err != nil {
		ps.Close()
		return nil, fmt.Errorf("redisstore: subscribe: %w", err)
	}
	msgs := ps.Channel(redis.WithChannelSize(brokerQueue))
	done := make(chan struct{})
	go func() {
		defer close(done)
		// msgs is closed by the client's receiving goroutine once ps is
		// closed.
		for m := range msgs {
			room, ok := strings.CutPrefix(m.Channel, b.channel)
			if !ok {
				continue
			}
			deliver(room, []byte(m.Payload))
		}
	}()
	return func() {
		ps.Close()
		<-done
	}, nil
}

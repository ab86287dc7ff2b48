package epchat

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// Defaults of the options. Each option's doc comment repeats its default.
const (
	DefaultMaxMembers        = 10
	DefaultInviteTTL         = 5 * time.Minute
	DefaultRoomIdleTimeout   = 10 * time.Minute
	DefaultUserIdleTimeout   = 5 * 24 * time.Hour
	DefaultReconnectGrace    = 30 * time.Second
	DefaultMaxMessageSize    = 16 << 10
	DefaultPingInterval      = 30 * time.Second
	DefaultPongTimeout       = 10 * time.Second
	DefaultIdentifyTimeout   = 10 * time.Second
	DefaultMaxRoomsPerUser   = 20
	DefaultSendQueueLimit    = 1 << 20
	DefaultWriteTimeout      = 10 * time.Second
	DefaultHandshakeTimeout  = 10 * time.Second
	maxMembersCeiling        = 1000
	maxMessageSizeCeiling    = 16 << 20
	minSendQueueLimitPerSize = 2 // the queue must hold at least two largest events
)

// An Option configures a Hub. Options are applied in order by New, which
// then checks the whole configuration once.
type Option func(*config)

type config struct {
	store            Store
	broker           Broker
	maxMembers       int
	inviteTTL        time.Duration
	roomIdle         time.Duration
	userIdle         time.Duration
	grace            time.Duration
	maxMessageSize   int
	pingInterval     time.Duration
	pongTimeout      time.Duration
	identifyTimeout  time.Duration
	maxRoomsPerUser  int
	sendQueueLimit   int
	writeTimeout     time.Duration
	handshakeTimeout time.Duration
	netpoll          bool
	originPatterns   []string
	authorize        func(*http.Request) (string, error)
	logger           *slog.Logger
	hooks            Hooks
	clock            Clock
}

func defaultConfig() config {
	return config{
		maxMembers:       DefaultMaxMembers,
		inviteTTL:        DefaultInviteTTL,
		roomIdle:         DefaultRoomIdleTimeout,
		userIdle:         DefaultUserIdleTimeout,
		grace:            DefaultReconnectGrace,
		maxMessageSize:   DefaultMaxMessageSize,
		pingInterval:     DefaultPingInterval,
		pongTimeout:      DefaultPongTimeout,
		identifyTimeout:  DefaultIdentifyTimeout,
		maxRoomsPerUser:  DefaultMaxRoomsPerUser,
		sendQueueLimit:   DefaultSendQueueLimit,
		writeTimeout:     DefaultWriteTimeout,
		handshakeTimeout: DefaultHandshakeTimeout,
		netpoll:          true,
	}
}

func (c *config) validate() error {
	positive := []struct {
		name string
		d    time.Duration
	}{
		{"invite TTL", c.inviteTTL},
		{"room idle timeout", c.roomIdle},
		{"user idle timeout", c.userIdle},
		{"ping interval", c.pingInterval},
		{"pong timeout", c.pongTimeout},
		{"identify timeout", c.identifyTimeout},
		{"write timeout", c.writeTimeout},
		{"handshake timeout", c.handshakeTimeout},
	}
	for _, p := range positive {
		if p.d <= 0 {
			return fmt.Errorf("epchat: %s must be positive, got %v", p.name, p.d)
		}
	}
	switch {
	case c.grace < 0:
		return fmt.Errorf("epchat: reconnect grace must not be negative, got %v", c.grace)
	case c.maxMembers < 1 || c.maxMembers > maxMembersCeiling:
		return fmt.Errorf("epchat: max members must be 1 to %d, got %d", maxMembersCeiling, c.maxMembers)
	case c.maxMessageSize < 1 || c.maxMessageSize > maxMessageSizeCeiling:
		return fmt.Errorf("epchat: max message size must be 1 to %d bytes, got %d", maxMessageSizeCeiling, c.maxMessageSize)
	case c.maxRoomsPerUser < 1:
		return fmt.Errorf("epchat: max rooms per user must be positive, got %d", c.maxRoomsPerUser)
	case c.sendQueueLimit < minSendQueueLimitPerSize*c.readLimit():
		return fmt.Errorf("epchat: send queue limit must be at least %d bytes (twice the read limit), got %d",
			minSendQueueLimitPerSize*c.readLimit(), c.sendQueueLimit)
	}
	for _, p := range c.originPatterns {
		if p == "" {
			return errors.New("epchat: empty origin pattern")
		}
	}
	return nil
}

// readLimit is the largest WebSocket message a client may send: room for a
// text or data of MaxMessageSize bytes, escaped, in its JSON envelope.
func (c *config) readLimit() int { return 2*c.maxMessageSize + 1024 }

// WithStore sets the Store holding rooms, members, invites and users.
// Default: a new MemoryStore. A store shared by several Hub processes also
// needs a shared broker.
func WithStore(s Store) Option { return func(c *config) { c.store = s } }

// WithMaxMembers sets the number of seats of a room, the owner's included.
// Default: 10. Allowed: 1 to 1000.
func WithMaxMembers(n int) Option { return func(c *config) { c.maxMembers = n } }

// WithInviteTTL sets how long an invite token stays valid. Default: 5 minutes.
func WithInviteTTL(d time.Duration) Option { return func(c *config) { c.inviteTTL = d } }

// WithRoomIdleTimeout sets how long a room may go without a message before
// it closes with reason idle. Keepalive traffic does not count. Default: 10
// minutes. The check runs every second, so a room closes up to a second late.
func WithRoomIdleTimeout(d time.Duration) Option { return func(c *config) { c.roomIdle = d } }

// WithUserIdleTimeout sets how long a user with no connection and no
// activity is remembered; after it, the session token stops working.
// Default: 5 days.
func WithUserIdleTimeout(d time.Duration) Option { return func(c *config) { c.userIdle = d } }

// WithReconnectGrace sets how long a user whose last connection dropped
// keeps their seats. A user who comes back with their session token within
// it is still in every room, and the others saw nothing. Default: 30
// seconds; 0 frees the seats at the next sweep.
func WithReconnectGrace(d time.Duration) Option { return func(c *config) { c.grace = d } }

// WithMaxMessageSize bounds the text of a message and the data of a history
// event, in bytes; a longer one gets a too_large error. A client WebSocket
// message larger than 2*n+1024 bytes closes the connection with 1009.
// Default: 16 KiB. Allowed: 1 byte to 16 MiB.
func WithMaxMessageSize(n int) Option { return func(c *config) { c.maxMessageSize = n } }

// WithPingInterval sets how long a connection may stay silent before the
// Hub pings it. Default: 30 seconds.
func WithPingInterval(d time.Duration) Option { return func(c *config) { c.pingInterval = d } }

// WithPongTimeout sets how long after a ping a silent connection is
// dropped: a peer that sends nothing for the ping interval plus this is
// gone. Default: 10 seconds.
func WithPongTimeout(d time.Duration) Option { return func(c *config) { c.pongTimeout = d } }

// WithIdentifyTimeout sets how long a new connection has to send a valid
// hello; after it the connection is closed with 4000. Default: 10 seconds.
func WithIdentifyTimeout(d time.Duration) Option { return func(c *config) { c.identifyTimeout = d } }

// WithMaxRoomsPerUser bounds the rooms a user may be seated in at once;
// create and join beyond it get too_many_rooms. Default: 20.
func WithMaxRoomsPerUser(n int) Option { return func(c *config) { c.maxRoomsPerUser = n } }

// WithSendQueueLimit bounds the bytes queued for one connection that the
// peer has not read yet. A connection over it is too slow: it alone is
// closed with 4001, and the rest of its room never waits for it.
// Default: 1 MiB; at least twice the read limit (2*MaxMessageSize+1024).
func WithSendQueueLimit(n int) Option { return func(c *config) { c.sendQueueLimit = n } }

// WithWriteTimeout bounds one write to a connection; a peer that does not
// take the bytes in time is dropped. Default: 10 seconds.
func WithWriteTimeout(d time.Duration) Option { return func(c *config) { c.writeTimeout = d } }

// WithHandshakeTimeout bounds the writing of the upgrade response.
// Default: 10 seconds. The time to read the request is the host's
// http.Server ReadHeaderTimeout: set it (5 to 10 seconds).
func WithHandshakeTimeout(d time.Duration) Option {
	return func(c *config) { c.handshakeTimeout = d }
}

// WithOriginPatterns allows cross-origin WebSocket handshakes from the
// hosts matching any of the patterns (path.Match syntax against the
// Origin's host[:port], for example "*.example.com" or "localhost:*").
// Default: none, so only an Origin naming the request's own host passes;
// any other gets 403 before the upgrade. A request without an Origin header
// (not a browser) is always let through. The pattern "*" allows every
// origin and so lets any web site open chats with your users' cookies:
// use it only in tests.
func WithOriginPatterns(patterns ...string) Option {
	return func(c *config) { c.originPatterns = append(c.originPatterns, patterns...) }
}

// WithAuthorize sets a hook that sees every upgrade request before the
// upgrade, for example to check the host application's own session cookie.
// An error refuses the request with 403 (the error text is not sent). A
// non-empty nickname is the user's nickname, and the client's own choice
// in hello is ignored. Default: none; everyone may connect.
func WithAuthorize(f func(r *http.Request) (nickname string, err error)) Option {
	return func(c *config) { c.authorize = f }
}

// WithNetpoll chooses how connections are read. Enabled (the default), an
// idle connection costs no goroutine and no buffer: one goroutine waits on
// epoll for all of them and a small pool of workers reads the ready ones.
// Disabled, or where epoll is missing, or for a connection that is not a
// plain TCP socket (TLS terminated by the host's http.Server), each
// connection has a goroutine blocked in Read. Both behave the same.
func WithNetpoll(enabled bool) Option { return func(c *config) { c.netpoll = enabled } }

// WithLogger sets the logger. The Hub logs ids, counts and reasons, never
// message text, nicknames, tokens or keys. Default: nil, which discards.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithClock sets the clock behind every time rule (invite TTL, idle rooms,
// idle users, reconnect grace, keepalive). Default: the system clock. Tests
// use it to move time without sleeping.
func WithClock(clk Clock) Option { return func(c *config) { c.clock = clk } }

// Clock tells the time and drives the Hub's sweeper, which applies every
// time rule once per tick.
type Clock interface {
	Now() time.Time
	// NewTicker returns a channel that receives the time every d, and a
	// function that stops it.
	NewTicker(d time.Duration) (<-chan time.Time, func())
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) NewTicker(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}

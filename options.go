package epchat

import (
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"time"
)

// Defaults of the options. Each option's doc comment repeats its default.
const (
	DefaultMaxMembers        = 10
	DefaultInviteTTL         = 5 * time.Minute
	DefaultRoomIdleTimeout   = 10 * time.Minute
	DefaultUserIdleTimeout   = 5 * 24 * time.Hour
	DefaultSeatlessTimeout   = 10 * time.Minute
	DefaultReconnectGrace    = 30 * time.Second
	DefaultMaxMessageSize    = 16 << 10
	DefaultPingInterval      = 30 * time.Second
	DefaultPongTimeout       = 10 * time.Second
	DefaultIdentifyTimeout   = 10 * time.Second
	DefaultMaxRoomsPerUser   = 20
	DefaultSendQueueLimit    = 1 << 20
	DefaultWriteTimeout      = 10 * time.Second
	DefaultHandshakeTimeout  = 10 * time.Second
	DefaultSocketSendBuffer  = 64 << 10
	maxMembersCeiling        = 1000
	maxMessageSizeCeiling    = 16 << 20
	minSendQueueLimitPerSize = 2       // the queue must hold at least two largest events
	maxSendQueueLimit        = 1 << 30 // the transport counts a queue in 32 bits
)

// Defaults of the limits against abuse (SECURITY.md).
const (
	DefaultMaxConnections        = 10000
	DefaultMaxConnectionsPerAddr = 100
	DefaultMaxSessionConnections = 32
	DefaultRequestRate           = 20 // requests per second, per connection
	DefaultRequestBurst          = 50
	DefaultViolationLimit        = 20
	DefaultViolationWindow       = time.Minute
	DefaultTokenGuessLimit       = 10
	DefaultTokenGuessWindow      = time.Minute
	// DefaultUsersPerConnection is how many remembered users the default
	// user caps allow per connection allowed: WithMaxUsers defaults to
	// 10 × WithMaxConnections, WithMaxUsersPerAddr to 10 ×
	// WithMaxConnectionsPerAddr.
	DefaultUsersPerConnection = 10
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
	seatlessIdle     time.Duration
	grace            time.Duration
	maxMessageSize   int
	pingInterval     time.Duration
	pongTimeout      time.Duration
	identifyTimeout  time.Duration
	maxRoomsPerUser  int
	sendQueueLimit   int
	writeTimeout     time.Duration
	handshakeTimeout time.Duration
	sockSendBuf      int
	netpoll          bool
	originPatterns   []string
	allowedHosts     []string
	trustFwdProto    bool
	maxConns         int
	maxConnsPerAddr  int
	maxSessionConns  int
	maxUsers         int // unless set: DefaultUsersPerConnection × maxConns
	maxUsersPerAddr  int // unless set: DefaultUsersPerConnection × maxConnsPerAddr
	maxUsersSet      bool
	maxUsersAddrSet  bool
	clientAddr       func(*http.Request) string
	requestRate      float64
	requestBurst     int
	violationLimit   int
	violationWindow  time.Duration
	guessLimit       int
	guessWindow      time.Duration
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
		seatlessIdle:     DefaultSeatlessTimeout,
		grace:            DefaultReconnectGrace,
		maxMessageSize:   DefaultMaxMessageSize,
		pingInterval:     DefaultPingInterval,
		pongTimeout:      DefaultPongTimeout,
		identifyTimeout:  DefaultIdentifyTimeout,
		maxRoomsPerUser:  DefaultMaxRoomsPerUser,
		sendQueueLimit:   DefaultSendQueueLimit,
		writeTimeout:     DefaultWriteTimeout,
		handshakeTimeout: DefaultHandshakeTimeout,
		sockSendBuf:      DefaultSocketSendBuffer,
		netpoll:          true,
		maxConns:         DefaultMaxConnections,
		maxConnsPerAddr:  DefaultMaxConnectionsPerAddr,
		maxSessionConns:  DefaultMaxSessionConnections,
		requestRate:      DefaultRequestRate,
		requestBurst:     DefaultRequestBurst,
		violationLimit:   DefaultViolationLimit,
		violationWindow:  DefaultViolationWindow,
		guessLimit:       DefaultTokenGuessLimit,
		guessWindow:      DefaultTokenGuessWindow,
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
		{"seatless user timeout", c.seatlessIdle},
		{"ping interval", c.pingInterval},
		{"pong timeout", c.pongTimeout},
		{"identify timeout", c.identifyTimeout},
		{"write timeout", c.writeTimeout},
		{"handshake timeout", c.handshakeTimeout},
		{"violation window", c.violationWindow},
		{"token guess window", c.guessWindow},
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
	case c.sockSendBuf < 0:
		return fmt.Errorf("epchat: socket send buffer must not be negative, got %d", c.sockSendBuf)
	case c.maxRoomsPerUser < 1:
		return fmt.Errorf("epchat: max rooms per user must be positive, got %d", c.maxRoomsPerUser)
	case c.maxConns < 1:
		return fmt.Errorf("epchat: max connections must be positive, got %d", c.maxConns)
	case c.maxConnsPerAddr < 1:
		return fmt.Errorf("epchat: max connections per address must be positive, got %d", c.maxConnsPerAddr)
	case c.maxSessionConns < 1:
		return fmt.Errorf("epchat: max connections per session must be positive, got %d", c.maxSessionConns)
	case c.maxUsersSet && c.maxUsers < 1:
		return fmt.Errorf("epchat: max users must be positive, got %d", c.maxUsers)
	case c.maxUsersAddrSet && c.maxUsersPerAddr < 1:
		return fmt.Errorf("epchat: max users per address must be positive, got %d", c.maxUsersPerAddr)
	case !(c.requestRate > 0) || c.requestBurst < 1:
		return fmt.Errorf("epchat: request rate and burst must be positive, got %v/s and %d", c.requestRate, c.requestBurst)
	case c.violationLimit < 1:
		return fmt.Errorf("epchat: violation limit must be positive, got %d", c.violationLimit)
	case c.guessLimit < 1:
		return fmt.Errorf("epchat: token guess limit must be positive, got %d", c.guessLimit)
	case c.sendQueueLimit > maxSendQueueLimit:
		return fmt.Errorf("epchat: send queue limit must be at most %d bytes, got %d", maxSendQueueLimit, c.sendQueueLimit)
	case c.sendQueueLimit < minSendQueueLimitPerSize*c.readLimit():
		return fmt.Errorf("epchat: send queue limit must be at least %d bytes (twice the read limit), got %d",
			minSendQueueLimitPerSize*c.readLimit(), c.sendQueueLimit)
	}
	for _, p := range c.originPatterns {
		if _, err := path.Match(p, ""); p == "" || err != nil {
			return fmt.Errorf("epchat: bad origin pattern %q", p)
		}
	}
	for _, p := range c.allowedHosts {
		if _, err := path.Match(p, ""); p == "" || err != nil {
			return fmt.Errorf("epchat: bad allowed host %q", p)
		}
	}
	return nil
}

// userLimits returns the user caps, the defaults filled in.
func (c *config) userLimits() (total, perAddr int) {
	total, perAddr = c.maxUsers, c.maxUsersPerAddr
	if !c.maxUsersSet {
		total = DefaultUsersPerConnection * c.maxConns
	}
	if !c.maxUsersAddrSet {
		perAddr = DefaultUsersPerConnection * c.maxConnsPerAddr
	}
	return total, perAddr
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
// minutes. The check runs every second while a message or the creation of
// a room seen by this process may come of age, so a room closes up to a
// second late; a room this process saw nothing of (last active in a
// process that has stopped, or before this one started) closes up to a
// minute late.
func WithRoomIdleTimeout(d time.Duration) Option { return func(c *config) { c.roomIdle = d } }

// WithUserIdleTimeout sets how long a user with no connection and no
// activity is remembered; after it, the session token stops working. A
// user who holds no seat is forgotten sooner (WithSeatlessUserTimeout).
// Default: 5 days. Idle users are looked for at most once a minute, so a
// user may be remembered up to a minute past the timeout.
func WithUserIdleTimeout(d time.Duration) Option { return func(c *config) { c.userIdle = d } }

// WithSeatlessUserTimeout sets how long a user who holds no seat in any
// room and has no connection is remembered: a hello that made an identity
// and never joined, or a member who left every room (or lost the seats
// after the reconnect grace), then went away. After it the session token
// stops working (session_invalid). The user idle timeout
// (WithUserIdleTimeout) stays the rule for users seated in a room.
// Default: 10 minutes; like the user idle timeout, looked for at most once
// a minute.
func WithSeatlessUserTimeout(d time.Duration) Option {
	return func(c *config) { c.seatlessIdle = d }
}

// WithMaxUsers bounds the users (sessions) remembered at once, counted in
// the Store: a hello that would create one more gets too_many_users, and
// returning users are not affected. With several Hub processes sharing a
// Store, the bound is for the Store, all processes together; give every
// process the same value. Default: 10 times WithMaxConnections (100 000
// with its default).
func WithMaxUsers(n int) Option {
	return func(c *config) { c.maxUsers, c.maxUsersSet = n, true }
}

// WithMaxUsersPerAddr bounds the users one client address (see
// WithClientAddr) may have created that are still remembered: a hello
// that would create one more gets too_many_users, until one of them is
// forgotten or ends its session. Returning users are not affected. The
// Hub counts in its memory the users it created (the Store never sees an
// address); with several Hub processes each counts its own, and a user
// another process forgot stops counting here at the latest the reconnect
// grace plus the seatless user timeout plus two minutes after its last
// connection to this process (a connection of it ending here counts as
// seen: a user kept alive by short reconnections goes on counting).
// Default: 10 times WithMaxConnectionsPerAddr (1000 with its default).
func WithMaxUsersPerAddr(n int) Option {
	return func(c *config) { c.maxUsersPerAddr, c.maxUsersAddrSet = n, true }
}

// WithReconnectGrace sets how long a user whose last connection dropped
// keeps their seats. A user who comes back with their session token within
// it is still in every room, and the others saw nothing. Default: 30
// seconds; 0 frees the seats at the next sweep.
func WithReconnectGrace(d time.Duration) Option { return func(c *config) { c.grace = d } }

// WithMaxMessageSize bounds the text of a message and the data of a history
// event, in bytes; a longer one gets a too_large error. A client WebSocket
// message larger than 2*n+1024 bytes closes the connection with 1009.
// Default: 16 KiB. Allowed: 1 byte to 16 MiB. The browser client
// library's authenticated scheme (mls-v1, the demo page's) sends every
// text sealed in an MLS frame around a signed envelope: about 1,000 bytes
// for an empty one, so a bound below that lets its members send nothing.
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
// The check runs every second, so a connection is closed up to a second
// late.
func WithIdentifyTimeout(d time.Duration) Option { return func(c *config) { c.identifyTimeout = d } }

// WithMaxRoomsPerUser bounds the rooms a user may be seated in at once;
// create and join beyond it get too_many_rooms. Default: 20.
func WithMaxRoomsPerUser(n int) Option { return func(c *config) { c.maxRoomsPerUser = n } }

// WithSendQueueLimit bounds the bytes queued for one connection that the
// peer has not read yet. A connection over it is too slow: it alone is
// closed with 4001, and the rest of its room never waits for it.
// Default: 1 MiB; at least twice the read limit (2*MaxMessageSize+1024),
// at most 1 GiB.
func WithSendQueueLimit(n int) Option { return func(c *config) { c.sendQueueLimit = n } }

// WithSocketSendBuffer sets the kernel send buffer (SO_SNDBUF) of every
// connection the Hub serves, in bytes: what the kernel holds for a peer
// beyond the Hub's own send queue. Without a bound, Linux grows it to
// megabytes (net.ipv4.tcp_wmem), and a peer that reads slowly through a
// small window holds all that without its queue ever overflowing. Linux
// doubles the value for its bookkeeping and has a floor of about 4 KiB.
// It also bounds one connection's throughput to about n per round trip:
// 64 KiB is 640 KB/s at 100 ms, far more than chat needs. Default: 64
// KiB; 0 leaves the kernel's default (auto-tuning).
func WithSocketSendBuffer(n int) Option { return func(c *config) { c.sockSendBuf = n } }

// WithWriteTimeout bounds how long a write may wait for a peer that takes
// no bytes: a connection whose write has waited this long is dropped,
// without a close frame (it would not read one either), and counted as
// slow. The connection sweeper times the wait in real time (not on
// WithClock's clock, which is for the time rules), from the first sweep
// that sees it; it runs every second. Default: 10 seconds.
func WithWriteTimeout(d time.Duration) Option { return func(c *config) { c.writeTimeout = d } }

// WithHandshakeTimeout bounds the writing of the upgrade response.
// Default: 10 seconds. Through ServeHTTP, the time to read the request is
// the host's http.Server ReadHeaderTimeout: set it (5 to 10 seconds).
// Through Serve, this bounds the whole upgrade, reading included.
func WithHandshakeTimeout(d time.Duration) Option {
	return func(c *config) { c.handshakeTimeout = d }
}

// WithOriginPatterns allows cross-origin WebSocket handshakes from the
// hosts matching any of the patterns (path.Match syntax against the
// Origin's host[:port], without the scheme's default port, for example
// "*.example.com" or "localhost:*"), over https, or over http when the
// request itself came over plain http. Default: none, so only the
// request's own origin (its scheme and Host) passes; any other gets 403
// before the upgrade, and so does a request with two Origin headers or an
// Origin that is not a plain http or https origin (user info, a path,
// another scheme). A request without an Origin header (not a browser) is
// always let through. The pattern "*" allows every origin and so lets any
// web site open chats with your users' cookies: use it only in tests.
func WithOriginPatterns(patterns ...string) Option {
	return func(c *config) { c.originPatterns = append(c.originPatterns, patterns...) }
}

// WithAllowedHosts restricts the Host a request may name: one matching an
// entry (path.Match syntax, no case; an entry without a port matches the
// host on any port, "chat.example.com" or "*.example.com" or
// "localhost:8080"). Any other request gets 403 before the upgrade.
// Default: none, every Host. Set it whenever the Hub serves known names,
// and always for a Hub reachable on a loopback or private address (a
// development server, a device on a home network): without it, a page of
// a hostile site whose name the attacker points at that address (DNS
// rebinding) sends its own name as both Host and Origin, which the origin
// check alone takes for same-origin.
func WithAllowedHosts(hosts ...string) Option {
	return func(c *config) { c.allowedHosts = append(c.allowedHosts, hosts...) }
}

// WithTrustForwardedProto makes the Hub take the scheme of a request from
// the X-Forwarded-Proto (or Forwarded proto=) header the nearest proxy
// sets, for the origin check: behind a reverse proxy that terminates TLS,
// the page's origin is https but the request reaches the Hub over plain
// http, and without this option is refused with 403. Default: false, the
// scheme is https only for a request that came over TLS (ServeHTTP on a
// TLS http.Server, Serve on a tls.Listener). Set it only when a proxy you
// trust always sets or overwrites that header; the Hub logs once when it
// refuses an origin that the header would have let through.
func WithTrustForwardedProto(trust bool) Option {
	return func(c *config) { c.trustFwdProto = trust }
}

// WithAuthorize sets a hook that sees every upgrade request before the
// upgrade, for example to check the host application's own session cookie.
// An error refuses the request with 403 (the error text is not sent). A
// non-empty nickname is the user's nickname, and the client's own choice
// in hello is ignored. Default: none; everyone may connect.
func WithAuthorize(f func(r *http.Request) (nickname string, err error)) Option {
	return func(c *config) { c.authorize = f }
}

// WithMaxConnections bounds the WebSocket connections the Hub serves at
// once. An upgrade beyond it gets 503 Service Unavailable before anything
// is hijacked. Default: 10000.
func WithMaxConnections(n int) Option { return func(c *config) { c.maxConns = n } }

// WithMaxSessionConnections bounds the connections of one session (a
// user's tabs and devices, all presenting its token) that the Hub serves
// at once: a hello with the token beyond it gets too_many_connections, and
// the connection stays open, unidentified, to try again (until the
// identify timeout closes it). Every connection of a session receives
// every event of its rooms and hears of each new one (session_connected),
// so without a bound one token held by many connections multiplies a
// room's deliveries. With several Hub processes each counts its own.
// Default: 32.
func WithMaxSessionConnections(n int) Option {
	return func(c *config) { c.maxSessionConns = n }
}

// WithMaxConnectionsPerAddr bounds the WebSocket connections from one
// client address (see WithClientAddr) at once, so that one host cannot
// take every slot. An upgrade beyond it gets 503 before anything is
// hijacked. Default: 100. Behind a reverse proxy every client has the
// proxy's address unless WithClientAddr says otherwise.
func WithMaxConnectionsPerAddr(n int) Option {
	return func(c *config) { c.maxConnsPerAddr = n }
}

// WithClientAddr sets how the Hub tells client addresses apart for its
// per-address limits (connections, failed invite guesses, users created). Default: the IP
// of the request's RemoteAddr, with IPv6 addresses cut to their /64
// prefix. Behind a reverse proxy, return the client address the proxy
// forwards, and only from a proxy you trust: the header is the client's
// to forge otherwise. The Hub logs a warning once when it sees a
// forwarding header and this option is not set.
func WithClientAddr(f func(r *http.Request) string) Option {
	return func(c *config) { c.clientAddr = f }
}

// WithRequestRate bounds the requests (WebSocket messages) one connection
// may send: a token bucket of burst requests that refills at perSecond,
// on the Hub's clock. A request beyond it is not processed and gets a
// rate_limited error; each such refusal counts toward the violation limit
// (WithViolationLimit). Pings and pongs do not count. Default: 20 per
// second, bursts of 50.
func WithRequestRate(perSecond float64, burst int) Option {
	return func(c *config) { c.requestRate, c.requestBurst = perSecond, burst }
}

// WithViolationLimit closes a connection with 1008 (policy violation) once
// it earns n violations within window: requests that get bad_request,
// unknown_type, not_identified, already_identified or rate_limited. A
// client that follows PROTOCOL.md earns none. Default: 20 per minute.
func WithViolationLimit(n int, window time.Duration) Option {
	return func(c *config) { c.violationLimit, c.violationWindow = n, window }
}

// WithTokenGuessLimit throttles guessing of invites: once a connection, or
// all the connections of one client address together, made n failed
// invite redemptions within window (join with an unknown, used or expired
// invite), further joins get rate_limited without being checked, until
// the window ends. Each refusal is a violation (WithViolationLimit), so a
// connection that goes on guessing is closed with 1008. A hello with a
// session token is neither counted nor refused: after a restart that
// forgot the sessions, every member behind one address must get
// session_invalid at once, and a session token (256 bits) cannot be
// guessed anyway. Default: 10 per minute.
func WithTokenGuessLimit(n int, window time.Duration) Option {
	return func(c *config) { c.guessLimit, c.guessWindow = n, window }
}

// WithNetpoll chooses how connections are read. Enabled (the default), an
// idle connection costs no goroutine and no buffer: the Hub takes the
// socket out of its net.Conn (a descriptor of its own; the net.Conn is
// closed), one goroutine waits on epoll for all of them and a small pool
// of workers (4 per core) reads the ready ones and handles their
// requests. A worker whose request waits on the Store (a paused Redis) is
// replaced: when every worker has been inside a callback for 20 ms with
// no request handled while connections wait, the pool adds workers, which
// end after a second without work; so other rooms go on. Writes never
// block, and a full socket waits for epoll without a goroutine. Disabled, or where epoll is
// missing, or for a connection that is not a plain TCP socket (TLS
// terminated by the host's http.Server), each connection has a goroutine
// blocked in Read and writes block. Both behave the same;
// Stats.ConnectionsPolled tells how many connections the poller serves,
// and the Hub logs once when it cannot poll one.
func WithNetpoll(enabled bool) Option { return func(c *config) { c.netpoll = enabled } }

// WithLogger sets the logger. The Hub logs ids, counts and reasons, never
// message text, nicknames, tokens or keys. Default: nil, which discards.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithClock sets the clock behind every time rule (invite TTL, idle rooms,
// idle users, reconnect grace, keepalive). Default: the system clock. Tests
// use it to move time without sleeping.
func WithClock(clk Clock) Option { return func(c *config) { c.clock = clk } }

// Clock tells the time and drives the Hub's two sweepers: each makes a
// ticker, every second. The connection sweeper applies the identify
// timeout and keepalive at every tick; the Store sweeper applies the
// Store's rules (idle rooms, reconnect grace, idle users, expired
// invites) at the ticks when one may find work (see WithRoomIdleTimeout).
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

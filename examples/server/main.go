// Command server is the epchat demo: a Hub mounted at /chat/ next to the
// end-to-end encrypted chat page of package web, with the Hub's figures at
// /stats (a live page), /stats.json and /metrics (Prometheus).
//
//	go run ./examples/server            # http://127.0.0.1:8080/
//	go run ./examples/server -addr :9000
//
// On a loopback address the demo answers only the loopback names at its
// port (localhost, 127.0.0.1, [::1]), against DNS rebinding: any other
// Host gets 403 "host not allowed", from every handler and from the Hub's
// upgrades. -allowed-hosts replaces them; on any other address, without
// it, every Host is answered and a warning is logged at startup.
// Behind a proxy that terminates TLS, -trust-forwarded-proto and
// -client-ip-header X-Forwarded-For take the scheme and the client's
// address from the proxy's headers; set them only behind a proxy that
// always sets those headers.
//
// Several processes serve one set of rooms when they share a Redis
// (run without persistence, as redisstore/README.md says), each on its
// own port:
//
//	go run ./examples/server -redis 127.0.0.1:6379 -addr 127.0.0.1:8080
//	go run ./examples/server -redis 127.0.0.1:6379 -addr 127.0.0.1:8081
//
// Nothing said in a room is logged, and nothing is written to disk: with
// -redis, the demo refuses a Redis that writes its data to disk, or whose
// settings it cannot read (redisstore.New), unless -redis-persistence-ok,
// and then it warns.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/epchat-go/epchat"
	"github.com/epchat-go/epchat/examples/web"
	"github.com/epchat-go/epchat/redisstore"
	"github.com/epchat-go/epchat/sqlitestore"
	"github.com/redis/go-redis/v9"
)

func main() {
	sigs, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// At the first signal, stop catching them before shutting down: a
	// second one then kills the process at once, as when nothing catches
	// them, however long the shutdown waits (a paused Redis).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	context.AfterFunc(sigs, func() {
		stop()
		cancel()
	})
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return // -h: the usage is printed
		}
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}

const usage = `Usage: server [flags]

Serves the epchat demo page, a Hub at /chat/ and its figures at /stats,
/stats.json and /metrics. Ctrl-C (SIGINT) or SIGTERM shuts down: the
rooms are closed (or left to the other processes, with -redis), for up
to 10 seconds. A second Ctrl-C or SIGTERM exits at once.

Flags:
`

// listening is where run serves: the demo's HTTP address and, with
// -ws-addr, the Hub's own listener ("" without).
type listening struct {
	HTTP string
	WS   string
}

// run serves until ctx is done. It writes where it listens to out and its
// log to logw; if ready is not nil, it sends where it listens on it once
// every listener is up.
func run(ctx context.Context, args []string, out, logw io.Writer, ready chan<- listening) error {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	verbose := fs.Bool("v", false, "log debug events (ids and counts only)")
	wsAddr := fs.String("ws-addr", "", "also serve WebSockets on this address with the Hub's own zero-copy upgrader (Hub.Serve), e.g. for load tests (off when empty)")
	storeName := fs.String("store", "memory", "where rooms live: memory, or sqlite (an in-memory SQLite database, never on disk)")
	redisAddr := fs.String("redis", "", "share rooms with the other processes using the Redis at this address, e.g. 127.0.0.1:6379 (replaces -store); run it without persistence (--save '' --appendonly no): the demo refuses one that writes to disk, unless -redis-persistence-ok")
	redisPersist := fs.Bool("redis-persistence-ok", false, "with -redis, use it even if it writes its data to disk or its settings cannot be read (redisstore.WithPersistenceAllowed; a warning at startup): restarted from its files, it brings spent invites and kicked members back")
	redisPipeline := fs.Bool("redis-pipeline", false, "with -redis, send the calls many requests make at once through go-redis's auto-pipeliner (redisstore.WithAutoPipeline): fewer round trips when many rooms call at once, about 0.4 ms more per message at low load (see redisstore/README.md, Figures)")
	debugAddr := fs.String("debug-addr", "", "serve net/http/pprof on this address, e.g. 127.0.0.1:6060, for load tests (off when empty)")
	maxConns := fs.Int("max-conns", epchat.DefaultMaxConnections, "WebSocket connections served at once")
	maxConnsPerAddr := fs.Int("max-conns-per-addr", epchat.DefaultMaxConnectionsPerAddr, "WebSocket connections from one client address at once (a load generator on loopback needs more)")
	allowedHosts := fs.String("allowed-hosts", "", "comma-separated host or host:port names (IPv6 in brackets) that the page, /stats, /metrics and the WebSocket upgrades answer; any other Host gets 403. An entry without a port allows any port. Default: on a loopback address, localhost, 127.0.0.1 and [::1] at the port listened on; elsewhere every Host (logged as a warning at startup)")
	trustProto := fs.Bool("trust-forwarded-proto", false, "take the request's scheme from X-Forwarded-Proto (or Forwarded proto=) for the origin check (epchat.WithTrustForwardedProto): needed behind a proxy that terminates TLS, whose pages are https while the demo gets plain http. Only behind a proxy that always sets or overwrites that header")
	ipHeader := fs.String("client-ip-header", "", "count the per-address limits by the client address in this header's last hop, e.g. X-Forwarded-For or X-Real-IP (epchat.WithClientAddr), instead of the socket's address (the proxy's). Only behind a proxy that always sets it: anyone else can forge it. A request without it counts by its socket address")
	origins := fs.String("origin", "", "comma-separated origin host patterns also allowed to open WebSockets (epchat.WithOriginPatterns, path.Match syntax against the Origin's host[:port], e.g. app.example.com or *.example.com); the page's own origin is always allowed")
	requestRate := fs.Float64("request-rate", epchat.DefaultRequestRate, "requests per second per connection (a load generator sending flat out needs more)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case *redisAddr != "" && *storeName != "memory":
		return fmt.Errorf("-redis replaces -store %s: give one of them", *storeName)
	case *redisPipeline && *redisAddr == "":
		return errors.New("-redis-pipeline needs -redis")
	case *redisPersist && *redisAddr == "":
		return errors.New("-redis-persistence-ok needs -redis")
	}
	hosts, err := parseAllowedHosts(*allowedHosts)
	if err != nil {
		return err
	}
	if *ipHeader != "" {
		if *ipHeader, err = clientIPHeader(*ipHeader); err != nil {
			return err
		}
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: level}))
	if *debugAddr != "" {
		at, stopDebug, err := startDebug(*debugAddr)
		if err != nil {
			return err
		}
		defer stopDebug()
		fmt.Fprintf(out, "profiles: http://%s/debug/pprof/\n", at)
	}

	opts := []epchat.Option{
		epchat.WithLogger(logger),
		epchat.WithMaxConnections(*maxConns),
		epchat.WithMaxConnectionsPerAddr(*maxConnsPerAddr),
		epchat.WithRequestRate(*requestRate, max(epchat.DefaultRequestBurst, int(*requestRate))),
		epchat.WithTrustForwardedProto(*trustProto),
	}
	if *ipHeader != "" {
		opts = append(opts, epchat.WithClientAddr(clientAddrFrom(*ipHeader)))
	}
	for p := range strings.SplitSeq(*origins, ",") {
		if p = strings.TrimSpace(p); p != "" {
			opts = append(opts, epchat.WithOriginPatterns(p))
		}
	}
	switch {
	case *redisAddr != "":
		rdb := redis.NewClient(&redis.Options{Addr: *redisAddr})
		defer rdb.Close()
		ropts := []redisstore.Option{redisstore.WithLogger(logger)}
		if *redisPipeline {
			ropts = append(ropts, redisstore.WithAutoPipeline())
		}
		sopts := ropts
		if *redisPersist {
			checkRedisDisk(ctx, rdb, *redisAddr, logger)
			sopts = append(sopts, redisstore.WithPersistenceAllowed())
		}
		st, err := redisstore.New(rdb, sopts...)
		if err != nil {
			return err
		}
		defer st.Close()
		broker, err := redisstore.NewBroker(rdb, ropts...)
		if err != nil {
			return err
		}
		opts = append(opts, epchat.WithStore(st), epchat.WithBroker(broker))
		logger.Info("rooms shared through Redis", "node", st.Node())
	case *storeName == "memory":
	case *storeName == "sqlite":
		st, err := sqlitestore.New()
		if err != nil {
			return err
		}
		defer st.Close()
		opts = append(opts, epchat.WithStore(st))
	default:
		return fmt.Errorf("unknown -store %q: memory or sqlite", *storeName)
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	var wln net.Listener
	var wsAt net.Addr
	if *wsAddr != "" {
		wln, err = net.Listen("tcp", *wsAddr)
		if err != nil {
			return err
		}
		defer wln.Close()
		wsAt = wln.Addr()
	}
	rule := newHostRule(ln.Addr(), wsAt, hosts)
	if rule.hub != nil {
		opts = append(opts, epchat.WithAllowedHosts(hubHosts(rule.hub)...))
	}
	if len(rule.unchecked) > 0 {
		logger.Warn("Host header not checked: listening beyond loopback without -allowed-hosts, so a page of any site can reach the demo under its own name (DNS rebinding)",
			"listeners", strings.Join(rule.unchecked, " "))
	}
	hub, err := epchat.New(opts...)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/chat/", http.StripPrefix("/chat", hub))
	mux.Handle("/", web.Handler())
	mountStats(mux, hub)

	fmt.Fprintf(out, "epchat demo: open http://%s/ (WebSocket endpoint ws://%s/chat/)\n", ln.Addr(), ln.Addr())
	at := listening{HTTP: ln.Addr().String()}
	srv := &http.Server{Handler: checkHost(rule.http, mux), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	if wln != nil {
		fmt.Fprintf(out, "WebSockets also on ws://%s/ (zero-copy upgrade)\n", wln.Addr())
		at.WS = wln.Addr().String()
		go func() {
			if err := hub.Serve(wln); !errors.Is(err, epchat.ErrHubClosed) {
				errc <- err
			}
		}()
	}
	if ready != nil {
		ready <- at
	}

	select {
	case err := <-errc:
		hub.Shutdown(context.Background())
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down; a second Ctrl-C exits at once")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv.Shutdown(sctx) // HTTP only: the Hub's WebSockets are hijacked
	if err := hub.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

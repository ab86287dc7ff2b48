//go:build linux

// Command loadgen puts an epchat Hub under load over loopback and prints
// what it measured: seating rate, deliveries per second, delivery latency,
// and, given the server's process id, its memory per member and CPU per
// delivery.
//
//	go build -o /tmp/server ./examples/server && /tmp/server &
//	go run ./examples/loadgen -n 2000 -k 10 -m 20 -rate 2 -server-pid $!
//
// It opens -n WebSocket connections, spread over
// loopback source addresses (-sources) so that one machine can open
// more than one source address's ~28 000 ephemeral ports. Each connection
// says hello; the first of every -k creates a room and invites the others,
// who join. Once everyone is seated and idle for -settle, each member sends
// -m messages, at -rate per second or as fast as -window unanswered sends
// allow. Every message carries its send time, and the members receiving
// it (in this same process, so on the same clock) measure the latency.
// The run stops when every message has reached every other member of its
// room, or at -duration, whichever comes first.
//
// Linux only: it reads /proc and binds loopback source addresses.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := runMain(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func runMain(ctx context.Context, args []string, out, errOut io.Writer) error {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(errOut)
	var cfg config
	fs.StringVar(&cfg.URL, "url", "ws://127.0.0.1:8080/chat/", "WebSocket endpoint of the Hub (loopback only)")
	fs.IntVar(&cfg.Members, "n", 1000, "members: one connection each")
	fs.IntVar(&cfg.RoomSize, "k", 10, "members per room, the owner included (at most the server's max members)")
	fs.IntVar(&cfg.Messages, "m", 100, "messages each member sends; 0 seats everyone, measures, and stops")
	fs.Float64Var(&cfg.Rate, "rate", 0, "messages per second per member; 0 sends as fast as -window allows")
	fs.IntVar(&cfg.Window, "window", 8, "sends per member awaiting their sent reply, at most")
	fs.IntVar(&cfg.Size, "size", 64, "bytes of message text (the send timestamp, padded)")
	fs.IntVar(&cfg.Sources, "sources", 4, "loopback source addresses to dial from: 127.0.0.1 to 127.0.0.254, then 127.0.1.1 and on (up to 65024; as many as -n gives each member its own)")
	fs.IntVar(&cfg.Concurrency, "concurrency", 64, "rooms seated at once")
	fs.DurationVar(&cfg.Duration, "duration", time.Minute, "cap on the whole run; it stops earlier once every message is delivered")
	fs.DurationVar(&cfg.Settle, "settle", 2*time.Second, "idle pause after seating, before reading the server's RSS and sending")
	fs.IntVar(&cfg.ServerPID, "server-pid", 0, "process id of the server, to read its RSS (/proc/PID/status) and CPU (/proc/PID/stat)")
	churnN := fs.Int("churn", 0, "instead of seating members: make this many hellos from one address (127.0.0.1), each on a connection of its own that closes once answered, and report how many users the server kept (see -stats-url)")
	churnConc := fs.Int("churn-concurrency", 8, "churn: connections open at once")
	statsURL := fs.String("stats-url", "", "churn: the server's /stats.json (loopback), to read how many users it remembers, e.g. http://127.0.0.1:8080/stats.json")
	asJSON := fs.Bool("json", false, "print the result as one JSON object")
	fs.Usage = func() {
		fmt.Fprintf(errOut, `Usage: loadgen [flags]

Seats -n members in rooms of -k over WebSockets, has each send -m messages,
and prints: joins/s (connect + upgrade + hello + create/invite/join),
deliveries/s (messages received by members), latency p50/p99/max, and with
-server-pid the server's RSS per seated member and CPU per delivery.
Every run is bounded by -m and -duration. Linux only.

With -churn N it instead makes N hellos from one address, each on its own
connection that closes once answered, and prints how many were welcomed
and how many refused with too_many_users, and with -server-pid and
-stats-url the server's RSS and remembered users: they plateau at the
server's cap of users per address. Bounded by N and -duration.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if err := checkLoopback(cfg.URL); err != nil {
		return err
	}
	if *churnN > 0 {
		if *statsURL != "" {
			if err := checkLoopback("ws://" + strings.TrimPrefix(*statsURL, "http://")); err != nil || !strings.HasPrefix(*statsURL, "http://") {
				return fmt.Errorf("-stats-url must be http://127.x.x.x:port/...: got %q", *statsURL)
			}
		}
		res, err := churn(ctx, churnConfig{
			URL:         cfg.URL,
			Hellos:      *churnN,
			Concurrency: *churnConc,
			Duration:    cfg.Duration,
			ServerPID:   cfg.ServerPID,
			StatsURL:    *statsURL,
			Progress:    errOut,
		})
		if res != nil {
			if *asJSON {
				if err := json.NewEncoder(out).Encode(res); err != nil {
					return err
				}
			} else {
				reportChurn(out, res)
			}
		}
		return err
	}
	need := uint64(cfg.Members) + 64
	have, err := raiseNoFile(need)
	if err != nil {
		return fmt.Errorf("raise RLIMIT_NOFILE: %w", err)
	}
	if have < need {
		return fmt.Errorf("RLIMIT_NOFILE is %d, too low for %d connections: raise it (ulimit -Hn %d, as root) and retry", have, cfg.Members, need)
	}

	cfg.Progress = errOut
	res, runErr := execute(ctx, cfg)
	if res != nil {
		if *asJSON {
			enc := json.NewEncoder(out)
			if err := enc.Encode(res); err != nil {
				return err
			}
		} else {
			report(out, cfg, res)
		}
	}
	return runErr
}

// checkLoopback refuses any target but a loopback address: a load run is
// not to leave the machine.
func checkLoopback(u string) error {
	rest, ok := strings.CutPrefix(u, "ws://")
	if !ok {
		return fmt.Errorf("-url must be ws://127.x.x.x:port/...: got %q", u)
	}
	host := rest
	if i := strings.IndexAny(host, "/?"); i >= 0 {
		host = host[:i]
	}
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	if !strings.HasPrefix(host, "127.") && host != "localhost" {
		return fmt.Errorf("-url must be a loopback address (127.x.x.x): got %q", host)
	}
	return nil
}

func report(w io.Writer, cfg config, r *result) {
	mode := fmt.Sprintf("window %d", cfg.Window)
	if cfg.Rate > 0 {
		mode = fmt.Sprintf("%g msg/s each, window %d", cfg.Rate, cfg.Window)
	}
	fmt.Fprintf(w, "run:      %d members in %d rooms of %d, %d messages each (%s), %d B text, %d source addresses\n",
		r.Members, r.Rooms, cfg.RoomSize, cfg.Messages, mode, cfg.Size, cfg.Sources)
	fmt.Fprintf(w, "seat:     %d seated in %.2fs = %.0f joins/s", r.Seated, r.SeatSeconds, r.JoinsPerSec)
	if cfg.ServerPID != 0 {
		fmt.Fprintf(w, "; server CPU %.2fs, loadgen CPU %.2fs", r.SeatSrvCPU, r.SeatGenCPU)
	}
	fmt.Fprintln(w)
	if cfg.ServerPID != 0 {
		fmt.Fprintf(w, "idle:     server RSS %.1f MiB before, %.1f MiB seated = %.0f B per member\n",
			mib(r.RSSBefore), mib(r.RSSSeated), r.RSSPerMember)
	}
	if cfg.Messages > 0 {
		fmt.Fprintf(w, "send:     %d sent, %d/%d deliveries in %.2fs = %.0f deliveries/s\n",
			r.Sent, r.Deliveries, r.ExpectDeliveries, r.SendSeconds, r.DeliveriesPerSec)
		fmt.Fprintf(w, "latency:  p50 %.3fms  p99 %.3fms  p99.9 %.3fms  max %.3fms\n",
			r.LatP50, r.LatP99, r.LatP999, r.LatMax)
		fmt.Fprintf(w, "cpu:      loadgen %.2fs", r.SendGenCPU)
		if cfg.ServerPID != 0 {
			fmt.Fprintf(w, ", server %.2fs = %.2f µs per delivery; server RSS after %.1f MiB",
				r.SendSrvCPU, r.SrvCPUPerDeliv, mib(r.RSSAfterSend))
		}
		fmt.Fprintln(w)
	}
	if len(r.Errors) == 0 && r.Short == 0 {
		fmt.Fprintln(w, "errors:   none")
		return
	}
	keys := make([]string, 0, len(r.Errors))
	for k := range r.Errors {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s ×%d", k, r.Errors[k]))
	}
	if r.Short > 0 {
		parts = append(parts, fmt.Sprintf("%d members short of messages", r.Short))
	}
	fmt.Fprintf(w, "errors:   %s\n", strings.Join(parts, ", "))
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

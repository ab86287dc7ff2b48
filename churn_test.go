package epchat_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/epchat-go/epchat"
	"github.com/epchat-go/epchat/epchattest"
)

// churnTime is how long TestChurn runs; EPCHAT_SOAK (a Go duration, for
// example 2m) makes it a soak test.
func churnTime(t *testing.T) time.Duration {
	s := os.Getenv("EPCHAT_SOAK")
	if s == "" {
		return 3 * time.Second
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("EPCHAT_SOAK=%q: %v", s, err)
	}
	return d
}

// TestChurn runs joins, leaves, reconnects, messages and pings (both ways)
// at once, with the clock running fast, under -race in CI. It checks that
// nothing deadlocks (every request gets its reply), that every member sees
// each sender's messages in the order sent and each room's in seq order,
// and that every frame is valid (the test client checks each one).
func TestChurn(t *testing.T) {
	if testing.Short() {
		t.Skip("churn test skipped in -short mode")
	}
	const (
		rooms   = 3
		members = 4 // besides the owner
	)
	hh := newTestHub(t,
		epchat.WithRequestRate(1e6, 1e6), // churn, not the limits
		epchat.WithMaxConnectionsPerAddr(10000),
		epchat.WithPingInterval(2*time.Second),
		epchat.WithPongTimeout(30*time.Second),
	)

	// The clock runs at about 10x: keepalive pings fly while it runs.
	stopClock := make(chan struct{})
	var clockDone sync.WaitGroup
	clockDone.Go(func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopClock:
				return
			case <-tick.C:
				hh.clock.Advance(100 * time.Millisecond)
			}
		}
	})

	var (
		mu  sync.Mutex
		all []*epchattest.Client // every connection ever opened, for the final check
	)
	keep := func(c *epchattest.Client) {
		mu.Lock()
		all = append(all, c)
		mu.Unlock()
	}

	type worker struct {
		name  string
		c     *epchattest.Client
		owner *epchattest.Client // nil for an owner
		room  string
	}
	var workers []*worker
	for r := range rooms {
		owner := hh.client(t, fmt.Sprintf("nick-owner-%d", r))
		keep(owner)
		ms := make([]*epchattest.Client, members)
		for i := range ms {
			ms[i] = hh.client(t, fmt.Sprintf("nick-m%d-%d", r, i))
			keep(ms[i])
		}
		room := hh.room(t, owner, ms...)
		workers = append(workers, &worker{name: fmt.Sprintf("o%d", r), c: owner, room: room})
		for i, m := range ms {
			workers = append(workers, &worker{name: fmt.Sprintf("m%d-%d", r, i), c: m, owner: owner, room: room})
		}
	}

	deadline := time.Now().Add(churnTime(t))
	var (
		wg    sync.WaitGroup
		sent  [64]int
		fails = make(chan string, len(workers))
	)
	for wi, w := range workers {
		rng := rand.New(rand.NewPCG(uint64(wi), 7))
		wg.Go(func() {
			in := true
			seqNo := 0
			for time.Now().Before(deadline) {
				op := rng.IntN(100)
				switch {
				case op < 60 && in:
					seqNo++
					text := fmt.Sprintf("%s:%d", w.name, seqNo)
					if e := w.c.Call(map[string]any{"type": "send", "room": w.room, "text": text}); e.Type() != "sent" {
						fails <- fmt.Sprintf("%s send: %v", w.name, e)
						return
					}
					sent[wi]++
				case op < 70:
					w.c.WriteFrame(ws.OpPing, []byte(w.name))
				case op < 80 && in:
					e := w.c.Call(map[string]any{"type": "members", "room": w.room})
					if e.Type() != "members" || !strings.Contains(fmt.Sprint(e.MemberIDs()), w.c.ID) {
						fails <- fmt.Sprintf("%s members: %v", w.name, e)
						return
					}
				case op < 90 && w.owner != nil:
					if in {
						if e := w.c.Call(map[string]any{"type": "leave", "room": w.room}); e.Type() != "ok" {
							fails <- fmt.Sprintf("%s leave: %v", w.name, e)
							return
						}
						in = false
						continue
					}
					inv := w.owner.Call(map[string]any{"type": "invite", "room": w.room})
					if inv.Type() != "invite" {
						fails <- fmt.Sprintf("%s invite: %v", w.name, inv)
						return
					}
					hh.secret(inv.Str("token"))
					if e := w.c.Call(map[string]any{"type": "join", "token": inv.Str("token")}); e.Type() != "joined" {
						fails <- fmt.Sprintf("%s join: %v", w.name, e)
						return
					}
					in = true
				case op < 93 && w.owner != nil:
					// A page reload: a new connection resumes the session.
					old := w.c
					old.Conn.Close()
					c := epchattest.Dial(t, hh.url)
					e := c.Call(map[string]any{"type": "hello", "token": old.Token})
					if e.Type() != "welcome" {
						fails <- fmt.Sprintf("%s resume: %v", w.name, e)
						return
					}
					c.ID, c.Token = old.ID, old.Token
					keep(c)
					w.c = c
				}
			}
		})
	}
	wg.Wait()
	close(stopClock)
	clockDone.Wait()
	close(fails)
	for f := range fails {
		t.Error(f)
	}
	if t.Failed() {
		return
	}

	// Every connection still answers, then the order checks.
	total := 0
	for _, n := range sent {
		total += n
	}
	var got, pongs int
	for _, w := range workers {
		if e := w.c.Call(map[string]any{"type": "members", "room": w.room}); e.Type() != "members" && e.Str("code") != "not_found" {
			t.Errorf("%s after the churn: %v", w.name, e)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for i, c := range all {
		pongs += len(c.Pongs())
		lastSeq := map[string]int64{}
		lastBy := map[string]int{}
		for _, e := range c.Events() {
			if e.Type() != "message" {
				continue
			}
			got++
			room, from := e.Str("room"), e.Str("text")
			if e.Num("seq") <= lastSeq[room] {
				t.Errorf("connection %d: room %s seq %d after %d", i, room, e.Num("seq"), lastSeq[room])
			}
			lastSeq[room] = e.Num("seq")
			name, n, _ := strings.Cut(from, ":")
			k, _ := strconv.Atoi(n)
			if k <= lastBy[room+name] {
				t.Errorf("connection %d: %s's message %d after %d", i, name, k, lastBy[room+name])
			}
			lastBy[room+name] = k
		}
	}
	if pongs == 0 {
		t.Error("no pong came back")
	}
	t.Logf("%d connections, %d messages sent, %d delivered, %d pongs", len(all), total, got, pongs)
}

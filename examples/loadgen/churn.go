//go:build linux

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
)

// churnConfig is a churn run: -churn hellos from one source address, each
// on a connection of its own that closes once answered, as a client that
// makes a new identity and goes away over and over would. The Hub caps
// the users one address may have made (WithMaxUsersPerAddr), so the
// users it remembers plateau at that cap instead of growing with the
// hellos.
type churnConfig struct {
	URL         string
	Hellos      int           // hellos to make, at most
	Concurrency int           // connections open at once
	Duration    time.Duration // cap on the run
	ServerPID   int           // process to read the RSS of; 0: none
	StatsURL    string        // the server's /stats.json, for its Users; "": none
	Progress    io.Writer
}

// churnResult is what a churn run saw.
type churnResult struct {
	Hellos    int            `json:"hellos"`
	Welcomed  int            `json:"welcomed"`
	Refused   int            `json:"too_many_users"`
	Errors    map[string]int `json:"errors,omitempty"`
	Seconds   float64        `json:"seconds"`
	PerSec    float64        `json:"hellos_per_sec"`
	RSSBefore int64          `json:"server_rss_before,omitempty"`
	RSSAfter  int64          `json:"server_rss_after,omitempty"`
	Users     int64          `json:"server_users"` // -1: unknown
	// Checkpoints are the server's RSS and users every tenth of the run,
	// to see the plateau.
	Checkpoints []churnPoint `json:"checkpoints,omitempty"`
}

type churnPoint struct {
	Hellos int   `json:"hellos"`
	RSS    int64 `json:"server_rss,omitempty"`
	Users  int64 `json:"server_users"`
}

// churn runs a churn: every connection from 127.0.0.1.
func churn(ctx context.Context, cfg churnConfig) (*churnResult, error) {
	switch {
	case cfg.Hellos < 1:
		return nil, errors.New("churn: need at least 1 hello")
	case cfg.Concurrency < 1:
		return nil, errors.New("churn: concurrency must be at least 1")
	case cfg.Duration <= 0:
		return nil, errors.New("churn: duration must be positive")
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	d := ws.Dialer{Timeout: 10 * time.Second}
	res := &churnResult{Errors: make(map[string]int), RSSBefore: rss(cfg.ServerPID)}
	var (
		next     atomic.Int64
		welcomed atomic.Int64
		refused  atomic.Int64
		mu       sync.Mutex
		wg       sync.WaitGroup
	)
	step := max(cfg.Hellos/10, 1)
	checkpoint := func(n int) {
		p := churnPoint{Hellos: n, RSS: rss(cfg.ServerPID), Users: serverUsers(cfg.StatsURL)}
		mu.Lock()
		res.Checkpoints = append(res.Checkpoints, p)
		mu.Unlock()
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, "loadgen: churn %d hellos, server users %d, RSS %.1f MiB\n", n, p.Users, mib(p.RSS))
		}
	}
	t0 := time.Now()
	for range cfg.Concurrency {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1))
				if i > cfg.Hellos {
					return
				}
				code, err := churnOne(ctx, d, cfg.URL, i)
				switch {
				case err != nil:
					mu.Lock()
					res.Errors[errClass(err)]++
					mu.Unlock()
				case code == "":
					welcomed.Add(1)
				case code == "too_many_users":
					refused.Add(1)
				default:
					mu.Lock()
					res.Errors["error: "+code]++
					mu.Unlock()
				}
				if i%step == 0 {
					checkpoint(i)
				}
			}
		})
	}
	wg.Wait()
	dur := time.Since(t0)
	res.Hellos = int(min(next.Load(), int64(cfg.Hellos)))
	res.Welcomed, res.Refused = int(welcomed.Load()), int(refused.Load())
	res.Seconds = dur.Seconds()
	res.PerSec = float64(res.Hellos) / dur.Seconds()
	res.RSSAfter = rss(cfg.ServerPID)
	res.Users = serverUsers(cfg.StatsURL)
	if len(res.Errors) == 0 {
		res.Errors = nil
	}
	return res, ctx.Err()
}

// churnOne makes one identity on a connection of its own and hangs up. It
// returns the error code of the answer, "" for a welcome.
func churnOne(ctx context.Context, d ws.Dialer, url string, i int) (string, error) {
	nc, br, _, err := d.Dial(ctx, url)
	if err != nil {
		return "", err
	}
	defer nc.Close()
	c := &client{nc: nc, hdr: make([]byte, ws.MaxHeaderSize-2), mask: rand.Uint32() | 1}
	var src io.Reader = nc
	if br != nil {
		src = io.MultiReader(br, nc)
	}
	c.br = bufio.NewReaderSize(src, 512)
	if err := c.writeText([]byte(`{"type":"hello","id":"h","nickname":"churn` + strconv.Itoa(i) + `"}`)); err != nil {
		return "", err
	}
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		op, p, err := c.readFrame()
		if err != nil {
			return "", err
		}
		if op != ws.OpText {
			continue
		}
		var rep reply
		if err := json.Unmarshal(p, &rep); err != nil {
			return "", fmt.Errorf("bad reply: %w", err)
		}
		switch {
		case rep.ID != "h":
			continue
		case rep.Type == "welcome":
			return "", nil
		case rep.Type == "error":
			return rep.Code, nil
		}
		return "", fmt.Errorf("got %s, waiting for welcome", rep.Type)
	}
}

// serverUsers reads Users from the server's /stats.json; -1 when there is
// no URL or it cannot be read.
func serverUsers(statsURL string) int64 {
	if statsURL == "" {
		return -1
	}
	resp, err := http.Get(statsURL)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var st struct{ Users int64 }
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return -1
	}
	return st.Users
}

// reportChurn prints a churn run.
func reportChurn(w io.Writer, r *churnResult) {
	fmt.Fprintf(w, "churn:    %d hellos from one address in %.2fs = %.0f/s: %d welcomed, %d too_many_users\n",
		r.Hellos, r.Seconds, r.PerSec, r.Welcomed, r.Refused)
	if r.Users >= 0 {
		fmt.Fprintf(w, "server:   %d users remembered\n", r.Users)
	}
	if r.RSSBefore > 0 {
		fmt.Fprintf(w, "rss:      %.1f MiB before, %.1f MiB after\n", mib(r.RSSBefore), mib(r.RSSAfter))
	}
	if len(r.Errors) == 0 {
		fmt.Fprintln(w, "errors:   none")
		return
	}
	var parts []string
	for k, n := range r.Errors {
		parts = append(parts, fmt.Sprintf("%s ×%d", k, n))
	}
	fmt.Fprintf(w, "errors:   %s\n", strings.Join(parts, ", "))
}

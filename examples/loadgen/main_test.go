//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/epchat-go/epchat"
)

// TestMain fails the run if a goroutine outlives the tests, naming it: a
// Hub or server that was not stopped.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newHub serves a real Hub over loopback.
func newHub(t *testing.T) string {
	t.Helper()
	hub, err := epchat.New()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(hub)
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		hub.Shutdown(ctx)
	})
	return "ws://" + strings.TrimPrefix(srv.URL, "http://") + "/"
}

// TestLoadCounts runs small loads against a real Hub and checks that the
// counts add up: every message reaches every other member of its room and
// nothing fails. The Hub runs in this process, which therefore stands in
// for the server process whose RSS and CPU are read.
func TestLoadCounts(t *testing.T) {
	tests := []struct {
		name       string
		members    int
		roomSize   int
		messages   int
		rate       float64
		sources    int
		rooms      int
		deliveries uint64
	}{
		{
			name:       "window",
			members:    20,
			roomSize:   5,
			messages:   10,
			sources:    2,
			rooms:      4,
			deliveries: 20 * 10 * 4,
		},
		{
			name:       "rate",
			members:    10,
			roomSize:   5,
			messages:   3,
			rate:       50,
			sources:    1,
			rooms:      2,
			deliveries: 10 * 3 * 4,
		},
		{
			// The Hub allows 100 connections per address: 300 members pass
			// only from several addresses, here one each.
			name:       "an address per member, past 127.0.0.254",
			members:    300,
			roomSize:   10,
			messages:   1,
			sources:    300,
			rooms:      30,
			deliveries: 300 * 1 * 9,
		},
		{
			name:       "uneven rooms",
			members:    7,
			roomSize:   3,
			messages:   4,
			sources:    3,
			rooms:      3, // 3, 3 and 1 members
			deliveries: 2 * 3 * 2 * 4,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config{
				URL:         newHub(t),
				Members:     tt.members,
				RoomSize:    tt.roomSize,
				Messages:    tt.messages,
				Rate:        tt.rate,
				Window:      4,
				Size:        64,
				Sources:     tt.sources,
				Concurrency: 3,
				Duration:    30 * time.Second,
				ServerPID:   os.Getpid(),
			}
			res, err := execute(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if res.Seated != tt.members || res.Rooms != tt.rooms {
				t.Errorf("seated %d in %d rooms, want %d in %d", res.Seated, res.Rooms, tt.members, tt.rooms)
			}
			if want := uint64(tt.members * tt.messages); res.Sent != want {
				t.Errorf("sent replies %d, want %d", res.Sent, want)
			}
			if res.Deliveries != tt.deliveries || res.ExpectDeliveries != tt.deliveries {
				t.Errorf("deliveries %d (expected %d), want %d", res.Deliveries, res.ExpectDeliveries, tt.deliveries)
			}
			if !res.Complete || res.Short != 0 || len(res.Errors) != 0 {
				t.Errorf("complete %v, %d members short, errors %v", res.Complete, res.Short, res.Errors)
			}
			if res.LatP50 <= 0 || res.LatP50 > res.LatMax {
				t.Errorf("latency p50 %vms, max %vms", res.LatP50, res.LatMax)
			}
			if res.RSSSeated <= 0 {
				t.Errorf("server RSS not read: %d", res.RSSSeated)
			}
		})
	}
}

// TestMainJSON runs the command as a user would, flags and all.
func TestMainJSON(t *testing.T) {
	url := newHub(t)
	var out, errOut bytes.Buffer
	args := []string{"-url", url, "-n", "6", "-k", "3", "-m", "2", "-settle", "0", "-duration", "30s", "-json"}
	if err := runMain(context.Background(), args, &out, &errOut); err != nil {
		t.Fatalf("%v\n%s", err, errOut.Bytes())
	}
	var res result
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("%v: %s", err, out.Bytes())
	}
	if res.Deliveries != 6*2*2 || !res.Complete {
		t.Errorf("deliveries %d, complete %v: %s", res.Deliveries, res.Complete, out.Bytes())
	}
}

// TestRefusesRemoteTargets keeps load runs on the machine.
func TestRefusesRemoteTargets(t *testing.T) {
	tests := []struct {
		name string
		url  string
		ok   bool
	}{
		{
			name: "loopback",
			url:  "ws://127.0.0.1:8080/chat/",
			ok:   true,
		},
		{
			name: "other loopback",
			url:  "ws://127.0.0.2:8080/",
			ok:   true,
		},
		{
			name: "remote",
			url:  "ws://10.0.0.1:8080/chat/",
		},
		{
			name: "name",
			url:  "ws://example.com/chat/",
		},
		{
			name: "tls",
			url:  "wss://127.0.0.1/chat/",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := checkLoopback(tt.url); (err == nil) != tt.ok {
				t.Errorf("checkLoopback(%q) = %v, want ok %v", tt.url, err, tt.ok)
			}
		})
	}
}

// TestHistogram checks the buckets tile the numbers and a quantile lands
// within the promised 1.6 %.
func TestHistogram(t *testing.T) {
	for _, v := range []uint64{0, 1, 63, 64, 65, 127, 128, 1000, 123456789, 1 << 40} {
		i := bucketOf(v)
		if lo, hi := bucketLow(i), bucketLow(i+1); v < lo || v >= hi {
			t.Errorf("%d in bucket %d = [%d, %d)", v, i, lo, hi)
		}
	}
	h := newHistogram()
	for i := range 1000 {
		h.record(i, int64(i+1)*1000) // 1 µs .. 1 ms
	}
	q := h.quantiles(0.5, 0.99)
	for k, want := range []float64{500e3, 990e3} {
		if got := float64(q[k]); got < want*0.984 || got > want*1.016 {
			t.Errorf("quantile %d = %v, want %v ± 1.6%%", k, got, want)
		}
	}
	if h.max() != 1e6 {
		t.Errorf("max %d, want 1e6", h.max())
	}
}

// TestChurnPlateaus: a churn of hellos from one address makes as many
// users as the Hub's cap per address, and is refused with too_many_users
// beyond it, with no other error.
func TestChurnPlateaus(t *testing.T) {
	hub, err := epchat.New(epchat.WithMaxUsersPerAddr(5))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(hub)
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		hub.Shutdown(ctx)
	})
	res, err := churn(t.Context(), churnConfig{
		URL:         "ws://" + strings.TrimPrefix(srv.URL, "http://") + "/",
		Hellos:      30,
		Concurrency: 4,
		Duration:    time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Hellos != 30 || res.Welcomed != 5 || res.Refused != 25 || res.Errors != nil {
		t.Fatalf("churn: %+v, want 30 hellos: 5 welcomed, 25 too_many_users, no error", res)
	}
	if u := hub.Stats().Users; u != 5 {
		t.Fatalf("the Hub remembers %d users, want 5", u)
	}
}

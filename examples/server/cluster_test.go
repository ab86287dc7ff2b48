package main

import (
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// startRedis runs a redis-server without persistence (unless args say
// otherwise) on a free loopback port for the test, or skips the test when
// there is none (fails under CI=true).
func startRedis(t *testing.T, args ...string) string {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server not found (CI=true)")
		}
		t.Skip("redis-server not found; apt-get install redis-server")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	cmd := exec.Command(path, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	cmd.Args = append(cmd.Args, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	addr := "127.0.0.1:" + port
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	deadline := time.Now().Add(10 * time.Second)
	for rdb.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatal("redis-server not ready after 10s")
		}
		time.Sleep(10 * time.Millisecond) // polling a starting server, not a time rule
	}
	return addr
}

// TestDemoCluster runs two demo processes on one Redis, as the redisstore
// README says, and chats across them; at Ctrl-C neither closes the rooms,
// which the other processes go on serving.
func TestDemoCluster(t *testing.T) {
	redisAddr := startRedis(t)
	t.Chdir(t.TempDir())
	addrs := make([]string, 2)
	dones := make([]chan error, 2)
	cancels := make([]context.CancelFunc, 2)
	for i := range addrs {
		ctx, cancel := context.WithCancel(context.Background())
		cancels[i] = cancel
		ready := make(chan listening, 1)
		dones[i] = make(chan error, 1)
		go func() {
			dones[i] <- run(ctx, []string{"-addr", "127.0.0.1:0", "-redis", redisAddr}, io.Discard, io.Discard, ready)
		}()
		select {
		case at := <-ready:
			addrs[i] = at.HTTP
		case err := <-dones[i]:
			t.Fatal(err)
		}
	}
	ana, ben, room := seatPair(t, "ws://"+addrs[0]+"/chat/", "ws://"+addrs[1]+"/chat/")
	call(ben, `{"type":"send","id":"3","room":"`+room+`","text":"hi Ana"}`, "sent")
	if m := ana.MustNext("message"); m["text"] != "hi Ana" {
		t.Fatalf("message across processes: %v", m)
	}

	cancels[1]() // Ctrl-C on the second process: ben's connection ends
	if err := <-dones[1]; err != nil {
		t.Fatal(err)
	}
	call(ana, `{"type":"send","id":"4","room":"`+room+`","text":"still here"}`, "sent")
	if m := call(ana, `{"type":"members","id":"5","room":"`+room+`"}`, "members"); len(m["members"].([]any)) != 2 {
		t.Fatalf("members after the other process stopped: %v; want ana and ben (within the grace)", m)
	}
	cancels[0]()
	if err := <-dones[0]; err != nil {
		t.Fatal(err)
	}
}

// With -redis the demo refuses a Redis that writes to disk, or whose
// settings it cannot read, with redisstore's error, which says how to run
// it; with -redis-persistence-ok it starts, and warns once. A Redis
// without persistence starts with no warning. (An append-only file is not
// tried here: it would be written at once; redisstore's tests check the
// setting.)
func TestRedisDiskWarning(t *testing.T) {
	for _, tt := range []struct {
		name    string
		redis   []string
		refused string // the startup error without -redis-persistence-ok; "" if it starts
		warn    string // in the log with -redis-persistence-ok
	}{
		{
			name: "no persistence",
		},
		{
			name:    "snapshots",
			redis:   []string{"--save", "3600 1"},
			refused: "writes its data to disk",
			warn:    "Redis writes to disk, so rooms",
		},
		{
			name:    "CONFIG refused",
			redis:   []string{"--rename-command", "CONFIG", ""},
			refused: "cannot read the Redis's persistence settings",
			warn:    "could not check whether Redis writes to disk",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			redisAddr := startRedis(t, tt.redis...)
			t.Chdir(t.TempDir())
			if tt.refused != "" {
				err := run(t.Context(), []string{"-addr", "127.0.0.1:0", "-redis", redisAddr}, io.Discard, io.Discard, nil)
				if err == nil || !strings.Contains(err.Error(), tt.refused) || !strings.Contains(err.Error(), "--save ''") {
					t.Fatalf("the demo on this Redis: %v; want a refusal saying %q and how to run it", err, tt.refused)
				}
			}
			args := []string{"-redis", redisAddr}
			if tt.warn != "" {
				args = append(args, "-redis-persistence-ok")
			}
			d := startDemo(t, args...)
			log := d.log.String()
			warns := strings.Count(log, "level=WARN")
			switch {
			case tt.warn == "" && warns > 0:
				t.Errorf("warned:\n%s", log)
			case tt.warn != "" && (warns != 1 || !strings.Contains(log, tt.warn)):
				t.Errorf("want one warning saying %q:\n%s", tt.warn, log)
			case tt.warn != "" && !strings.Contains(log, "redis="+redisAddr):
				t.Errorf("the warning names no Redis:\n%s", log)
			}
		})
	}
}

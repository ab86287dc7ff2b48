package redisstore

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

// The tests run against a real redis-server, started by TestMain on a free
// loopback port, without persistence, in a temporary directory, and
// stopped at the end. Without redis-server the tests skip, unless CI=true:
// then they fail, so that CI cannot pass without running them.
var (
	redisAddr    string
	redisMissing string
)

// TestMain starts a redis-server for the tests, and fails the run if a
// goroutine outlives them, naming it: a Hub, Store or Broker that was not
// stopped. One goroutine of go-redis is let go: its maintenance
// notifications' circuit breaker cleanup, which Client.Close does not stop
// (redis/go-redis#3620).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(withRedis{m},
		goleak.IgnoreTopFunction("github.com/redis/go-redis/v9/maintnotifications.(*CircuitBreakerManager).cleanupLoop"))
}

// withRedis runs the tests with a redis-server of their own.
type withRedis struct{ m *testing.M }

func (w withRedis) Run() int { return runMain(w.m) }

func runMain(m *testing.M) int {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		msg := "redis-server not found; install it (apt-get install redis-server) to run the redisstore tests"
		if os.Getenv("CI") == "true" {
			fmt.Fprintln(os.Stderr, "FAIL:", msg, "(CI=true)")
			return 1
		}
		redisMissing = msg
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "redisstore-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	stop, addr, err := startRedis(path, dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: start redis-server:", err)
		return 1
	}
	defer stop()
	defer stopCluster()
	redisAddr = addr
	return m.Run()
}

// startRedis starts redis-server on a free loopback port and waits until it
// says it accepts connections.
func startRedis(path, dir string, args ...string) (stop func(), addr string, err error) {
	stop, addr, _, err = startRedisProc(path, dir, args...)
	return stop, addr, err
}

// startRedisProc is startRedis that also returns the server's process,
// for the tests that pause it.
func startRedisProc(path, dir string, args ...string) (stop func(), addr string, proc *os.Process, err error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", nil, err
	}
	p := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return startRedisProcOn(path, dir, p, args...)
}

// startRedisOnPort is startRedis on a port of the caller's choosing.
func startRedisOnPort(path, dir string, port int, args ...string) (stop func(), addr string, err error) {
	stop, addr, _, err = startRedisProcOn(path, dir, port, args...)
	return stop, addr, err
}

func startRedisProcOn(path, dir string, p int, args ...string) (stop func(), addr string, proc *os.Process, err error) {
	port := strconv.Itoa(p)
	cmd := exec.Command(path, append([]string{
		"--port", port,
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", dir,
	}, args...)...)
	cmd.Dir = dir
	dieWithTest(cmd)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, "", nil, err
	}
	stop = func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		ok := false
		for sc.Scan() {
			if strings.Contains(sc.Text(), "Ready to accept connections") {
				ok = true
				break
			}
		}
		ready <- ok
		io.Copy(io.Discard, out)
	}()
	select {
	case ok := <-ready:
		if !ok {
			stop()
			return nil, "", nil, fmt.Errorf("redis-server exited before it was ready")
		}
	case <-time.After(10 * time.Second):
		stop()
		return nil, "", nil, fmt.Errorf("redis-server not ready after 10s")
	}
	return stop, "127.0.0.1:" + port, cmd.Process, nil
}

// newClient returns a client of the test server, or skips the test when
// there is no redis-server (outside CI).
func newClient(t testing.TB) *redis.Client {
	t.Helper()
	if redisMissing != "" {
		t.Skip(redisMissing)
	}
	c := redis.NewClient(&redis.Options{Addr: redisAddr, PoolSize: 64})
	t.Cleanup(func() { c.Close() })
	return c
}

var prefixSeq atomic.Int64

// freshPrefix is a deployment name no other test uses, so that tests share
// the server without seeing each other's keys.
func freshPrefix() string { return "t" + strconv.FormatInt(prefixSeq.Add(1), 10) }

// newStore returns a Store on a fresh prefix, with the heartbeat driven by
// the test (injected times).
func newStore(t testing.TB, opts ...Option) *Store {
	t.Helper()
	return newStoreOn(t, newClient(t), freshPrefix(), opts...)
}

func newStoreOn(t testing.TB, c redis.UniversalClient, prefix string, opts ...Option) *Store {
	t.Helper()
	s, err := New(c, append([]Option{WithPrefix(prefix), WithManualHeartbeat()}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var bg = context.Background()

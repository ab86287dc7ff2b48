package redisstore

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/epchat-go/epchat"
	"github.com/epchat-go/epchat/storetest"
	"github.com/redis/go-redis/v9"
)

// A Redis Cluster of 3 masters (no replicas) on loopback, started by the
// first test that needs it, in a temporary directory, and stopped by
// TestMain: redis-server --cluster-enabled yes for each, then redis-cli
// --cluster create. Both programs come with Debian's redis-server package
// (redis-cli through redis-tools).
var (
	clusterOnce  sync.Once
	clusterAddrs []string
	clusterErr   error
	clusterStop  func()
)

// stopCluster stops the Cluster if a test started it.
func stopCluster() {
	if clusterStop != nil {
		clusterStop()
	}
}

// freePortPair finds a port p such that p and p+10000 (the cluster bus)
// are free on loopback now.
func freePortPair() (int, error) {
	for range 100 {
		p := 20000 + rand.IntN(25000)
		l1, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		l2, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+10000))
		l1.Close()
		if err != nil {
			continue
		}
		l2.Close()
		return p, nil
	}
	return 0, fmt.Errorf("no free port pair on loopback")
}

func startCluster3() ([]string, func(), error) {
	server, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, nil, err
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		return nil, nil, fmt.Errorf("redis-cli not found (Debian: redis-tools, which redis-server brings): %w", err)
	}
	dir, err := os.MkdirTemp("", "redisstore-cluster-")
	if err != nil {
		return nil, nil, err
	}
	var stops []func()
	stop := func() {
		for _, s := range stops {
			s()
		}
		os.RemoveAll(dir)
	}
	var addrs []string
	for i := range 3 {
		port, err := freePortPair()
		if err != nil {
			stop()
			return nil, nil, err
		}
		nd := filepath.Join(dir, strconv.Itoa(i))
		if err := os.Mkdir(nd, 0o700); err != nil {
			stop()
			return nil, nil, err
		}
		s, addr, err := startRedisOnPort(server, nd, port,
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "5000")
		if err != nil {
			stop()
			return nil, nil, err
		}
		stops = append(stops, s)
		addrs = append(addrs, addr)
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		stop()
		return nil, nil, fmt.Errorf("redis-cli --cluster create: %v\n%s", err, out)
	}
	// Wait until every node says the cluster is ok (all slots covered,
	// the nodes agree).
	deadline := time.Now().Add(20 * time.Second)
	for _, a := range addrs {
		host, port, _ := net.SplitHostPort(a)
		for {
			out, _ := exec.Command(cli, "-h", host, "-p", port, "cluster", "info").Output()
			if strings.Contains(string(out), "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				stop()
				return nil, nil, fmt.Errorf("cluster not ok after 20s: %s", out)
			}
			time.Sleep(50 * time.Millisecond) // polling the servers' state, not a time rule
		}
	}
	return addrs, stop, nil
}

// newClusterClient returns a client of the test Cluster, starting it at
// the first call; it skips the test when there is no redis-server (outside
// CI).
func newClusterClient(t testing.TB) *redis.ClusterClient {
	t.Helper()
	if redisMissing != "" {
		t.Skip(redisMissing)
	}
	clusterOnce.Do(func() {
		// The servers are started from a goroutine of their own that
		// lives until TestMain stops them: dieWithTest ties them to the
		// thread that started them, and a test's goroutine ends with
		// its test.
		started, quit, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
		go func() {
			defer close(done)
			var stop func()
			clusterAddrs, stop, clusterErr = startCluster3()
			close(started)
			if clusterErr != nil {
				return
			}
			<-quit
			stop()
		}()
		<-started
		clusterStop = func() {
			close(quit)
			<-done
		}
	})
	if clusterErr != nil {
		t.Fatal("start a Redis Cluster:", clusterErr)
	}
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: clusterAddrs, PoolSize: 32})
	t.Cleanup(func() { c.Close() })
	return c
}

// TestClusterStoreContract runs the conformance suite on a Redis Cluster
// of 3 masters, every rule on a deployment of its own prefix (so the
// deployments, one hash slot each, spread over the masters).
func TestClusterStoreContract(t *testing.T) {
	c := newClusterClient(t)
	storetest.Run(t, func(t *testing.T) epchat.Store { return newStoreOn(t, c, freshPrefix()) })
}

// TestRedisClusterChat: TestClusterChat's chat (owner on a, member on b,
// 100 messages each way, history) with both processes on a Redis Cluster
// of 3 masters: the Store's functions, the Broker's shard channels
// (SSUBSCRIBE, SPUBLISH from the Message function) and, on a, the
// auto-pipeliner, all through a ClusterClient.
func TestRedisClusterChat(t *testing.T) {
	clk := newClockForCluster()
	prefix := freshPrefix()
	a := startHubProcOn(t, newClusterClient(t), []Option{WithAutoPipeline()}, "a", prefix, clk, true)
	b := startHubProcOn(t, newClusterClient(t), nil, "b", prefix, clk, true)
	chatAcross(t, a, b)
}

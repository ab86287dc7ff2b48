package redisstore

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/redis/go-redis/v9"

	"github.com/epchat-go/epchat/epchattest"
	"github.com/epchat-go/epchat/internal/netpoll"
)

// TestPausedRedisStallsNoOther: while Redis is stopped (SIGSTOP) and more
// sends (or invites) wait on it than the Hub's poller has workers, the
// process still reads every other connection: a member's ping is answered
// and a request that needs no Redis call gets its answer. Once Redis runs
// again, every waiting request is answered. The Redis client here waits
// as long as the pause lasts (30 s timeouts), as a Redis that stalls
// rather than drops does; the root's TestStalledRoomsStallNoOther shows
// other rooms chatting on, with a Store stalled per room (one Redis cannot
// be). The poller starts no extra worker for callbacks stuck without
// saying so (netpoll.SetStuckExtraLimit(0)): sends wait in their rooms'
// queues, and an invite's callback says it may block before its Store
// call, which alone keeps workers free for the others.
func TestPausedRedisStallsNoOther(t *testing.T) {
	t.Cleanup(netpoll.SetStuckExtraLimit(0))
	for _, request := range []string{"send", "invite"} {
		t.Run(request, func(t *testing.T) { pausedRedisStallsNoOther(t, request) })
	}
}

func pausedRedisStallsNoOther(t *testing.T, request string) {
	addr, proc := ownRedis(t)
	rdb := redis.NewClient(&redis.Options{
		Addr:         addr,
		PoolSize:     64,
		ReadTimeout:  30 * time.Second,
		WriteTimeout: 30 * time.Second,
		MaxRetries:   -1, // no retry: one call, waiting out the pause
	})
	t.Cleanup(func() { rdb.Close() })
	a := startHubProcOn(t, rdb, nil, "a", freshPrefix(), epchattest.NewClock(t0), true)

	const waiting = 24 // more than the poller's workers, max(8, 4 per core)
	owners := make([]*epchattest.Client, waiting)
	rooms := make([]string, waiting)
	for i := range owners {
		owners[i] = a.join(t, fmt.Sprint("Owner", i))
		rooms[i] = owners[i].MustCall("joined", map[string]any{"type": "create"}).Str("room")
	}
	other := a.join(t, "Other")

	pause(t, proc)
	ids := make([]string, waiting)
	for i, o := range owners {
		if request == "send" {
			ids[i] = o.Send(map[string]any{"type": "send", "room": rooms[i], "text": "waits"})
		} else {
			ids[i] = o.Send(map[string]any{"type": "invite", "room": rooms[i]})
		}
	}
	// More calls wait on Redis than the poller has workers.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		st := rdb.PoolStats()
		if st.TotalConns-st.IdleConns > 8 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d Redis calls wait for %d requests: the poller's workers are all stuck and read no other connection", st.TotalConns-st.IdleConns, waiting)
		}
	}

	if err := other.WriteFrame(ws.OpPing, []byte("alive?")); err != nil {
		t.Fatal(err)
	}
	if e := other.Call(map[string]any{"type": "no-such-request"}); e.Str("code") != "unknown_type" {
		t.Fatalf("a request that needs no Redis call, while Redis is stopped: %v; want error unknown_type", e)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(other.Pongs()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no pong while Redis is stopped: the process stopped reading connections")
		}
		time.Sleep(5 * time.Millisecond)
	}

	if err := proc.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"send": "sent", "invite": "invite"}[request]
	for i, o := range owners {
		if e := o.Reply(ids[i]); e.Type() != want {
			t.Fatalf("%s %d, once Redis runs again: %v", request, i, e)
		}
	}
}

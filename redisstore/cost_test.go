package redisstore

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisCPU is the CPU time the server has used (user + system), from
// INFO cpu.
func redisCPU(tb testing.TB, c redis.UniversalClient) time.Duration {
	tb.Helper()
	info, err := c.Info(bg, "cpu").Result()
	if err != nil {
		tb.Fatal(err)
	}
	var total float64
	for _, line := range strings.Split(info, "\r\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && (k == "used_cpu_user" || k == "used_cpu_sys") {
			f, _ := strconv.ParseFloat(v, 64)
			total += f
		}
	}
	return time.Duration(total * float64(time.Second))
}

// commandCalls is the number of commands the server has run (INFO
// commandstats, summed), and the µs they took by its own account.
func commandCalls(tb testing.TB, c redis.UniversalClient) (calls int64, usec int64) {
	tb.Helper()
	info, err := c.Info(bg, "commandstats").Result()
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		_, v, ok := strings.Cut(line, ":")
		name, _, _ := strings.Cut(line, ":")
		switch name {
		case "cmdstat_fcall", "cmdstat_evalsha", "cmdstat_publish", "cmdstat_spublish":
		default:
			continue // not sent by the Hub's path (INFO), or run inside a function
		}
		if !ok {
			continue
		}
		for _, f := range strings.Split(v, ",") {
			k, n, _ := strings.Cut(f, "=")
			switch k {
			case "calls":
				x, _ := strconv.ParseInt(n, 10, 64)
				calls += x
			case "usec":
				x, _ := strconv.ParseInt(n, 10, 64)
				usec += x
			}
		}
	}
	return calls, usec
}

// BenchmarkMessageCost sends messages to 64 rooms of 10 from 16
// goroutines through the path the Hub takes with a Broker, and reports
// what Redis spent per message: CPU time (INFO cpu), commands sent and
// their time (INFO commandstats; the commands a function runs are counted
// in its FCALL's time). A second process's Broker serves every room.
// "two-calls" is Store.Message then Broker.Publish (the Hub's path when
// the Broker is not the Store's MessagePublisher), "one-call" is
// Broker.PublishMessage. The event is 200 bytes.
//
//	GOWORK=off go test -run '^$' -bench MessageCost -benchtime 20000x ./
func BenchmarkMessageCost(b *testing.B) {
	for _, mode := range []string{"two-calls", "one-call"} {
		b.Run(mode, func(b *testing.B) { benchMessageCost(b, mode == "one-call") })
	}
}

func benchMessageCost(b *testing.B, one bool) {
	c := newClient(b)
	prefix := freshPrefix()
	s := newStoreOn(b, c, prefix, WithAutoPipeline())
	br, err := NewBroker(c, WithPrefix(prefix), WithAutoPipeline())
	if err != nil {
		b.Fatal(err)
	}
	sub, err := NewBroker(newClient(b), WithPrefix(prefix))
	if err != nil {
		b.Fatal(err)
	}
	var got atomic.Int64
	stop, err := sub.Subscribe(func(string, []byte) { got.Add(1) })
	if err != nil {
		b.Fatal(err)
	}
	defer stop()
	const rooms = 64
	for r := range rooms {
		mustRoom(b, s, fmt.Sprint("room", r), "owner", 10, t0)
		<-sub.Serve(fmt.Sprint("room", r))
	}
	head, tail := make([]byte, 100), make([]byte, 100)
	event := append(append(head[:len(head):len(head)], '1'), tail...)
	cpu0 := redisCPU(b, c)
	calls0, usec0 := commandCalls(b, c)
	b.ResetTimer()
	var wg sync.WaitGroup
	const senders = 16
	for g := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < b.N; i += senders {
				room := fmt.Sprint("room", i%rooms)
				at := t0.Add(time.Duration(i))
				if one {
					if _, err := br.PublishMessage(bg, room, "owner", at, head, tail); err != nil {
						b.Error(err)
						return
					}
					continue
				}
				if _, err := s.Message(bg, room, "owner", at); err != nil {
					b.Error(err)
					return
				}
				if err := br.Publish(bg, room, event); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	calls1, usec1 := commandCalls(b, c)
	cpu := redisCPU(b, c) - cpu0
	n := float64(b.N)
	b.ReportMetric(float64(cpu.Microseconds())/n, "redis-cpu-µs/msg")
	b.ReportMetric(float64(usec1-usec0)/n, "cmd-µs/msg")
	b.ReportMetric(float64(calls1-calls0)/n, "cmds/msg")
	if os.Getenv("REDISSTORE_COST_STATS") != "" && b.N > 1 {
		fmt.Fprintln(os.Stderr, c.Info(bg, "commandstats").Val())
	}
}

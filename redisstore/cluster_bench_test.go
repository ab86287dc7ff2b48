package redisstore

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/epchat-go/epchat/epchattest"
	"github.com/gobwas/ws"
)

// deliveries counts the message events the members of a room receive.
type deliveries struct {
	mu   sync.Mutex
	cond *sync.Cond
	n    int
}

func newDeliveries() *deliveries {
	d := &deliveries{}
	d.cond = sync.NewCond(&d.mu)
	return d
}

var (
	messagePrefix = []byte(`{"type":"message"`)
	sentPrefix    = []byte(`{"type":"sent"`)
)

// swallow counts p if it is a message event; it reports whether p was a
// message or a sent reply, which the benchmark does not decode.
func (d *deliveries) swallow(p []byte) bool {
	switch {
	case bytes.HasPrefix(p, messagePrefix):
		d.mu.Lock()
		d.n++
		d.cond.Broadcast()
		d.mu.Unlock()
		return true
	case bytes.HasPrefix(p, sentPrefix):
		return true
	}
	return false
}

// wait returns once at least n messages were received.
func (d *deliveries) wait(n int) {
	d.mu.Lock()
	for d.n < n {
		d.cond.Wait()
	}
	d.mu.Unlock()
}

// BenchmarkClusterFanout measures a room of 10 members, each message from
// one member (in turn) reaching the 9 others, all over real WebSockets on
// loopback with the Store in the test's redis-server:
//
//   - hubs=1/broker=no: one process, no Broker (events go straight to
//     the connections);
//   - hubs=1/broker=yes: one process, every event through Redis pub/sub;
//   - hubs=2: two processes with a Broker each, 5 members on each.
//
// window is how many messages may be on their way at once: with 1, ns/op
// is the latency of one message to its last receiver; with 32, the
// throughput. deliveries/s counts messages received by members.
//
//	cd redisstore && GOWORK=off go test -run '^$' -bench ClusterFanout -benchtime 3000x ./
func BenchmarkClusterFanout(b *testing.B) {
	const members = 10
	for _, setup := range []struct {
		name   string
		hubs   int
		broker bool
	}{
		{
			name:   "hubs=1/broker=no",
			hubs:   1,
			broker: false,
		},
		{
			name:   "hubs=1/broker=yes",
			hubs:   1,
			broker: true,
		},
		{
			name:   "hubs=2",
			hubs:   2,
			broker: true,
		},
	} {
		for _, window := range []int{1, 32} {
			b.Run(fmt.Sprintf("%s/window=%d", setup.name, window), func(b *testing.B) {
				prefix := freshPrefix()
				clk := epchattest.NewClock(t0)
				procs := make([]*hubProc, setup.hubs)
				for i := range procs {
					procs[i] = startHubProc(b, string(rune('a'+i)), prefix, clk, setup.broker)
				}
				cs := make([]*epchattest.Client, members)
				for i := range cs {
					cs[i] = procs[i%len(procs)].join(b, fmt.Sprint("m", i))
				}
				room := cs[0].MustCall("joined", map[string]any{"type": "create"}).Str("room")
				for _, c := range cs[1:] {
					c.MustCall("joined", map[string]any{"type": "join", "token": invite(b, cs[0], room)})
				}
				// Every member has seen every join before the count starts.
				for i, c := range cs {
					for _, o := range cs[i+1:] {
						c.Take("member_joined", func(e epchattest.Event) bool {
							who, _ := e["member"].(map[string]any)
							return e.Str("type") == "member_joined" && who["id"] == o.ID
						})
					}
				}
				d := newDeliveries()
				for _, c := range cs {
					c.SetFilter(d.swallow)
				}
				frame := fmt.Appendf(nil, `{"type":"send","room":%q,"text":%q}`, room, strings.Repeat("x", 100))
				b.ResetTimer()
				start := time.Now()
				for i := range b.N {
					d.wait((i - window + 1) * (members - 1))
					c := cs[i%members]
					if err := c.WriteFrame(ws.OpText, frame); err != nil {
						b.Fatal(err)
					}
				}
				d.wait(b.N * (members - 1))
				elapsed := time.Since(start)
				b.StopTimer()
				b.ReportMetric(float64(b.N*(members-1))/elapsed.Seconds(), "deliveries/s")
			})
		}
	}
}

package redisstore

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/redis/go-redis/v9"

	"github.com/epchat-go/epchat"
	"github.com/epchat-go/epchat/epchattest"
	"github.com/epchat-go/epchat/internal/netpoll"
)

// The Hub gathers a room's sends into batches for Broker.PublishMessages
// (epchat.MessageBatcher). These tests speak WebSocket to Hubs on a real
// redis-server of their own, so that its command counts are theirs alone.

// publishes is how many PUBLISH commands Redis has run (inside functions
// included), from INFO commandstats.
func publishes(t *testing.T, c redis.UniversalClient) int {
	t.Helper()
	s, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`cmdstat_publish:calls=(\d+)`).FindStringSubmatch(s)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// ownProcesses starts n processes of one deployment on a redis-server of
// the test's own, with clients of the given read timeout.
func ownProcesses(t *testing.T, n int, readTimeout time.Duration) ([]*hubProc, redis.UniversalClient) {
	t.Helper()
	addr, _ := ownRedis(t)
	prefix := freshPrefix()
	clk := epchattest.NewClock(t0)
	var procs []*hubProc
	for i := range n {
		c := redis.NewClient(&redis.Options{Addr: addr, ReadTimeout: readTimeout, WriteTimeout: readTimeout})
		t.Cleanup(func() { c.Close() })
		procs = append(procs, startHubProcOn(t, c, nil, string(rune('a'+i)), prefix, clk, true))
	}
	admin := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { admin.Close() })
	return procs, admin
}

// roomOf seats members on procs in turn in a room of the first one's; it
// returns the room and its members, owner first.
func roomOf(t *testing.T, procs []*hubProc, members int) (string, []*epchattest.Client) {
	t.Helper()
	owner := procs[0].join(t, "m0")
	room := owner.MustCall("joined", map[string]any{"type": "create"}).Str("room")
	cs := []*epchattest.Client{owner}
	for i := 1; i < members; i++ {
		c := procs[i%len(procs)].join(t, fmt.Sprint("m", i))
		seat(t, c, invite(t, owner, room), room, cs...)
		cs = append(cs, c)
	}
	return room, cs
}

// TestBatchedSends: ten members on two processes each send 40 messages at
// once, without waiting for replies. Every send is acknowledged with its
// own seq, the room's seqs are 1 to 400 with none missing or twice, every
// member receives every other member's messages in seq order, and the
// room took far fewer publishes (round trips) than messages.
func TestBatchedSends(t *testing.T) {
	procs, admin := ownProcesses(t, 2, 5*time.Second)
	room, members := roomOf(t, procs, 10)
	before := publishes(t, admin)

	const each = 40
	ids := map[*epchattest.Client][]string{}
	for i := range each {
		for _, c := range members {
			ids[c] = append(ids[c], c.Send(map[string]any{"type": "send", "room": room, "text": fmt.Sprint(c.ID, " ", i)}))
		}
	}
	owner := map[int64]string{} // seq -> text
	for _, c := range members {
		last := int64(0)
		for i, id := range ids[c] {
			e := c.Reply(id)
			seq := e.Num("seq")
			if e.Type() != "sent" || seq <= last {
				t.Fatalf("%s's send %d: %v; want sent with a seq above %d", c.ID, i, e, last)
			}
			if prev, dup := owner[seq]; dup {
				t.Fatalf("seq %d acknowledged for %q and %q", seq, prev, fmt.Sprint(c.ID, " ", i))
			}
			owner[seq] = fmt.Sprint(c.ID, " ", i)
			last = seq
		}
	}
	total := int64(each * len(members))
	for seq := int64(1); seq <= total; seq++ {
		if owner[seq] == "" {
			t.Fatalf("seq %d acknowledged to nobody (%d messages)", seq, total)
		}
	}
	for _, c := range members {
		last := int64(0)
		for range total - each {
			e := c.Expect("message", room)
			seq := e.Num("seq")
			if seq <= last || e.Str("text") != owner[seq] || e.Str("from") == c.ID {
				t.Fatalf("%s got %v after seq %d; want seq above it, text %q", c.ID, e, last, owner[seq])
			}
			last = seq
		}
	}
	got := publishes(t, admin) - before
	t.Logf("%d messages in %d publishes", total, got)
	if got > int(total)/2 {
		t.Fatalf("%d messages took %d publishes: not batched", total, got)
	}
}

// TestBatchedSendThenLeave: a member sends five messages and leaves
// without waiting: the leave comes after the sends, as the member sent
// them, so the others get the five messages, then member_left.
func TestBatchedSendThenLeave(t *testing.T) {
	procs, _ := ownProcesses(t, 2, 5*time.Second)
	room, members := roomOf(t, procs, 3)
	leaver := members[1]
	var ids []string
	for i := range 5 {
		ids = append(ids, leaver.Send(map[string]any{"type": "send", "room": room, "text": fmt.Sprint("bye ", i)}))
	}
	leave := leaver.Send(map[string]any{"type": "leave", "room": room})
	for i, id := range ids {
		if e := leaver.Reply(id); e.Type() != "sent" {
			t.Fatalf("send %d before the leave: %v", i, e)
		}
	}
	if e := leaver.Reply(leave); e.Type() == "error" {
		t.Fatalf("leave: %v", e)
	}
	for _, c := range []*epchattest.Client{members[0], members[2]} {
		for i := range 5 {
			if e := c.Next(); e.Type() != "message" || e.Str("text") != fmt.Sprint("bye ", i) {
				t.Fatalf("%s: event %d is %v; want message %q", c.ID, i, e, fmt.Sprint("bye ", i))
			}
		}
		if e := c.Next(); e.Type() != "member_left" || e.Str("member") != leaver.ID {
			t.Fatalf("%s after the messages: %v; want member_left of %s", c.ID, e, leaver.ID)
		}
	}
}

// TestBatchedQueueBounded: while Redis is paused, a room's sends wait in
// its queue up to its bound; a member who sends 600 messages gets
// unavailable at once for those that find it full, while Redis is still
// paused (the client's read timeout is longer than the test), and once
// Redis is back every other send is acknowledged and delivered, in order.
func TestBatchedQueueBounded(t *testing.T) {
	addr, proc := ownRedis(t)
	c := redis.NewClient(&redis.Options{Addr: addr, ReadTimeout: time.Minute, WriteTimeout: time.Minute})
	t.Cleanup(func() { c.Close() })
	p := startHubProcOn(t, c, nil, "a", freshPrefix(), epchattest.NewClock(t0), true,
		epchat.WithRequestRate(10000, 10000))
	room, members := roomOf(t, []*hubProc{p}, 2)
	sender, other := members[0], members[1]

	pause(t, proc)
	const n = 600
	var ids []string
	for i := range n {
		ids = append(ids, sender.Send(map[string]any{"type": "send", "room": room, "text": strconv.Itoa(i)}))
	}
	// A request that needs no Redis, answered in order after the sends:
	// once its answer is in, every send was either queued or refused.
	if e := sender.Call(map[string]any{"type": "no_such_request"}); e.Type() != "error" {
		t.Fatalf("the marker request: %v; want an error", e)
	}
	// At most 512 wait in the queue and 64 in the call on its way: at
	// least 24 were refused, before Redis answers anything. Which ones
	// depends on when the room's leader took its first batch: if it ran
	// after the queue had filled, sends were refused until it did, and
	// later ones found room again.
	refused := map[string]bool{}
	for _, e := range sender.Events() {
		if e.Type() != "error" || e.Str("code") != "unavailable" || !slices.Contains(ids, e.Str("id")) {
			t.Fatalf("while Redis is paused: %v; want only unavailable for sends", e)
		}
		refused[e.Str("id")] = true
	}
	if len(refused) < n-576 {
		t.Fatalf("%d of %d sends refused while Redis is paused; want at least %d", len(refused), n, n-576)
	}
	if err := proc.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	var acked []string
	for i, id := range ids {
		e := sender.Reply(id)
		switch {
		case refused[id]:
			// refused above
		case e.Type() == "sent":
			if e.Num("seq") != int64(len(acked)+1) {
				t.Fatalf("send %d: %v; want seq %d", i, e, len(acked)+1)
			}
			acked = append(acked, strconv.Itoa(i))
		default:
			t.Fatalf("send %d, queued while Redis was paused: %v; want sent", i, e)
		}
	}
	if len(acked) < 512 {
		t.Fatalf("%d sends acknowledged; want the 512 the queue holds at least", len(acked))
	}
	for i, text := range acked {
		if e := other.Expect("message", room); e.Str("text") != text || e.Num("seq") != int64(i+1) {
			t.Fatalf("delivery %d: %v; want %q with seq %d", i, e, text, i+1)
		}
	}
	t.Logf("%d of %d sends acknowledged, the rest refused while Redis was paused", len(acked), n)
}

// TestBatchedSendsBoundedInAll: while Redis is paused, the sends waiting
// are bounded per connection (1 MiB) and for the process (64 MiB), however
// many rooms they name: a client that sends 16 KiB messages to a room it
// is not in gets unavailable at once past its share, and 70 such clients,
// each on a room of its own (every room's queue far from full), past the
// process's. Once Redis is back each waiting send is answered (not_found),
// and the bytes they held are free again: a new client's sends are queued.
func TestBatchedSendsBoundedInAll(t *testing.T) {
	addr, proc := ownRedis(t)
	c := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 8, ReadTimeout: time.Minute, WriteTimeout: time.Minute, PoolTimeout: time.Minute})
	t.Cleanup(func() { c.Close() })
	p := startHubProcOn(t, c, nil, "a", freshPrefix(), epchattest.NewClock(t0), true,
		epchat.WithRequestRate(10000, 10000))
	const clients, each = 70, 80
	flood := make([]*epchattest.Client, clients)
	for i := range flood {
		flood[i] = p.join(t, fmt.Sprint("flood", i))
	}
	text := strings.Repeat("x", 16<<10)
	pause(t, proc) // continued before the Hub's Shutdown, which waits for the leaders
	ids := make([][]string, clients)
	queued := make([]int, clients)
	total := 0
	for i, cl := range flood {
		for range each {
			ids[i] = append(ids[i], cl.Send(map[string]any{"type": "send", "room": fmt.Sprintf("notmine%03d", i), "text": text}))
		}
		// Answered after the sends: once it is in, each was queued or refused.
		if e := cl.Call(map[string]any{"type": "no_such_request"}); e.Type() != "error" {
			t.Fatalf("the marker request: %v; want an error", e)
		}
		refused := 0
		for _, e := range cl.Events() {
			if e.Type() != "error" || e.Str("code") != "unavailable" || !slices.Contains(ids[i], e.Str("id")) {
				t.Fatalf("client %d, while Redis is paused: %v; want only unavailable for sends", i, e)
			}
			refused++
		}
		queued[i] = each - refused
		total += queued[i]
		// Each waiting send holds its 16 KiB and its event's envelope.
		if max := (1 << 20) / (16 << 10); queued[i] > max || i < 60 && queued[i] < max-4 {
			t.Fatalf("client %d: %d sends of 16 KiB waiting on a paused Redis; want about 1 MiB of them, at most %d", i, queued[i], max)
		}
	}
	if max := (64 << 20) / (16 << 10); total > max || total < max-clients {
		t.Fatalf("%d sends of 16 KiB waiting on a paused Redis, from %d clients; want about 64 MiB of them, at most %d", total, clients, max)
	}
	if err := proc.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	for i, cl := range flood {
		for _, id := range ids[i][:queued[i]] {
			if e := cl.Reply(id); e.Type() != "error" || e.Str("code") != "not_found" {
				t.Fatalf("client %d's waiting send, once Redis is back: %v; want not_found", i, e)
			}
		}
	}
	late := p.join(t, "late")
	for range each / 2 {
		if e := late.Call(map[string]any{"type": "send", "room": "notmine999", "text": text}); e.Str("code") != "not_found" {
			t.Fatalf("a send once every waiting one was answered: %v; want not_found (the bytes the others held are free)", e)
		}
	}
	t.Logf("waiting on a paused Redis: %d of %d sends of 16 KiB; client 0 had %d waiting", total, clients*each, queued[0])
}

// TestBatchedRoomFullGivesBackShare: a send refused because its room's
// queue is full (4 MiB) takes nothing from its connection's 1 MiB share.
// Five clients fill one room's queue on a paused Redis (a room none of
// them is in: sends are queued before the Store checks the seat, and
// nobody receives them), the last one's sends refused by the room's
// bound; once everything is answered, Redis is paused again and that
// client's next 1 MiB of sends, to another room, all wait: none is
// refused.
func TestBatchedRoomFullGivesBackShare(t *testing.T) {
	addr, proc := ownRedis(t)
	c := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 8, ReadTimeout: time.Minute, WriteTimeout: time.Minute, PoolTimeout: time.Minute})
	t.Cleanup(func() { c.Close() })
	p := startHubProcOn(t, c, nil, "a", freshPrefix(), epchattest.NewClock(t0), true,
		epchat.WithRequestRate(10000, 10000))
	room := "notmine-full"
	var members []*epchattest.Client
	for i := range 5 {
		members = append(members, p.join(t, fmt.Sprint("filler", i)))
	}
	last := members[len(members)-1]
	text := strings.Repeat("y", 16<<10)
	const each = 60 // under a connection's 1 MiB; five of them pass the room's 4 MiB
	flood := func(cl *epchattest.Client, room string) (ids []string, refused int) {
		for range each {
			ids = append(ids, cl.Send(map[string]any{"type": "send", "room": room, "text": text}))
		}
		if e := cl.Call(map[string]any{"type": "no_such_request"}); e.Type() != "error" {
			t.Fatalf("the marker request: %v; want an error", e)
		}
		for _, e := range cl.Events() {
			if e.Type() == "error" && e.Str("code") == "unavailable" && slices.Contains(ids, e.Str("id")) {
				refused++
			}
		}
		return ids, refused
	}
	pause(t, proc)
	all := map[*epchattest.Client][]string{}
	refusedLast := 0
	for _, m := range members {
		ids, refused := flood(m, room)
		all[m] = ids
		if m == last {
			refusedLast = refused
		}
	}
	if refusedLast == 0 {
		t.Fatalf("the fifth member's sends all found room in a queue of 4 MiB that four members filled")
	}
	if err := proc.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	for _, m := range members {
		for _, id := range all[m] {
			m.Reply(id) // not_found or unavailable: answered
		}
	}
	pause(t, proc)
	ids, refused := flood(last, "notmine-after")
	if refused != 0 {
		t.Fatalf("%d of %d sends refused from a member whose earlier sends were all answered; want none (the %d refused by the full room took some of its share for good)", refused, each, refusedLast)
	}
	if err := proc.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		last.Reply(id)
	}
}

// TestBrokerPublishMessages: PublishMessages records the messages of
// seated users with the room's next seqs, refuses the others with
// ErrNotMember, and publishes one batch of the recorded events in seq
// order; the same call sent again (a lost reply, the same op) returns the
// same seqs and publishes nothing more.
func TestBrokerPublishMessages(t *testing.T) {
	prefix := freshPrefix()
	s := newStore(t, WithPrefix(prefix))
	mustRoom(t, s, "room", "owner", 10, t0)
	pub := newBroker(t, prefix)
	if !pub.Keeps(s) {
		t.Fatal("Keeps: false for the deployment's Store")
	}
	sub := newBroker(t, prefix)
	ch, _ := subscribe(t, sub)
	serve(t, sub, "room")

	msgs := []epchat.BatchMessage{
		{User: "owner", Head: []byte("a"), Tail: []byte("A")},
		{User: "stranger", Head: []byte("b"), Tail: []byte("B")},
		{User: "owner", Head: []byte("c"), Tail: []byte("C")},
	}
	if err := pub.PublishMessages(bg, "room", t0, msgs); err != nil {
		t.Fatal(err)
	}
	if msgs[0].Seq != 1 || msgs[0].Err != nil || msgs[2].Seq != 2 || msgs[2].Err != nil {
		t.Fatalf("seated sends: %+v, %+v; want seqs 1 and 2", msgs[0], msgs[2])
	}
	if !errors.Is(msgs[1].Err, epchat.ErrNotMember) || msgs[1].Seq != 0 {
		t.Fatalf("a send of a user without a seat: %+v; want ErrNotMember", msgs[1])
	}
	if m := recv(t, ch); m.room != "room" || string(m.msg) != "3:a1A3:c2C" {
		t.Fatalf("published %q in %q; want the batch \"3:a1A3:c2C\"", m.msg, m.room)
	}

	// The same op again, as go-redis sends it after a read timeout.
	args := []any{"room", encTime(t0), pub.node, "retry", "PUBLISH", pub.channel + "room", 2, "owner", "d", "D", "owner", "e", "E"}
	first, err := s.call(bg, s.c, scriptMessages, "r:room", args...).Int64Slice()
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.call(bg, s.c, scriptMessages, "r:room", args...).Int64Slice()
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(first) != "[3 4]" || fmt.Sprint(again) != "[3 4]" {
		t.Fatalf("a call and its retry returned %v and %v; want [3 4] both", first, again)
	}
	if err := pub.Publish(bg, "room", []byte("marker")); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, ch); string(m.msg) != "3:d3D3:e4E" {
		t.Fatalf("published %q; want the batch \"3:d3D3:e4E\" once", m.msg)
	}
	if m := recv(t, ch); string(m.msg) != "marker" {
		t.Fatalf("published %q after the batch; want the marker: the retry published again", m.msg)
	}
	if err := pub.PublishMessages(bg, "gone", t0, msgs[:1]); !errors.Is(err, epchat.ErrNotFound) {
		t.Fatalf("PublishMessages to no room: %v; want ErrNotFound", err)
	}
}

// TestBatchedLeadersBounded: while Redis is paused, a client that sends to
// 1 500 rooms (none of them its own) makes at most 1 024 room leaders
// wait on goroutines of their own; its further sends wait on the poller
// worker that read them, as every request did before batches, and the
// client is not read meanwhile. More clients past the bound, one send
// each, hold a worker each, more than the poller has: another client is
// still read and answered, because a leader on a worker says it may block
// (the poller starts no extra worker for callbacks stuck without saying
// so, netpoll.SetStuckExtraLimit(0)). Once Redis is back, each send gets
// its answer (not_found).
func TestBatchedLeadersBounded(t *testing.T) {
	t.Cleanup(netpoll.SetStuckExtraLimit(0))
	addr, proc := ownRedis(t)
	c := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 4, ReadTimeout: time.Minute, WriteTimeout: time.Minute, PoolTimeout: time.Minute})
	t.Cleanup(func() { c.Close() })
	p := startHubProcOn(t, c, nil, "a", freshPrefix(), epchattest.NewClock(t0), true,
		epchat.WithRequestRate(10000, 10000))
	client := p.join(t, "flood")
	const stuck = 24 // more than the poller's workers, max(8, 4 per core)
	more := make([]*epchattest.Client, stuck)
	for i := range more {
		more[i] = p.join(t, fmt.Sprint("late", i))
	}
	other := p.join(t, "other")
	pause(t, proc) // continued before the Hub's Shutdown, which waits for the leaders
	const n, bound = 1500, 1024
	var ids []string
	for i := range n {
		ids = append(ids, client.Send(map[string]any{"type": "send", "room": fmt.Sprintf("nosuchroom%06d", i), "text": "x"}))
	}
	// The leaders start as the sends are read; wait for the bound, then a
	// little more for any beyond it. This waits on the fault, not on a
	// time rule of the Hub. The leaders are counted by their stacks, not
	// by the process's goroutine count, which poller workers and the
	// clients' goroutines move by a few either way.
	deadline := time.Now().Add(waitFor)
	own, onWorker := sendLeaders()
	for own+onWorker < bound+1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		own, onWorker = sendLeaders()
	}
	time.Sleep(200 * time.Millisecond)
	if own, onWorker = sendLeaders(); own != bound || onWorker != 1 {
		t.Fatalf("%d room leaders on goroutines of their own and %d on poller workers, with %d sends to distinct rooms waiting on a paused Redis; want the bound of %d, and 1 (the flooding client's reader, which reads nothing more meanwhile)", own, onWorker, n, bound)
	}
	// Past the bound, each of these sends leads on the worker that read it.
	moreIDs := make([]string, stuck)
	for i, c := range more {
		moreIDs[i] = c.Send(map[string]any{"type": "send", "room": fmt.Sprintf("lateroom%03d", i), "text": "x"})
	}
	for deadline := time.Now().Add(waitFor); onWorker < 1+stuck && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		_, onWorker = sendLeaders()
	}
	if onWorker != 1+stuck {
		t.Fatalf("%d room leaders on poller workers; want %d (the flooding client and one per later client; fewer when the workers are all stuck and read no more connections)", onWorker, 1+stuck)
	}
	if err := other.WriteFrame(ws.OpPing, []byte("alive?")); err != nil {
		t.Fatal(err)
	}
	if e := other.Call(map[string]any{"type": "no-such-request"}); e.Str("code") != "unknown_type" {
		t.Fatalf("a request that needs no Redis call, with %d poller workers leading sends on a paused Redis: %v; want error unknown_type", 1+stuck, e)
	}
	for deadline := time.Now().Add(waitFor); len(other.Pongs()) == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no pong with %d poller workers leading sends on a paused Redis: the process stopped reading connections", 1+stuck)
		}
	}
	if err := proc.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		if e := client.Reply(id); e.Type() != "error" || e.Str("code") != "not_found" {
			t.Fatalf("send %d to no room: %v; want not_found", i, e)
		}
	}
	for i, c := range more {
		if e := c.Reply(moreIDs[i]); e.Type() != "error" || e.Str("code") != "not_found" {
			t.Fatalf("late send %d to no room: %v; want not_found", i, e)
		}
	}
}

// sendLeaders counts the goroutines leading a room's sends: those the
// Hub started for it, and those that lead on the worker that read the
// send.
func sendLeaders() (own, onWorker int) {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	for _, g := range strings.Split(string(buf), "\n\n") {
		if !strings.Contains(g, "epchat.(*Hub).leadSends(") {
			continue
		}
		if strings.Contains(g, "created by github.com/epchat-go/epchat.(*Hub).queueSend") {
			own++
		} else {
			onWorker++
		}
	}
	return own, onWorker
}

package redisstore

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/epchat-go/epchat/epchattest"
	"github.com/redis/go-redis/v9"
)

// The tests in this file put a real redis-server of their own through
// faults: paused (SIGSTOP, then SIGCONT) while messages are in flight,
// restarted empty, flushed, unreachable.

// ownRedis starts a redis-server for this test alone and returns its
// address and process; it is stopped at the end of the test.
// pause stops Redis (SIGSTOP) and returns once the kernel has stopped it:
// the signal is only queued when kill returns, and a Redis that runs on for
// a moment answers calls the test takes for unanswered. Redis continues
// (SIGCONT) at the latest when the test ends, before the cleanups
// registered earlier: a Hub's Shutdown would wait for a stopped Redis.
func pause(t *testing.T, proc *os.Process) {
	t.Helper()
	if err := proc.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proc.Signal(syscall.SIGCONT) })
	for deadline := time.Now().Add(waitFor); !stopped(proc.Pid); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("redis-server %d not stopped %v after SIGSTOP", proc.Pid, waitFor)
		}
	}
}

func ownRedis(t *testing.T, args ...string) (string, *os.Process) {
	t.Helper()
	if redisMissing != "" {
		t.Skip(redisMissing)
	}
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal(err)
	}
	stop, addr, proc, err := startRedisProc(path, t.TempDir(), args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		proc.Signal(syscall.SIGCONT) // a paused server cannot stop
		stop()
	})
	return addr, proc
}

// faultClient is a client with short timeouts, as a deployment that wants
// a lost Redis to fail calls fast would have; go-redis retries a timed-out
// command (MaxRetries 3 by default), which is what the pause test makes
// happen.
func faultClient(t *testing.T, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{
		Addr:         addr,
		PoolSize:     16,
		DialTimeout:  200 * time.Millisecond,
		ReadTimeout:  200 * time.Millisecond,
		WriteTimeout: 200 * time.Millisecond,
	})
	t.Cleanup(func() { c.Close() })
	return c
}

// Without WithAutoPipeline the Store and Broker send each call on its own,
// and go-redis retries a call that timed out; with it, the auto-pipeliner
// retries a batch.
var pipelineModes = []struct {
	name string
	opts []Option
}{
	{
		name: "autopipeline",
		opts: []Option{WithAutoPipeline()},
	},
	{
		name: "plain",
	},
}

// TestPauseNoDuplicateNoLostSeq: two processes, six rooms of four members
// (two on each), everyone sending while Redis is paused for longer than
// the clients' read timeout, so that go-redis gives up on calls Redis runs
// later, and retries calls Redis then runs twice. Afterwards no member got
// any message twice, every seq a room used reached every member but its
// sender (no seq burned), and every acknowledged message was delivered.
func TestPauseNoDuplicateNoLostSeq(t *testing.T) {
	for _, mode := range pipelineModes {
		t.Run(mode.name, func(t *testing.T) { testPause(t, mode.opts) })
	}
}

func testPause(t *testing.T, sopts []Option) {
	addr, proc := ownRedis(t)
	prefix := freshPrefix()
	clk := epchattest.NewClock(t0)
	a := startHubProcOn(t, faultClient(t, addr), sopts, "a", prefix, clk, true)
	b := startHubProcOn(t, faultClient(t, addr), sopts, "b", prefix, clk, true)

	type room struct {
		id      string
		members []*epchattest.Client
	}
	var rooms []room
	for r := range 6 {
		owner := a.join(t, fmt.Sprint("o", r))
		id := owner.MustCall("joined", map[string]any{"type": "create"}).Str("room")
		rm := room{id: id, members: []*epchattest.Client{owner}}
		for i, p := range []*hubProc{b, a, b} {
			c := p.join(t, fmt.Sprint("m", r, i))
			seat(t, c, invite(t, owner, id), id, rm.members...)
			rm.members = append(rm.members, c)
		}
		rooms = append(rooms, rm)
	}

	const perMember = 6
	type sent struct {
		c  *epchattest.Client
		id string
	}
	var sends []sent
	sendAll := func() {
		for _, rm := range rooms {
			for _, c := range rm.members {
				for i := range perMember {
					id := c.Send(map[string]any{"type": "send", "room": rm.id, "text": fmt.Sprint(c.ID, " ", len(sends), " ", i)})
					sends = append(sends, sent{c, id})
				}
			}
		}
	}
	sendAll() // in flight as Redis stops
	pause(t, proc)
	sendAll()
	// Redis stays stopped for 1.5 s of real time: past the clients'
	// timeouts and through their retries. This is the fault, not a time
	// rule of the Hub.
	time.Sleep(1500 * time.Millisecond)
	if err := proc.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	acked := map[string]map[int64]string{} // room -> seq -> text
	failed := 0
	for _, s := range sends {
		e := s.c.Reply(s.id)
		switch e.Type() {
		case "sent":
			if acked[e.Str("room")] == nil {
				acked[e.Str("room")] = map[int64]string{}
			}
			acked[e.Str("room")][e.Num("seq")] = s.id
		case "error":
			failed++
		default:
			t.Fatalf("reply %v to a send", e)
		}
	}
	t.Logf("%d sends: %d acknowledged, %d failed while Redis was paused", len(sends), len(sends)-failed, failed)

	for _, rm := range rooms {
		// Two last messages once Redis is back, from two members: the
		// room's last two seqs. Every member gets the room's messages in
		// seq order (the seq and the publish are one step in Redis), so a
		// member has all it will get once it has one of these.
		l1 := rm.members[1].MustCall("sent", map[string]any{"type": "send", "room": rm.id, "text": "last"}).Num("seq")
		l2 := rm.members[0].MustCall("sent", map[string]any{"type": "send", "room": rm.id, "text": "last"}).Num("seq")
		from := map[int64]string{}
		text := map[string]int64{} // the texts are unique: one seq each
		got := map[int64]map[string]bool{}
		for i, c := range rm.members {
			until, prev := l2, int64(0)
			if i == 0 {
				until = l1
			}
			for prev != until {
				e := c.Expect("message", rm.id)
				seq := e.Num("seq")
				if seq <= prev {
					t.Fatalf("room %s: %s got seq %d after %d: a duplicate, or out of order", rm.id, c.ID, seq, prev)
				}
				if f, ok := from[seq]; ok && f != e.Str("from") {
					t.Fatalf("room %s: seq %d from %s and from %s", rm.id, seq, f, e.Str("from"))
				}
				from[seq] = e.Str("from")
				if s, ok := text[e.Str("text")]; ok && s != seq && e.Str("text") != "last" {
					t.Fatalf("room %s: message %q delivered as seq %d and as seq %d", rm.id, e.Str("text"), s, seq)
				}
				text[e.Str("text")] = seq
				if got[seq] == nil {
					got[seq] = map[string]bool{}
				}
				got[seq][c.ID] = true
				prev = seq
			}
		}
		for seq := int64(1); seq <= l2; seq++ {
			if from[seq] == "" {
				t.Fatalf("room %s: seq %d reached nobody (last seq %d)", rm.id, seq, l2)
			}
			for _, c := range rm.members {
				if c.ID != from[seq] && !got[seq][c.ID] {
					t.Fatalf("room %s: seq %d from %s did not reach %s", rm.id, seq, from[seq], c.ID)
				}
			}
		}
		for seq := range acked[rm.id] {
			if seq > l2 || from[seq] == "" {
				t.Fatalf("room %s: acknowledged seq %d was not delivered", rm.id, seq)
			}
		}
	}
}

// restartableRedis starts a redis-server for this test alone and returns
// its address and a function that stops it and starts a new, empty one on
// the same port.
func restartableRedis(t *testing.T) (string, func()) {
	t.Helper()
	if redisMissing != "" {
		t.Skip(redisMissing)
	}
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	stop, addr, err := startRedis(path, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stop() })
	_, portStr, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portStr)
	return addr, func() {
		stop()
		s, _, err := startRedisOnPort(path, dir, port)
		if err != nil {
			t.Fatal(err)
		}
		stop = s
	}
}

// TestDataLoss: Redis loses the deployment's data, flushed or restarted
// empty, under two processes with a room each side. The process whose call
// finds out first, and the other at its next heartbeat, tell every member
// at once: room_closed with reason lost, then the connection closed with
// 1012; the old session token gets session_invalid. Without a process
// restart, new users then chat across the two processes, and a member
// who goes away is freed one reconnect grace later.
func TestDataLoss(t *testing.T) {
	for _, fault := range []string{"flush", "restart"} {
		t.Run(fault, func(t *testing.T) {
			addr, restart := restartableRedis(t)
			prefix := freshPrefix()
			clk := epchattest.NewClock(t0)
			a := startHubProcOn(t, faultClient(t, addr), nil, "a", prefix, clk, true)
			b := startHubProcOn(t, faultClient(t, addr), nil, "b", prefix, clk, true)
			ann, dan := a.join(t, "Ann"), a.join(t, "Dan")
			ben, cat := b.join(t, "Ben"), b.join(t, "Cat")
			r1 := ann.MustCall("joined", map[string]any{"type": "create"}).Str("room")
			seat(t, ben, invite(t, ann, r1), r1, ann)
			r2 := cat.MustCall("joined", map[string]any{"type": "create"}).Str("room")
			seat(t, dan, invite(t, cat, r2), r2, cat)

			if fault == "flush" {
				admin := redis.NewClient(&redis.Options{Addr: addr})
				if err := admin.FlushAll(bg).Err(); err != nil {
					t.Fatal(err)
				}
				admin.Close()
			} else {
				restart()
			}
			// a finds out at its next call: ann's message.
			if e := ann.Call(map[string]any{"type": "send", "room": r1, "text": "hi"}); e.Type() != "error" {
				t.Fatalf("a message after the loss: %v; want an error", e)
			}
			// b finds out at its next heartbeat.
			if err := b.store.Heartbeat(bg, clk.Now()); !errors.Is(err, errLost) {
				t.Fatalf("b's heartbeat after the loss: %v; want errLost", err)
			}
			b.beat(t) // the new epoch is b's now
			for _, m := range []struct {
				c    *epchattest.Client
				room string
			}{{ann, r1}, {ben, r1}, {cat, r2}, {dan, r2}} {
				if e := m.c.Expect("room_closed", m.room); e.Str("reason") != "lost" {
					t.Fatalf("%s: %v; want room_closed with reason lost", m.c.ID, e)
				}
				m.c.WaitReaderDone()
				if code := m.c.CloseCode(); code != 1012 {
					t.Fatalf("%s closed with %d; want 1012", m.c.ID, code)
				}
			}
			// Each process counts the two rooms it served as lost.
			for _, p := range []*hubProc{a, b} {
				if rc := p.hub.Stats().RoomsClosed; rc.Lost != 2 || rc.Shutdown != 0 {
					t.Fatalf("%s: Stats.RoomsClosed %+v; want Lost 2, Shutdown 0", p.name, rc)
				}
			}
			again := epchattest.Dial(t, a.url)
			if e := again.Call(map[string]any{"type": "hello", "token": ann.Token}); e.Type() != "error" || e.Str("code") != "session_invalid" {
				t.Fatalf("hello with a token from before the loss: %v; want session_invalid", e)
			}

			// Both processes work on, on the new data.
			eve, fay := a.join(t, "Eve"), b.join(t, "Fay")
			r3 := eve.MustCall("joined", map[string]any{"type": "create"}).Str("room")
			seat(t, fay, invite(t, eve, r3), r3, eve)
			fay.MustCall("sent", map[string]any{"type": "send", "room": r3, "text": "back"})
			if e := eve.Expect("message", r3); e.Str("text") != "back" || e.Num("seq") != 1 {
				t.Fatalf("eve got %v; want fay's message, seq 1", e)
			}
			fay.Conn.Close()
			waitDetached(t, b.rdb, prefix, fay.ID) // before the clock moves
			clk.Advance(grace + time.Millisecond)

			if e := eve.Expect("member_left", r3); e.Str("member") != fay.ID || e.Str("reason") != "disconnected" {
				t.Fatalf("eve got %v; want fay leaving, disconnected, one grace after", e)
			}
		})
	}
}

// waitDetached waits until the Store counts no connection of user: the
// Hub detaches a closed connection on its own goroutine.
func waitDetached(t *testing.T, c redis.UniversalClient, prefix, user string) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for c.HGet(bg, "{"+prefix+"}:u:"+user, "conns").Val() != "0" {
		if time.Now().After(deadline) {
			t.Fatalf("%s still has a connection counted", user)
		}
		time.Sleep(time.Millisecond) // polling Redis, not a time rule
	}
}

// TestUnreachable: while Redis does not answer (stopped), a member's send
// and a new visitor's hello get the error unavailable, on either process;
// once it answers again, both processes carry on, without a restart: the
// member's next message reaches the other process, and the visitor gets
// in.
func TestUnreachable(t *testing.T) {
	for _, mode := range pipelineModes {
		t.Run(mode.name, func(t *testing.T) {
			addr, proc := ownRedis(t)
			prefix := freshPrefix()
			clk := epchattest.NewClock(t0)
			a := startHubProcOn(t, faultClient(t, addr), mode.opts, "a", prefix, clk, true)
			b := startHubProcOn(t, faultClient(t, addr), mode.opts, "b", prefix, clk, true)
			ann, ben := a.join(t, "Ann"), b.join(t, "Ben")
			room := ann.MustCall("joined", map[string]any{"type": "create"}).Str("room")
			seat(t, ben, invite(t, ann, room), room, ann)

			pause(t, proc)
			// The replies come while Redis is stopped: the clients'
			// timeouts bound the calls.
			if e := ann.Call(map[string]any{"type": "send", "room": room, "text": "lost?"}); e.Str("code") != "unavailable" {
				t.Fatalf("send while Redis is stopped: %v; want error unavailable", e)
			}
			visitor := epchattest.Dial(t, b.url)
			if e := visitor.Call(map[string]any{"type": "hello", "nickname": "Vic"}); e.Str("code") != "unavailable" {
				t.Fatalf("hello while Redis is stopped: %v; want error unavailable", e)
			}
			if err := proc.Signal(syscall.SIGCONT); err != nil {
				t.Fatal(err)
			}
			seq := ann.MustCall("sent", map[string]any{"type": "send", "room": room, "text": "back"}).Num("seq")
			for {
				// The message sent while Redis was stopped may have been
				// run once it woke (its seq then reached ben before this).
				e := ben.Expect("message", room)
				if e.Num("seq") == seq {
					if e.Str("text") != "back" {
						t.Fatalf("ben got %v", e)
					}
					break
				}
			}
			visitor.Hello("Vic")
		})
	}
}

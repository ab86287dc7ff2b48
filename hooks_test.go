package epchat_test

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/epchat-go/epchat"
)

// hookLog records every hook call, as one line per call, and checks that
// no two calls overlap.
type hookLog struct {
	mu     sync.Mutex
	calls  []string
	inside atomic.Int32
	t      testing.TB
}

func (l *hookLog) add(kind string, ev any) {
	if l.inside.Add(1) != 1 {
		l.t.Errorf("hook %s called while another runs", kind)
	}
	defer l.inside.Add(-1)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, fmt.Sprintf("%s %+v", kind, ev))
}

func (l *hookLog) hooks() epchat.Hooks {
	return epchat.Hooks{
		RoomOpened:     func(e epchat.RoomEvent) { l.add("RoomOpened", e) },
		RoomClosed:     func(e epchat.RoomEvent) { l.add("RoomClosed", e) },
		MemberJoined:   func(e epchat.MemberEvent) { l.add("MemberJoined", e) },
		MemberLeft:     func(e epchat.MemberEvent) { l.add("MemberLeft", e) },
		InviteRedeemed: func(e epchat.InviteEvent) { l.add("InviteRedeemed", e) },
		RoomLocked:     func(e epchat.LockEvent) { l.add("RoomLocked", e) },
	}
}

func (l *hookLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.calls...)
}

// Every room and member event reaches the hooks, in order, with ids,
// counts and reasons; Shutdown returns once the last one is called.
func TestHooksSeeTheLifecycle(t *testing.T) {
	hl := &hookLog{t: t}
	th := newTestHub(t, quiet, epchat.WithHooks(hl.hooks()))
	ctx := context.Background()
	ana, ben := th.client(t, "Ana"), th.client(t, "Ben")
	var want []string
	expect := func(kind string, ev any) { want = append(want, fmt.Sprintf("%s %+v", kind, ev)) }
	at := th.clock.Now()

	r1 := th.room(t, ana, ben)
	expect("RoomOpened", epchat.RoomEvent{Room: r1, Reason: epchat.ReasonCreate, Members: 1, At: at})
	expect("MemberJoined", epchat.MemberEvent{Room: r1, MemberID: ana.ID, Reason: epchat.ReasonCreate, At: at})
	expect("InviteRedeemed", epchat.InviteEvent{Room: r1, MemberID: ben.ID, At: at})
	expect("MemberJoined", epchat.MemberEvent{Room: r1, MemberID: ben.ID, Reason: epchat.ReasonInvite, At: at})
	ben.MustCall("ok", map[string]any{"type": "leave", "room": r1})
	expect("MemberLeft", epchat.MemberEvent{Room: r1, MemberID: ben.ID, Reason: epchat.ReasonLeft, At: at})
	ana.MustCall("ok", map[string]any{"type": "close", "room": r1})
	ana.Expect("room_closed", r1) // the ok reply comes first, then the close
	expect("RoomClosed", epchat.RoomEvent{Room: r1, Reason: epchat.ReasonOwner, Members: 1, At: at})

	nr, err := th.CreateRoom(ctx, epchat.RoomSpec{Invites: 1})
	if err != nil {
		t.Fatal(err)
	}
	expect("RoomOpened", epchat.RoomEvent{Room: nr.ID, Reason: epchat.ReasonHost, At: at})
	ana.MustCall("joined", map[string]any{"type": "join", "token": nr.Owner.Token})
	expect("InviteRedeemed", epchat.InviteEvent{Room: nr.ID, MemberID: ana.ID, Owner: true, At: at})
	expect("MemberJoined", epchat.MemberEvent{Room: nr.ID, MemberID: ana.ID, Reason: epchat.ReasonInvite, At: at})
	ben.MustCall("joined", map[string]any{"type": "join", "token": nr.Members[0].Token})
	expect("InviteRedeemed", epchat.InviteEvent{Room: nr.ID, MemberID: ben.ID, At: at})
	expect("MemberJoined", epchat.MemberEvent{Room: nr.ID, MemberID: ben.ID, Reason: epchat.ReasonInvite, At: at})
	ana.Expect("member_joined", nr.ID)
	ben.Conn.Close()
	th.waitDetached(t, ben.Token)
	th.clock.Advance(epchat.DefaultReconnectGrace + time.Second)
	at = th.clock.Now()
	ana.Expect("member_left", nr.ID)
	expect("MemberLeft", epchat.MemberEvent{Room: nr.ID, MemberID: ben.ID, Reason: epchat.ReasonDisconnected, At: at})
	if err := th.CloseRoom(ctx, nr.ID); err != nil {
		t.Fatal(err)
	}
	expect("RoomClosed", epchat.RoomEvent{Room: nr.ID, Reason: epchat.ReasonHost, Members: 1, At: at})

	r2 := ana.MustCall("joined", map[string]any{"type": "create"}).Str("room")
	ana.MustCall("ok", map[string]any{"type": "leave", "room": r2})
	expect("RoomOpened", epchat.RoomEvent{Room: r2, Reason: epchat.ReasonCreate, Members: 1, At: at})
	expect("MemberJoined", epchat.MemberEvent{Room: r2, MemberID: ana.ID, Reason: epchat.ReasonCreate, At: at})
	expect("MemberLeft", epchat.MemberEvent{Room: r2, MemberID: ana.ID, Reason: epchat.ReasonLeft, At: at})
	expect("RoomClosed", epchat.RoomEvent{Room: r2, Reason: epchat.ReasonEmpty, At: at})

	r3 := ana.MustCall("joined", map[string]any{"type": "create"}).Str("room")
	expect("RoomOpened", epchat.RoomEvent{Room: r3, Reason: epchat.ReasonCreate, Members: 1, At: at})
	expect("MemberJoined", epchat.MemberEvent{Room: r3, MemberID: ana.ID, Reason: epchat.ReasonCreate, At: at})
	th.clock.Advance(epchat.DefaultRoomIdleTimeout + time.Second)
	ana.Expect("room_closed", r3)
	expect("RoomClosed", epchat.RoomEvent{Room: r3, Reason: epchat.ReasonIdle, Members: 1, At: th.clock.Now()})

	r4 := ana.MustCall("joined", map[string]any{"type": "create"}).Str("room")
	at = th.clock.Now()
	expect("RoomOpened", epchat.RoomEvent{Room: r4, Reason: epchat.ReasonCreate, Members: 1, At: at})
	expect("MemberJoined", epchat.MemberEvent{Room: r4, MemberID: ana.ID, Reason: epchat.ReasonCreate, At: at})
	if err := th.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	expect("RoomClosed", epchat.RoomEvent{Room: r4, Reason: epchat.ReasonShutdown, Members: 1, At: at})

	// Shutdown returned: every call is made, none is pending.
	if got := hl.all(); !reflect.DeepEqual(got, want) {
		t.Fatalf("hook calls:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
	if s := th.Stats(); s.HooksDropped != 0 {
		t.Fatalf("dropped %d hook calls", s.HooksDropped)
	}
}

// A hook that blocks stalls nothing: the Hub goes on, the queue fills, then
// calls are dropped and counted; Shutdown makes the calls queued.
func TestHooksSlowHookDropsCalls(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int64
	th := newTestHub(t, epchat.WithHooks(epchat.Hooks{
		RoomOpened: func(epchat.RoomEvent) {
			if calls.Add(1) == 1 {
				close(entered)
				<-release
			}
		},
	}))
	ctx := context.Background()
	if _, err := th.CreateRoom(ctx, epchat.RoomSpec{}); err != nil {
		t.Fatal(err)
	}
	<-entered // the hook goroutine is stuck in the first call

	// Clients are served meanwhile.
	ana := th.client(t, "Ana")
	room := ana.MustCall("joined", map[string]any{"type": "create"}).Str("room")
	ana.MustCall("sent", map[string]any{"type": "send", "room": room, "text": "hi"})

	const queue = 1024 // the queue holds 1024 calls; Ana's room took one
	for range queue - 1 + 10 {
		if _, err := th.CreateRoom(ctx, epchat.RoomSpec{}); err != nil {
			t.Fatal(err)
		}
	}
	if s := th.Stats(); s.HooksDropped != 10 || s.RoomsOpened != queue+10+1 {
		t.Fatalf("with the queue full: %d dropped of %d rooms", s.HooksDropped, s.RoomsOpened)
	}
	close(release)
	if err := th.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if n := calls.Load(); n != queue+1 {
		t.Fatalf("%d calls made, want %d", n, queue+1)
	}
	// After Shutdown, events are dropped, not called.
	if _, err := th.CreateRoom(ctx, epchat.RoomSpec{}); err != nil {
		t.Fatal(err)
	}
	if s := th.Stats(); s.HooksDropped != 11 || calls.Load() != queue+1 {
		t.Fatalf("after Shutdown: %d dropped, %d calls", s.HooksDropped, calls.Load())
	}
}

// Shutdown waits for the hooks only until its context is done; the calls
// still queued are then dropped.
func TestHooksShutdownDeadline(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int64
	h, err := epchat.New(epchat.WithHooks(epchat.Hooks{
		RoomOpened: func(epchat.RoomEvent) {
			if calls.Add(1) == 1 {
				close(entered)
				<-release
			}
		},
	}))
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := h.CreateRoom(context.Background(), epchat.RoomSpec{}); err != nil {
			t.Fatal(err)
		}
	}
	<-entered
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := h.Shutdown(ctx); err != context.Canceled {
		t.Fatalf("Shutdown with a hook stuck: %v, want context.Canceled", err)
	}
	close(release)
	waitStats(t, h, "4 calls dropped", func(s epchat.Stats) bool { return s.HooksDropped == 4 })
	checkNoHubGoroutines(t)
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d calls made after the deadline, want only the first", n)
	}
}

// A hook that panics is logged; the calls after it are made.
func TestHooksPanicRecovered(t *testing.T) {
	rec := newLogRecorder()
	var calls atomic.Int64
	h, err := epchat.New(
		epchat.WithLogger(slog.New(rec)),
		epchat.WithHooks(epchat.Hooks{
			RoomOpened: func(epchat.RoomEvent) {
				if calls.Add(1) == 1 {
					panic("bug in the host's hook")
				}
			},
		}),
	)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := h.CreateRoom(context.Background(), epchat.RoomSpec{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("%d calls, want 2", n)
	}
	if !slices.ContainsFunc(rec.all(), func(r loggedRecord) bool {
		return r.rec.Level == slog.LevelError && r.rec.Message == "hook panicked"
	}) {
		t.Fatal("the panic was not logged")
	}
}

package epchat_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/epchat-go/epchat"
	"github.com/epchat-go/epchat/epchattest"
	"github.com/epchat-go/epchat/internal/netpoll"
)

// stallStore is a MemoryStore whose Message never returns for the rooms
// in stalled, until release is closed: a Store waiting on a paused Redis,
// as the Hub sees it. (The redisstore fault tests pause a real
// redis-server; here the Store is stalled per room, which a real Redis
// cannot be.)
type stallStore struct {
	epchat.Store
	mu      sync.Mutex
	stalled map[string]bool
	waiting atomic.Int32
	release chan struct{}
}

func (s *stallStore) stall(room string) {
	s.mu.Lock()
	s.stalled[room] = true
	s.mu.Unlock()
}

// hold waits, if room is stalled, until release is closed.
func (s *stallStore) hold(ctx context.Context, room string) error {
	s.mu.Lock()
	stalled := s.stalled[room]
	s.mu.Unlock()
	if !stalled {
		return nil
	}
	s.waiting.Add(1)
	defer s.waiting.Add(-1)
	select {
	case <-s.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *stallStore) Message(ctx context.Context, room, user string, now time.Time) (uint64, error) {
	if err := s.hold(ctx, room); err != nil {
		return 0, err
	}
	return s.Store.Message(ctx, room, user, now)
}

// Detach holds for the users stalled as "user:" + id.
func (s *stallStore) Detach(ctx context.Context, user string, now time.Time) error {
	if err := s.hold(ctx, "user:"+user); err != nil {
		return err
	}
	return s.Store.Detach(ctx, user, now)
}

func (s *stallStore) CreateInvite(ctx context.Context, inv epchat.Invite, by string, now time.Time) error {
	if err := s.hold(ctx, inv.Room); err != nil {
		return err
	}
	return s.Store.CreateInvite(ctx, inv, by, now)
}

// TestStalledRoomsStallNoOther: while the Store holds the sends (or the
// invites, or the Detach of connections that closed) of many rooms (more than the poller has workers, and so many
// rooms that a table of striped room locks would share some), another
// room on the same Hub goes on: its members join, chat and get their
// replies. The stalled requests complete once the Store answers, and the
// Hub keeps no lock for rooms nobody is acting on. Both read modes. The
// poller starts no extra worker for callbacks stuck without saying so
// (netpoll.SetStuckExtraLimit(0)): each waiting request has said it may
// block (conn.MayBlock), and that alone keeps the pool's workers free.
func TestStalledRoomsStallNoOther(t *testing.T) {
	t.Cleanup(netpoll.SetStuckExtraLimit(0))
	for _, tc := range []struct {
		polled  bool
		request string
	}{{true, "send"}, {true, "invite"}, {true, "close"}, {false, "send"}, {false, "invite"}, {false, "close"}} {
		polled := tc.polled
		t.Run(fmt.Sprintf("netpoll=%v/%s", polled, tc.request), func(t *testing.T) {
			st := &stallStore{
				Store:   epchat.NewMemoryStore(),
				stalled: make(map[string]bool),
				release: make(chan struct{}),
			}
			th := newTestHub(t, epchat.WithStore(st), epchat.WithNetpoll(polled))
			released := false
			defer func() {
				if !released {
					close(st.release)
				}
			}()

			const stalledRooms = 64
			owners := make([]*epchattest.Client, stalledRooms)
			rooms := make([]string, stalledRooms)
			ids := make([]string, stalledRooms)
			for i := range owners {
				owners[i] = th.client(t, fmt.Sprint("owner", i))
				rooms[i] = th.room(t, owners[i])
				st.stall(rooms[i])
				switch tc.request {
				case "send":
					ids[i] = owners[i].Send(map[string]any{"type": "send", "room": rooms[i], "text": "held"})
				case "invite":
					ids[i] = owners[i].Send(map[string]any{"type": "invite", "room": rooms[i]})
				case "close":
					st.stall("user:" + owners[i].ID)
					owners[i].Conn.Close()
				}
			}
			waitUntil(t, "every stalled request waiting in the Store", func() bool { return st.waiting.Load() == stalledRooms })

			// A room the Store serves at once: it is made, joined and
			// chats while the others wait.
			ana := th.client(t, "ana")
			bob := th.client(t, "bob")
			room := th.room(t, ana, bob)
			ana.MustCall("sent", map[string]any{"type": "send", "room": room, "text": "hello bob"})
			if got := bob.Expect("message", room).Str("text"); got != "hello bob" {
				t.Fatalf("bob got %q", got)
			}
			bob.MustCall("sent", map[string]any{"type": "send", "room": room, "text": "hi ana"})
			ana.Expect("message", room)
			if n := st.waiting.Load(); n != stalledRooms {
				t.Fatalf("%d stalled calls waiting, want %d: the Store released them early", n, stalledRooms)
			}

			close(st.release)
			released = true
			for i, o := range owners {
				want := map[string]string{"send": "sent", "invite": "invite"}[tc.request]
				if tc.request == "close" {
					break // no reply: each Detach returns, and the Hub ends the connection
				}
				if e := o.Reply(ids[i]); e.Type() != want {
					t.Fatalf("stalled %s %d: got %v once the Store answered", tc.request, i, e)
				}
			}
			// Every room's lock entry goes with its last holder.
			waitUntil(t, "no room lock left", func() bool { return th.RoomLocksLive() == 0 })
		})
	}
}

// TestShutdownCutsStalledStore: the Store stalls (a paused Redis) as the
// connections close, so their Detach calls wait. Shutdown returns once its
// context is done, with the context's error, and leaves no goroutine:
// the calls under way are cancelled. Before, it waited for the Store as
// long as the Store took (32 s in the demo with Redis paused, past its
// 10 s budget).
func TestShutdownCutsStalledStore(t *testing.T) {
	st := &stallStore{Store: epchat.NewMemoryStore(), stalled: map[string]bool{}, release: make(chan struct{})}
	defer close(st.release)
	hub, err := epchat.New(epchat.WithStore(st), epchat.WithNetpoll(!blockingReads()))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.StripPrefix("/chat", hub))
	defer srv.Close()
	c := epchattest.Dial(t, "ws"+strings.TrimPrefix(srv.URL, "http")+"/chat/")
	c.Hello("stalled")
	st.stall("user:" + c.ID)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- hub.Shutdown(ctx) }()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown: %v; want its context's error", err)
		}
	case <-time.After(waitFor):
		t.Fatal("Shutdown still waits for the stalled Store, long after its context is done")
	}
	if n := st.waiting.Load(); n != 0 {
		t.Fatalf("%d Store calls still waiting after Shutdown", n)
	}
	checkNoHubGoroutines(t)
}

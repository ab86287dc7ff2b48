package epchat_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/epchat-go/epchat"
	"github.com/epchat-go/epchat/epchattest"
)

// memBroker is an in-memory Broker for testing the seam between Hubs in
// one test process. It is a stand-in: the real cross-process broker is
// redisstore's, tested against a real redis-server in that module.
type memBroker struct {
	mu   sync.Mutex
	subs []chan [2]string
}

func (b *memBroker) Publish(_ context.Context, room string, msg []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, ch := range b.subs {
		ch <- [2]string{room, string(msg)}
	}
	return nil
}

func (b *memBroker) Subscribe(deliver func(room string, msg []byte)) (func(), error) {
	ch := make(chan [2]string, 1024)
	done := make(chan struct{})
	b.mu.Lock()
	b.subs = append(b.subs, ch)
	b.mu.Unlock()
	go func() {
		defer close(done)
		for m := range ch {
			deliver(m[0], []byte(m[1]))
		}
	}()
	return func() {
		b.mu.Lock()
		for i, c := range b.subs {
			if c == ch {
				b.subs = append(b.subs[:i], b.subs[i+1:]...)
			}
		}
		b.mu.Unlock()
		close(ch)
		<-done
	}, nil
}

// Two Hubs sharing a Store and a Broker serve one set of rooms.
func TestTwoHubsShareRooms(t *testing.T) {
	store := epchat.NewMemoryStore()
	broker := &memBroker{}
	clk := newClock()
	urls := make([]string, 2)
	for i := range urls {
		hub, err := epchat.New(epchat.WithStore(store), epchat.WithBroker(broker), epchat.WithClock(clk))
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		mux.Handle("/chat/", http.StripPrefix("/chat", hub))
		srv := httptest.NewServer(mux)
		urls[i] = "ws" + strings.TrimPrefix(srv.URL, "http") + "/chat/"
		t.Cleanup(func() {
			hub.Shutdown(context.Background())
			srv.Close()
		})
	}
	ana, ben := epchattest.Dial(t, urls[0]), epchattest.Dial(t, urls[1])
	ana.Hello("Ana")
	ben.Hello("Ben")
	room := ana.MustCall("joined", map[string]any{"type": "create"}).Str("room")
	tok := ana.MustCall("invite", map[string]any{"type": "invite", "room": room}).Str("token")
	ben.MustCall("joined", map[string]any{"type": "join", "token": tok})
	ana.Expect("member_joined", room)

	ana.MustCall("sent", map[string]any{"type": "send", "room": room, "text": "from one"})
	if e := ben.Expect("message", room); e.Str("text") != "from one" || e.Str("from") != ana.ID {
		t.Fatalf("across hubs: %v", e)
	}
	ben.MustCall("sent", map[string]any{"type": "send", "room": room, "text": "from two"})
	if e := ana.Expect("message", room); e.Str("text") != "from two" {
		t.Fatalf("back across hubs: %v", e)
	}
	ana.MustCall("ok", map[string]any{"type": "history", "room": room, "to": ben.ID, "data": "old"})
	if e := ben.Expect("history", room); e.Str("data") != "old" {
		t.Fatalf("history across hubs: %v", e)
	}
	ana.MustCall("ok", map[string]any{"type": "close", "room": room})
	for _, c := range []*epchattest.Client{ana, ben} {
		if e := c.Expect("room_closed", room); e.Str("reason") != "owner" {
			t.Fatalf("room_closed: %v", e)
		}
	}
	ana.None()
	ben.None()
}

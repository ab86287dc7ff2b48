package epchat_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/epchat-go/epchat"
	"github.com/epchat-go/epchat/epchattest"
)

// TestRestartDoesNotLockOut: 2000 members behind one address reconnect
// with their tokens after a restart on the memory store, at once: every
// one gets session_invalid, none rate_limited, and each can then start
// afresh with a nickname.
func TestRestartDoesNotLockOut(t *testing.T) {
	if testing.Short() {
		t.Skip("2000 connections")
	}
	const members = 2000
	limits := []epchat.Option{quiet, epchat.WithMaxConnectionsPerAddr(members)}
	before := newTestHub(t, limits...)
	tokens := make([]string, members)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < members; i += 8 {
				c := epchattest.Dial(t, before.url)
				c.Hello(fmt.Sprint("m", i))
				tokens[i] = c.Token
				c.Conn.Close()
			}
		})
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	before.Shutdown(ctx)

	after := newTestHub(t, limits...) // the restart: a new process, an empty memory store
	clients := make([]*epchattest.Client, members)
	for i := range clients {
		clients[i] = epchattest.Dial(t, after.url)
	}
	ids := make([]string, members)
	for i, c := range clients {
		ids[i] = c.Send(map[string]any{"type": "hello", "token": tokens[i]})
	}
	codes := make(map[string]int)
	for i, c := range clients {
		codes[c.Reply(ids[i]).Str("code")]++
	}
	if codes["session_invalid"] != members {
		t.Fatalf("answers to %d hellos with pre-restart tokens: %v, want all session_invalid", members, codes)
	}
	for i, c := range clients[:100] {
		c.Hello(fmt.Sprint("again", i))
	}
}

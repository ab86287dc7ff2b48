package epchat_test

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/gobwas/ws"
)

// rawMember is a member whose connection only counts the text frames it
// receives, so that the benchmark measures the server, not a JSON decoder.
type rawMember struct {
	nc    net.Conn
	mu    sync.Mutex
	cond  *sync.Cond
	texts int
}

func dialRaw(b *testing.B, url string) *rawMember {
	nc, br, _, err := ws.Dial(context.Background(), url)
	if err != nil {
		b.Fatal(err)
	}
	var r io.Reader = nc
	if br != nil {
		r = io.MultiReader(br, nc)
	}
	m := &rawMember{nc: nc}
	m.cond = sync.NewCond(&m.mu)
	go func() {
		for {
			h, err := ws.ReadHeader(r)
			if err != nil {
				return
			}
			if _, err := io.CopyN(io.Discard, r, h.Length); err != nil {
				return
			}
			if h.OpCode == ws.OpText {
				m.mu.Lock()
				m.texts++
				m.cond.Broadcast()
				m.mu.Unlock()
			}
		}
	}()
	b.Cleanup(func() { nc.Close() })
	return m
}

func (m *rawMember) waitTexts(n int) {
	m.mu.Lock()
	for m.texts < n {
		m.cond.Wait()
	}
	m.mu.Unlock()
}

// BenchmarkRelay sends messages into a room of 10 members over loopback:
// one op is one message relayed to 9 connections.
func BenchmarkRelay(b *testing.B) {
	th := newTestHub(b, quiet)
	owner := th.client(b, "Owner")
	room := owner.mustCall("joined", map[string]any{"type": "create"}).str("room")
	members := make([]*rawMember, 9)
	for i := range members {
		tok := owner.mustCall("invite", map[string]any{"type": "invite", "room": room}).str("token")
		c := th.client(b, "Member")
		c.mustCall("joined", map[string]any{"type": "join", "token": tok})
		c.nc.Close() // its seat stays for the grace; the raw connection takes it over
		m := dialRaw(b, th.url)
		writeText(b, m.nc, `{"type":"hello","token":"`+c.token+`"}`)
		m.waitTexts(1) // welcome
		members[i] = m
	}
	sender := dialRaw(b, th.url)
	writeText(b, sender.nc, `{"type":"hello","token":"`+owner.token+`"}`)
	sender.waitTexts(1)
	owner.nc.Close() // the raw sender takes over the owner's seat
	msg := []byte(`{"type":"send","room":"` + room + `","text":"a message of about sixty bytes, as chats have them"}`)
	base := make([]int, len(members))
	for i, m := range members {
		m.mu.Lock()
		base[i] = m.texts
		m.mu.Unlock()
	}
	b.SetBytes(int64(len(msg)))
	// At most window messages in flight, as a client waiting for its
	// sent replies would have: a sender that never waits makes the
	// readers fall behind and be closed as too slow.
	const window = 64
	b.ResetTimer()
	for i := range b.N {
		sender.waitTexts(1 + i - window)
		if err := ws.WriteFrame(sender.nc, ws.MaskFrame(ws.NewTextFrame(msg))); err != nil {
			b.Fatal(err)
		}
	}
	for i, m := range members {
		m.waitTexts(base[i] + b.N)
	}
}

func writeText(b *testing.B, nc net.Conn, s string) {
	if err := ws.WriteFrame(nc, ws.MaskFrame(ws.NewTextFrame([]byte(s)))); err != nil {
		b.Fatal(err)
	}
}

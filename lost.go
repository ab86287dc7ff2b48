package epchat

import (
	"slices"

	"github.com/epchat-go/epchat/internal/wire"
	"github.com/gobwas/ws"
)

// LossWatcher may be implemented by a Store whose data can vanish while
// Hubs use it: redisstore's, when Redis restarts empty or is flushed. The
// Hub registers a watcher in New; when the Store finds its data gone, every
// process tells its members at once: each room it serves closes with
// reason "lost", and each identified connection is closed with 1012
// (their sessions are gone too: a hello with the token gets
// session_invalid), instead of finding out call by call.
type LossWatcher interface {
	// WatchLoss registers f. The Store calls f when it finds its data
	// gone, before it serves a call on the new, empty data; f returns
	// soon and does not call the Store.
	WatchLoss(f func())
}

// closeStoreLost closes the connections of a Hub whose Store lost its
// data: 1012, "service restart", as the server's state restarted.
const closeStoreLost ws.StatusCode = 1012

// storeLost is the Hub's LossWatcher callback. It takes, under the Hub's
// lock, the rooms this process serves and its identified connections, all
// from before the loss, and tells them from a goroutine of its own.
func (h *Hub) storeLost() {
	h.mu.Lock()
	rooms := h.subs.rooms()
	var conns []*conn
	for _, c := range h.conns {
		if c != nil && c.has(flagIdentified) {
			conns = append(conns, c)
		}
	}
	conns = slices.Clip(conns)
	h.mu.Unlock()
	h.log.Error("the store lost its data: closing every room and session of this process", "rooms", len(rooms), "conns", len(conns))
	go func() {
		for _, r := range rooms {
			lk := h.roomLock(r)
			lk.Lock()
			h.roomClosed(r, ReasonLost, 0)
			h.fanout(r, wire.RoomClosed(nil, r, ReasonLost), 0)
			h.mu.Lock()
			h.dropRoomLocked(r)
			h.mu.Unlock()
			lk.Unlock()
		}
		for _, c := range conns {
			c.CloseWith(closeStoreLost, "store lost its data")
		}
	}()
}

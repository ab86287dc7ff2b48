package epchat

import (
	"context"
	"errors"
	"time"

	"github.com/epchat-go/epchat/internal/wire"
)

// Sessions: what the Hub does when a hello makes a user, and when users
// are forgotten. A user is the session; its token is the only key to it.

// createUser adds the user u that a hello of c makes, within the user
// caps: the address's, counted here (addresses never go to the Store),
// and the total, counted by the Store. It returns the error code to
// answer with, "" on success.
func (h *Hub) createUser(ctx context.Context, c *conn, u User, now time.Time) wire.Code {
	total, perAddr := h.cfg.userLimits()
	if !h.guard.takeUser(c.addr, u.ID, now, perAddr) {
		h.log.Info("user refused: address holds too many", "conn", c.id)
		return wire.TooManyUsers
	}
	if err := h.store.CreateUser(ctx, u, total); err != nil {
		h.guard.dropUser(u.ID)
		if errors.Is(err, ErrTooManyUsers) {
			h.log.Info("user refused: store holds too many", "conn", c.id)
			return wire.TooManyUsers
		}
		h.log.Error("create user", "conn", c.id, "err", err)
		return failedCode(err)
	}
	h.stats.usersCreated.Add(1)
	return ""
}

// userLife is how long after its last connection to this process a user
// that this process created is counted against its address at most: by
// then the Store has forgotten it (see WithMaxUsersPerAddr).
func (h *Hub) userLife() time.Duration {
	return h.cfg.grace + h.cfg.seatlessIdle + 2*forgetEvery
}

// forgetUsers applies the user idle and seatless rules: the Store forgets
// the users, the rooms hear of their departures, and the per-address
// counts let go of them.
func (h *Hub) forgetUsers(now time.Time) {
	deps, err := h.store.ForgetUsers(h.ctx, now.Add(-h.cfg.userIdle), now.Add(-h.cfg.seatlessIdle))
	if err != nil {
		h.log.Error("sweep idle users", "err", err)
	} else {
		h.announceDepartures(deps)
		h.stats.usersForgotten.Add(uint64(len(deps)))
		for _, d := range deps {
			h.guard.dropUser(d.User)
		}
		if len(deps) > 0 {
			h.log.Info("users forgotten", "count", len(deps))
		}
	}
	h.guard.expireUsers(now, h.userLife(), func(user string) bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.users.one[user] != nil
	})
}

package epchat

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/epchat-go/epchat/internal/ids"
	"github.com/epchat-go/epchat/internal/wire"
)

// createInvite makes a one-time invite token for room and stores its hash,
// with the inviter's verifier if any (ids.HashVerified). by is the
// inviting member, who must be the owner; "" for the host.
func (h *Hub) createInvite(ctx context.Context, room, by, verifier string, owner bool, now time.Time, ttl time.Duration) (InviteToken, error) {
	tok := ids.Token()
	inv := Invite{Token: ids.HashVerified(tok, verifier), Room: room, Owner: owner, ExpiresAt: now.Add(ttl)}
	h.storeSweep.invites.add(inv.ExpiresAt)
	if err := h.store.CreateInvite(ctx, inv, by, now); err != nil {
		return InviteToken{}, err
	}
	h.stats.invitesMade.Add(1)
	return InviteToken{Token: tok, ExpiresAt: inv.ExpiresAt}, nil
}

// invite makes an invite at the owner's request.
func (h *Hub) invite(c *conn, req *wire.Request) {
	ctx := h.ctx
	now := h.clock.Now()
	tok, err := h.createInvite(ctx, req.Room, c.user, req.Verifier, false, now, h.cfg.inviteTTL)
	if err != nil {
		if errors.Is(err, ErrForbidden) {
			// The Store refuses anyone but the owner; a stranger must
			// not learn that the room exists (PROTOCOL.md).
			if _, _, ok := h.memberOf(ctx, c, req); !ok {
				return
			}
		}
		c.replyError(req.ID, h.codeOf(c, "invite", err), req.Room)
		return
	}
	// now lets the client count down to expires on the server's clock,
	// whatever its own says.
	c.reply(wire.Invite(nil, req.ID, req.Room, tok.Token, inviteRef(tok.Token), tok.ExpiresAt.UnixMilli(), now.UnixMilli()))
	h.log.Debug("invite made", "room", req.Room, "by", c.user)
}

// checkInvite tells whether an invite token would seat its holder now,
// without spending it: a page checks a link before asking for a
// nickname. It is allowed before hello. A token that is not pending counts
// as a failed guess, as a join with it would, so checking gives a guesser
// nothing that joining does not.
func (h *Hub) checkInvite(c *conn, req *wire.Request) {
	if h.guessBlocked(c) {
		c.refuse(req.ID, wire.RateLimited, "")
		return
	}
	ctx := h.ctx
	now := h.clock.Now()
	inv, err := h.store.Invite(ctx, ids.HashVerified(req.Token, req.Verifier), now)
	var (
		r       Room
		members []Member
	)
	if err == nil {
		r, members, err = h.store.Room(ctx, inv.Room)
		if errors.Is(err, ErrNotFound) {
			err = ErrInviteInvalid // closed since: its invites are gone
		}
	}
	if err != nil {
		if errors.Is(err, ErrInviteInvalid) {
			h.guessFailed(c)
		}
		c.replyError(req.ID, h.codeOf(c, "invite check", err), "")
		return
	}
	c.reply(wire.InviteOK(nil, req.ID, inv.ExpiresAt.UnixMilli(), now.UnixMilli(), r.Locked, len(members) >= r.Limit))
}

// join redeems an invite token and seats the requester, in one Store step.
func (h *Hub) join(c *conn, req *wire.Request) {
	if h.guessBlocked(c) {
		c.refuse(req.ID, wire.RateLimited, "")
		return
	}
	ctx := h.ctx
	now := h.clock.Now()
	m := Member{ID: c.user, Nickname: c.nick, JoinedAt: now}
	// An invite made with a verifier is stored under a hash of the token
	// and the verifier: a wrong one finds no invite, and spends none.
	r, err := h.store.Redeem(ctx, ids.HashVerified(req.Token, req.Verifier), m, now, h.cfg.maxRoomsPerUser)
	if err != nil {
		h.stats.invitesRefused.Add(1)
		if errors.Is(err, ErrInviteInvalid) {
			h.guessFailed(c)
		}
		c.replyError(req.ID, h.codeOf(c, "redeem", err), "")
		return
	}
	// Read the room again under its lock: what the joiner is told and the
	// events that follow are then in one order.
	lk := h.roomLock(r.ID)
	lk.Lock()
	defer lk.Unlock()
	h.inviteRedeemed(r.ID, c.user, r.Owner == c.user)
	r, members, err := h.store.Room(ctx, r.ID)
	if err == nil && !hasMember(members, c.user) {
		// Kicked (or gone) between the Redeem and the lock: the kick was
		// told to the room already, so joining now would let the kicked
		// member receive the room again.
		err = ErrNotMember
	}
	if err != nil {
		c.replyError(req.ID, h.codeOf(c, "room", err), "")
		return
	}
	// joined lists the members in join order up to the joiner, who is
	// last; those seated after it (by joins racing this one) follow as
	// member_joined events. Their own announcements may have gone out
	// before this connection was subscribed, so they are told here, and
	// may come twice (PROTOCOL.md: member events are idempotent).
	told := members
	var later []Member
	if i := slices.IndexFunc(members, func(m Member) bool { return m.ID == c.user }); i >= 0 {
		members, later = members[:i+1], members[i+1:]
	}
	c.reply(wire.State(nil, "joined", req.ID, roomState(r, members)))
	for _, m := range later {
		c.reply(wire.MemberJoined(nil, r.ID, wire.Member{ID: m.ID, Nickname: m.Nickname}))
	}
	h.awaitServed(h.subscribeUser(r.ID, c.user)) // at once: the broker may take a while
	if h.broker != nil {
		now, nowMembers, read, seated := h.readSeat(r.ID, c.user)
		if !seated {
			h.letGo(r.ID, c.user, nil)
			return // removed elsewhere meanwhile: not announced
		}
		if read {
			tellChanges(c, r, told, now, nowMembers)
		}
	}
	h.publish(&wire.Envelope{
		Kind:    wire.KindJoined,
		Skip:    c.ID,
		Room:    r.ID,
		User:    c.user,
		Payload: wire.MemberJoinedWith(nil, r.ID, wire.Member{ID: c.user, Nickname: c.nick}, inviteRef(req.Token)),
	})
	h.log.Debug("member joined", "room", r.ID, "user", c.user)
}

// validToken tells whether t may be a token (a session's or an invite's,
// PROTOCOL.md): none (""), or at most 64 base64url characters. Every token
// the server makes is 43 of them; a token holding anything else is no
// token, and is refused before any lookup: its hash must not be one made
// otherwise, as HashVerified's of a token, a newline and a verifier is.
func validToken(t string) bool { return len(t) <= 64 && isBase64URL(t) }

// validVerifier tells whether v is an invite verifier (PROTOCOL.md,
// invite): none (""), or 16 to 64 base64url characters.
func validVerifier(v string) bool {
	if v == "" {
		return true
	}
	return len(v) >= 16 && len(v) <= 64 && isBase64URL(v)
}

// isBase64URL tells whether s holds only base64url characters (no padding).
func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

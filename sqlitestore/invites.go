package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/epchat-go/epchat"
)

// CreateInvite implements epchat.Store.
func (s *Store) CreateInvite(ctx context.Context, inv epchat.Invite, by string, now time.Time) error {
	return s.write(ctx, "CreateInvite", func(tx *sql.Tx) error {
		var (
			owner                   string
			locked                  bool
			limit, members, pending int
		)
		err := tx.StmtContext(ctx, s.st.inviteCheck).QueryRowContext(ctx, nanos(now), inv.Room).Scan(&owner, &limit, &locked, &members, &pending)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return epchat.ErrNotFound
		case err != nil:
			return fail("CreateInvite", err)
		case by != "" && by != owner:
			return epchat.ErrForbidden
		case locked:
			return epchat.ErrRoomLocked
		case members >= limit:
			return epchat.ErrRoomFull
		case pending >= limit:
			return epchat.ErrTooManyInvites
		}
		res, err := tx.StmtContext(ctx, s.st.createInvite).ExecContext(ctx, inv.Token[:], inv.Room, inv.Owner, nanos(inv.ExpiresAt))
		if err != nil {
			return fail("CreateInvite", err)
		}
		return rowsOr(res, epchat.ErrExists, "CreateInvite")
	})
}

// Invite implements epchat.Store.
func (s *Store) Invite(ctx context.Context, token epchat.TokenHash, now time.Time) (epchat.Invite, error) {
	s.rlock.Lock()
	defer s.rlock.Unlock()
	var (
		room    string
		owner   bool
		expires int64
	)
	err := s.st.invite.QueryRowContext(ctx, token[:]).Scan(&room, &owner, &expires)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return epchat.Invite{}, epchat.ErrInviteInvalid
	case err != nil:
		return epchat.Invite{}, fail("Invite", err)
	case expires <= nanos(now):
		return epchat.Invite{}, epchat.ErrInviteInvalid
	}
	return epchat.Invite{Token: token, Room: room, Owner: owner, ExpiresAt: instant(expires)}, nil
}

// Redeem implements epchat.Store.
func (s *Store) Redeem(ctx context.Context, token epchat.TokenHash, m epchat.Member, now time.Time, maxRooms int) (epchat.Room, error) {
	var (
		r epchat.Room
	)
	err := s.write(ctx, "Redeem", func(tx *sql.Tx) error {
		var (
			room, roomOwner           string
			ownerInvite, member, user bool
			locked                    bool
			expires                   int64
			limit, members, seatedIn  int
		)
		err := tx.StmtContext(ctx, s.st.redeemCheck).QueryRowContext(ctx, token[:], m.ID).
			Scan(&room, &ownerInvite, &expires, &roomOwner, &limit, &locked, &members, &member, &seatedIn, &user)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return epchat.ErrInviteInvalid
		case err != nil:
			return fail("Redeem", err)
		case expires <= nanos(now):
			return epchat.ErrInviteInvalid
		case locked:
			return epchat.ErrRoomLocked
		case !user:
			return epchat.ErrNotFound // only users are seated
		case member:
			return epchat.ErrAlreadyMember
		case members >= limit:
			return epchat.ErrRoomFull
		case maxRooms > 0 && seatedIn >= maxRooms:
			return epchat.ErrTooManyRooms
		}
		if err := nicknameFree(ctx, tx.StmtContext(ctx, s.st.roomNicks), room, m.Nickname); err != nil {
			return err
		}
		if _, err := tx.StmtContext(ctx, s.st.useInvite).ExecContext(ctx, token[:]); err != nil {
			return fail("Redeem", err)
		}
		if _, err := tx.StmtContext(ctx, s.st.seat).ExecContext(ctx, room, m.ID, m.Nickname, nanos(m.JoinedAt)); err != nil {
			return fail("Redeem", err)
		}
		if ownerInvite && roomOwner == "" {
			if _, err := tx.StmtContext(ctx, s.st.setOwner).ExecContext(ctx, m.ID, room); err != nil {
				return fail("Redeem", err)
			}
		}
		r, _, err = readRoom(ctx, tx.StmtContext(ctx, s.st.room), room)
		if err != nil {
			return fail("Redeem", err)
		}
		return nil
	})
	if err != nil {
		return epchat.Room{}, err
	}
	return r, nil
}

// nicknameFree returns epchat.ErrNicknameTaken if a member of room has a
// nickname with the same epchat.NicknameKey as nick. It runs inside
// Redeem's write transaction, so no racing join can seat a look-alike
// between the check and the seat.
func nicknameFree(ctx context.Context, q *sql.Stmt, room, nick string) error {
	rows, err := q.QueryContext(ctx, room)
	if err != nil {
		return fail("Redeem", err)
	}
	defer rows.Close()
	key := epchat.NicknameKey(nick)
	if key == "" {
		return nil // no nickname: like none
	}
	for rows.Next() {
		var other string
		if err := rows.Scan(&other); err != nil {
			return fail("Redeem", err)
		}
		if epchat.NicknameKey(other) == key {
			return epchat.ErrNicknameTaken
		}
	}
	if err := rows.Err(); err != nil {
		return fail("Redeem", err)
	}
	return nil
}

// ExpireInvites implements epchat.Store.
func (s *Store) ExpireInvites(ctx context.Context, now time.Time) (int, error) {
	s.wlock.Lock()
	defer s.wlock.Unlock()
	res, err := s.st.expire.ExecContext(ctx, nanos(now))
	if err != nil {
		return 0, fail("ExpireInvites", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fail("ExpireInvites", err)
	}
	return int(n), nil
}

package sqlitestore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/epchat-go/epchat"
)

// Kick implements epchat.Store: the ownership check, the seat and the
// room's pending invites are one transaction, so no redeem of an old
// invite can land between the seat freed and the invites revoked.
func (s *Store) Kick(ctx context.Context, room, by, member string) (epchat.LeaveResult, error) {
	var res epchat.LeaveResult
	err := s.write(ctx, "Kick", func(tx *sql.Tx) error {
		if by != "" {
			var owner string
			err := tx.StmtContext(ctx, s.st.roomOwner).QueryRowContext(ctx, room).Scan(&owner)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				return epchat.ErrNotFound
			case err != nil:
				return fail("Kick", err)
			case owner != by || by == member:
				return epchat.ErrForbidden
			}
		}
		var err error
		res, err = s.leave(ctx, tx, room, member)
		if err != nil || res.Closed {
			return err // a closed room took its invites along
		}
		if _, err := tx.StmtContext(ctx, s.st.roomInvites).ExecContext(ctx, room); err != nil {
			return fail("Kick", err)
		}
		return nil
	})
	if err != nil {
		return epchat.LeaveResult{}, err
	}
	return res, nil
}

// SetLocked implements epchat.Store.
func (s *Store) SetLocked(ctx context.Context, room, by string, locked bool) error {
	return s.write(ctx, "SetLocked", func(tx *sql.Tx) error {
		var owner string
		err := tx.StmtContext(ctx, s.st.roomOwner).QueryRowContext(ctx, room).Scan(&owner)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return epchat.ErrNotFound
		case err != nil:
			return fail("SetLocked", err)
		case by != "" && owner != by:
			return epchat.ErrForbidden
		}
		if _, err := tx.StmtContext(ctx, s.st.setLocked).ExecContext(ctx, locked, room); err != nil {
			return fail("SetLocked", err)
		}
		return nil
	})
}

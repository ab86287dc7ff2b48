package sqlitestore

import (
	"context"
	"database/sql"
	"time"

	"github.com/epchat-go/epchat"
)

// CloseIdleRooms implements epchat.Store.
func (s *Store) CloseIdleRooms(ctx context.Context, before time.Time) ([]epchat.ClosedRoom, error) {
	var out []epchat.ClosedRoom
	err := s.write(ctx, "CloseIdleRooms", func(tx *sql.Tx) error {
		ids, err := column(ctx, tx.StmtContext(ctx, s.st.idleRooms), nanos(before))
		if err != nil {
			return fail("CloseIdleRooms", err)
		}
		for _, id := range ids {
			c, err := s.closeRoom(ctx, tx, id)
			if err != nil {
				return err
			}
			out = append(out, c)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// VacateUsers implements epchat.Store.
func (s *Store) VacateUsers(ctx context.Context, before time.Time) ([]epchat.Departure, error) {
	return s.sweepUsers(ctx, "VacateUsers", s.st.vacatable, false, nanos(before))
}

// ForgetUsers implements epchat.Store.
func (s *Store) ForgetUsers(ctx context.Context, before, seatless time.Time) ([]epchat.Departure, error) {
	return s.sweepUsers(ctx, "ForgetUsers", s.st.forgettable, true, nanos(before), nanos(seatless))
}

// sweepUsers removes the users that stmt selects with args from all their
// rooms, and deletes them if forget, in one transaction.
func (s *Store) sweepUsers(ctx context.Context, op string, stmt *sql.Stmt, forget bool, args ...any) ([]epchat.Departure, error) {
	var out []epchat.Departure
	err := s.write(ctx, op, func(tx *sql.Tx) error {
		users, err := column(ctx, tx.StmtContext(ctx, stmt), args...)
		if err != nil {
			return fail(op, err)
		}
		for _, user := range users {
			rooms, err := column(ctx, tx.StmtContext(ctx, s.st.userRooms), user)
			if err != nil {
				return fail(op, err)
			}
			d := epchat.Departure{User: user}
			for _, room := range rooms {
				res, err := s.leave(ctx, tx, room, user)
				if err != nil {
					return err
				}
				d.Left = append(d.Left, res)
			}
			if forget {
				if _, err := tx.StmtContext(ctx, s.st.deleteUser).ExecContext(ctx, user); err != nil {
					return fail(op, err)
				}
			}
			out = append(out, d)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/epchat-go/epchat"
)

// CreateUser implements epchat.Store.
func (s *Store) CreateUser(ctx context.Context, u epchat.User, maxUsers int) error {
	if maxUsers <= 0 {
		s.wlock.Lock()
		defer s.wlock.Unlock()
		return s.createUser(ctx, s.st.createUser, u)
	}
	// The count and the insert in one transaction: racing callers never
	// pass the limit together.
	return s.write(ctx, "CreateUser", func(tx *sql.Tx) error {
		var n int
		if err := tx.StmtContext(ctx, s.st.countUsers).QueryRowContext(ctx).Scan(&n); err != nil {
			return fail("CreateUser", err)
		}
		if n >= maxUsers {
			return epchat.ErrTooManyUsers
		}
		return s.createUser(ctx, tx.StmtContext(ctx, s.st.createUser), u)
	})
}

// createUser inserts u with stmt, the createUser statement.
func (s *Store) createUser(ctx context.Context, stmt *sql.Stmt, u epchat.User) error {
	res, err := stmt.ExecContext(ctx, u.ID, u.Nickname, u.Token[:], nanos(u.SeenAt), nanos(u.DetachedAt))
	if err != nil {
		return fail("CreateUser", err)
	}
	return rowsOr(res, epchat.ErrExists, "CreateUser")
}

// DeleteUser implements epchat.Store.
func (s *Store) DeleteUser(ctx context.Context, user string, _ time.Time) ([]epchat.LeaveResult, error) {
	var out []epchat.LeaveResult
	err := s.write(ctx, "DeleteUser", func(tx *sql.Tx) error {
		res, err := tx.StmtContext(ctx, s.st.deleteUser).ExecContext(ctx, user)
		if err != nil {
			return fail("DeleteUser", err)
		}
		if err := rowsOr(res, epchat.ErrNotFound, "DeleteUser"); err != nil {
			return err // rolled back
		}
		rooms, err := column(ctx, tx.StmtContext(ctx, s.st.userRooms), user)
		if err != nil {
			return fail("DeleteUser", err)
		}
		for _, room := range rooms {
			lr, err := s.leave(ctx, tx, room, user)
			if err != nil {
				return err
			}
			out = append(out, lr)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UserByToken implements epchat.Store.
func (s *Store) UserByToken(ctx context.Context, token epchat.TokenHash) (epchat.User, error) {
	s.rlock.Lock()
	defer s.rlock.Unlock()
	u := epchat.User{Token: token}
	var seen, detached int64
	err := s.st.userByToken.QueryRowContext(ctx, token[:]).Scan(&u.ID, &u.Nickname, &seen, &u.Conns, &detached)
	if errors.Is(err, sql.ErrNoRows) {
		return epchat.User{}, epchat.ErrNotFound
	}
	if err != nil {
		return epchat.User{}, fail("UserByToken", err)
	}
	u.SeenAt, u.DetachedAt = instant(seen), instant(detached)
	return u, nil
}

// Attach implements epchat.Store.
func (s *Store) Attach(ctx context.Context, user string, now time.Time) error {
	return s.updateUser(ctx, "Attach", s.st.attach, user, now)
}

// Detach implements epchat.Store.
func (s *Store) Detach(ctx context.Context, user string, now time.Time) error {
	return s.updateUser(ctx, "Detach", s.st.detach, user, now)
}

// TouchUser implements epchat.Store.
func (s *Store) TouchUser(ctx context.Context, user string, now time.Time) error {
	return s.updateUser(ctx, "TouchUser", s.st.touchUser, user, now)
}

// updateUser runs stmt, a one-statement change of user at now.
func (s *Store) updateUser(ctx context.Context, op string, stmt *sql.Stmt, user string, now time.Time) error {
	s.wlock.Lock()
	defer s.wlock.Unlock()
	res, err := stmt.ExecContext(ctx, nanos(now), user)
	if err != nil {
		return fail(op, err)
	}
	return rowsOr(res, epchat.ErrNotFound, op)
}

// rowsOr returns errNone if res changed no row.
func rowsOr(res sql.Result, errNone error, op string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fail(op, err)
	}
	if n == 0 {
		return errNone
	}
	return nil
}

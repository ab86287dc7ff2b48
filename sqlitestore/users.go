package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/epchat-go/epchat"
)

// CreateUser implements epchat.Store.
func (s *Store) CreateUser(ctx context.Context, u epchat.User) error {
	s.wlock.Lock()
	defer s.wlock.Unlock()
	res, err := s.st.createUser.ExecContext(ctx, u.ID, u.Nickname, u.Token[:], nanos(u.SeenAt), nanos(u.DetachedAt))
	if err != nil {
		return fail("CreateUser", err)
	}
	return rowsOr(res, epchat.ErrExists, "CreateUser")
}

// UserByToken implements epchat.Store.
func (s *Store) UserByToken(ctx context.Context, token epchat.Hash) (epchat.User, error) {
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

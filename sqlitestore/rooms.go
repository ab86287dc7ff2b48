package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/epchat-go/epchat"
)

// CreateRoom implements epchat.Store.
func (s *Store) CreateRoom(ctx context.Context, r epchat.Room, owner *epchat.Member, maxRooms int) error {
	return s.write(ctx, "CreateRoom", func(tx *sql.Tx) error {
		res, err := tx.StmtContext(ctx, s.st.createRoom).ExecContext(ctx,
			r.ID, r.Owner, r.Limit, nanos(r.CreatedAt), nanos(r.ActiveAt), r.Seq)
		if err != nil {
			return fail("CreateRoom", err)
		}
		if err := rowsOr(res, epchat.ErrExists, "CreateRoom"); err != nil || owner == nil {
			return err
		}
		var user bool
		if err := tx.StmtContext(ctx, s.st.userExists).QueryRowContext(ctx, owner.ID).Scan(&user); err != nil {
			return fail("CreateRoom", err)
		}
		if !user {
			return epchat.ErrNotFound // only users are seated
		}
		if maxRooms > 0 {
			var n int
			if err := tx.StmtContext(ctx, s.st.countRooms).QueryRowContext(ctx, owner.ID).Scan(&n); err != nil {
				return fail("CreateRoom", err)
			}
			if n >= maxRooms {
				return epchat.ErrTooManyRooms
			}
		}
		if _, err := tx.StmtContext(ctx, s.st.seat).ExecContext(ctx, r.ID, owner.ID, owner.Nickname, nanos(owner.JoinedAt)); err != nil {
			return fail("CreateRoom", err)
		}
		return nil
	})
}

// Room implements epchat.Store.
func (s *Store) Room(ctx context.Context, room string) (epchat.Room, []epchat.Member, error) {
	s.rlock.Lock()
	defer s.rlock.Unlock()
	r, ms, err := readRoom(ctx, s.st.room, room)
	if err != nil && !errors.Is(err, epchat.ErrNotFound) {
		err = fail("Room", err)
	}
	return r, ms, err
}

// readRoom runs the statement st.room for room id: the room and its members
// in join order, or ErrNotFound.
func readRoom(ctx context.Context, stmt *sql.Stmt, id string) (epchat.Room, []epchat.Member, error) {
	rows, err := stmt.QueryContext(ctx, id)
	if err != nil {
		return epchat.Room{}, nil, err
	}
	defer rows.Close()
	r := epchat.Room{ID: id}
	var ms []epchat.Member
	found := false
	for rows.Next() {
		var (
			created, active int64
			user, nick      sql.NullString
			joined          sql.NullInt64
		)
		if err := rows.Scan(&r.Owner, &r.Limit, &created, &active, &r.Seq, &r.Locked, &user, &nick, &joined); err != nil {
			return epchat.Room{}, nil, err
		}
		found = true
		r.CreatedAt, r.ActiveAt = instant(created), instant(active)
		if user.Valid {
			ms = append(ms, epchat.Member{ID: user.String, Nickname: nick.String, JoinedAt: instant(joined.Int64)})
		}
	}
	if err := rows.Err(); err != nil {
		return epchat.Room{}, nil, err
	}
	if !found {
		return epchat.Room{}, nil, epchat.ErrNotFound
	}
	return r, ms, nil
}

// Rooms implements epchat.Store.
func (s *Store) Rooms(ctx context.Context) ([]epchat.RoomInfo, error) {
	s.rlock.Lock()
	defer s.rlock.Unlock()
	rows, err := s.st.rooms.QueryContext(ctx)
	if err != nil {
		return nil, fail("Rooms", err)
	}
	defer rows.Close()
	var out []epchat.RoomInfo
	for rows.Next() {
		var (
			ri              epchat.RoomInfo
			created, active int64
		)
		if err := rows.Scan(&ri.ID, &ri.Owner, &ri.Limit, &created, &active, &ri.Seq, &ri.Locked, &ri.Members); err != nil {
			return nil, fail("Rooms", err)
		}
		ri.CreatedAt, ri.ActiveAt = instant(created), instant(active)
		out = append(out, ri)
	}
	if err := rows.Err(); err != nil {
		return nil, fail("Rooms", err)
	}
	return out, nil
}

// UserRooms implements epchat.Store.
func (s *Store) UserRooms(ctx context.Context, user string) ([]string, error) {
	s.rlock.Lock()
	defer s.rlock.Unlock()
	out, err := column(ctx, s.st.userRooms, user)
	if err != nil {
		return nil, fail("UserRooms", err)
	}
	return out, nil
}

// column runs stmt with args and returns the first column of every row.
func column(ctx context.Context, stmt *sql.Stmt, args ...any) ([]string, error) {
	rows, err := stmt.QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// CloseRoom implements epchat.Store.
func (s *Store) CloseRoom(ctx context.Context, room string) (epchat.ClosedRoom, error) {
	var c epchat.ClosedRoom
	err := s.write(ctx, "CloseRoom", func(tx *sql.Tx) error {
		var err error
		c, err = s.closeRoom(ctx, tx, room)
		return err
	})
	return c, err
}

// closeRoom deletes room with its seats and invites within tx.
func (s *Store) closeRoom(ctx context.Context, tx *sql.Tx, room string) (epchat.ClosedRoom, error) {
	r, ms, err := readRoom(ctx, tx.StmtContext(ctx, s.st.room), room)
	if errors.Is(err, epchat.ErrNotFound) {
		return epchat.ClosedRoom{}, err
	}
	if err != nil {
		return epchat.ClosedRoom{}, fail("close room", err)
	}
	if err := s.deleteRoom(ctx, tx, room); err != nil {
		return epchat.ClosedRoom{}, err
	}
	return epchat.ClosedRoom{Room: r, Members: ms}, nil
}

// deleteRoom deletes everything of room within tx.
func (s *Store) deleteRoom(ctx context.Context, tx *sql.Tx, room string) error {
	for _, stmt := range []*sql.Stmt{s.st.roomInvites, s.st.deleteSeats, s.st.deleteRoom} {
		if _, err := tx.StmtContext(ctx, stmt).ExecContext(ctx, room); err != nil {
			return fail("delete room", err)
		}
	}
	return nil
}

// Leave implements epchat.Store.
func (s *Store) Leave(ctx context.Context, room, user string) (epchat.LeaveResult, error) {
	var res epchat.LeaveResult
	err := s.write(ctx, "Leave", func(tx *sql.Tx) error {
		var err error
		res, err = s.leave(ctx, tx, room, user)
		return err
	})
	return res, err
}

// leave removes the seat of user in room within tx, handing the room over
// or closing it as the contract says.
func (s *Store) leave(ctx context.Context, tx *sql.Tx, room, user string) (epchat.LeaveResult, error) {
	var owner string
	err := tx.StmtContext(ctx, s.st.roomOwner).QueryRowContext(ctx, room).Scan(&owner)
	if errors.Is(err, sql.ErrNoRows) {
		return epchat.LeaveResult{}, epchat.ErrNotFound
	}
	if err != nil {
		return epchat.LeaveResult{}, fail("leave", err)
	}
	del, err := tx.StmtContext(ctx, s.st.unseat).ExecContext(ctx, room, user)
	if err != nil {
		return epchat.LeaveResult{}, fail("leave", err)
	}
	if err := rowsOr(del, epchat.ErrNotMember, "leave"); err != nil {
		return epchat.LeaveResult{}, err
	}
	res := epchat.LeaveResult{Room: room, User: user}
	var first string
	err = tx.StmtContext(ctx, s.st.firstMember).QueryRowContext(ctx, room).Scan(&first)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		res.Closed = true
		return res, s.deleteRoom(ctx, tx, room)
	case err != nil:
		return epchat.LeaveResult{}, fail("leave", err)
	case owner == user:
		if _, err := tx.StmtContext(ctx, s.st.setOwner).ExecContext(ctx, first, room); err != nil {
			return epchat.LeaveResult{}, fail("leave", err)
		}
		res.NewOwner = first
	}
	return res, nil
}

// Message implements epchat.Store.
func (s *Store) Message(ctx context.Context, room, user string, now time.Time) (uint64, error) {
	s.wlock.Lock()
	defer s.wlock.Unlock()
	// One statement checks the seat and counts the message.
	var seq uint64
	err := s.st.message.QueryRowContext(ctx, nanos(now), room, user).Scan(&seq)
	if err == nil {
		return seq, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, fail("Message", err)
	}
	// Nothing changed; tell why.
	var exists bool
	if err := s.st.roomExists.QueryRowContext(ctx, room).Scan(&exists); err != nil {
		return 0, fail("Message", err)
	}
	if !exists {
		return 0, epchat.ErrNotFound
	}
	return 0, epchat.ErrNotMember
}

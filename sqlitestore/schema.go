package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
)

// schema creates the tables of an empty database. Instants are INTEGER
// nanoseconds (see nanos); token hashes are 32-byte BLOBs.
//
// seats.n is the rowid. A new row's rowid is one more than the largest in
// the table, so within a room the seat with the smallest n is the
// earliest-joined, even when two members joined at the same instant or one
// left and came back: members are listed ORDER BY n.
//
// The columns that sweeps filter on (rooms.active_at, users.seen_at,
// users.detached_at) have no index on purpose: Message, TouchUser, Attach
// and Detach write them on every call, and an index would cost each of
// those calls its update, where a scan costs the sweep. On a Hub that has
// been busy for the room idle timeout the idle-room sweep runs every
// second: README.md, "Sweeps", weighs the two with figures.
const schema = `
CREATE TABLE users (
	id          TEXT PRIMARY KEY,
	nickname    TEXT NOT NULL,
	token       BLOB NOT NULL UNIQUE,
	seen_at     INTEGER NOT NULL,
	conns       INTEGER NOT NULL,
	detached_at INTEGER NOT NULL
);
CREATE TABLE rooms (
	id          TEXT PRIMARY KEY,
	owner       TEXT NOT NULL,
	seat_limit  INTEGER NOT NULL,
	created_at  INTEGER NOT NULL,
	active_at   INTEGER NOT NULL,
	seq         INTEGER NOT NULL,
	locked      INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE seats (
	n           INTEGER PRIMARY KEY,
	room        TEXT NOT NULL,
	user        TEXT NOT NULL,
	nickname    TEXT NOT NULL,
	joined_at   INTEGER NOT NULL,
	UNIQUE (room, user)
);
CREATE INDEX seats_by_user ON seats (user);
CREATE TABLE invites (
	token       BLOB PRIMARY KEY,
	room        TEXT NOT NULL,
	owner       INTEGER NOT NULL,
	expires_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX invites_by_room ON invites (room, expires_at);
CREATE INDEX invites_by_expiry ON invites (expires_at);
`

// statements are the prepared statements of a Store. database/sql prepares
// each on a connection the first time it runs there.
type statements struct {
	all []*sql.Stmt

	createUser  *sql.Stmt
	countUsers  *sql.Stmt
	userByToken *sql.Stmt
	attach      *sql.Stmt
	detach      *sql.Stmt
	touchUser   *sql.Stmt

	createRoom   *sql.Stmt
	roomExists   *sql.Stmt
	room         *sql.Stmt
	rooms        *sql.Stmt
	userRooms    *sql.Stmt
	countRooms   *sql.Stmt
	userExists   *sql.Stmt
	seat         *sql.Stmt
	deleteRoom   *sql.Stmt
	deleteSeats  *sql.Stmt
	roomInvites  *sql.Stmt
	unseat       *sql.Stmt
	firstMember  *sql.Stmt
	setOwner     *sql.Stmt
	roomOwner    *sql.Stmt
	message      *sql.Stmt
	setLocked    *sql.Stmt
	idleRooms    *sql.Stmt
	inviteCheck  *sql.Stmt
	createInvite *sql.Stmt
	invite       *sql.Stmt
	redeemCheck  *sql.Stmt
	roomNicks    *sql.Stmt
	useInvite    *sql.Stmt
	expire       *sql.Stmt

	vacatable   *sql.Stmt
	forgettable *sql.Stmt
	deleteUser  *sql.Stmt
}

func (st *statements) prepare(ctx context.Context, db *sql.DB) error {
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&st.createUser, `INSERT INTO users (id, nickname, token, seen_at, conns, detached_at)
			VALUES (?, ?, ?, ?, 0, ?) ON CONFLICT DO NOTHING`},
		{&st.countUsers, `SELECT count(*) FROM users`},
		{&st.userByToken, `SELECT id, nickname, seen_at, conns, detached_at FROM users WHERE token = ?`},
		{&st.attach, `UPDATE users SET conns = conns + 1, seen_at = ?1 WHERE id = ?2`},
		// In an UPDATE, conns names the old value: conns <= 1 is "reaches zero".
		{&st.detach, `UPDATE users SET conns = max(conns - 1, 0), seen_at = ?1,
			detached_at = CASE WHEN conns <= 1 THEN ?1 ELSE detached_at END WHERE id = ?2`},
		{&st.touchUser, `UPDATE users SET seen_at = ?1 WHERE id = ?2`},

		{&st.createRoom, `INSERT INTO rooms (id, owner, seat_limit, created_at, active_at, seq)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`},
		{&st.roomExists, `SELECT EXISTS (SELECT 1 FROM rooms WHERE id = ?)`},
		// One statement, so one consistent read: the room, then one row
		// per member in join order (NULLs for a room without members).
		{&st.room, `SELECT r.owner, r.seat_limit, r.created_at, r.active_at, r.seq, r.locked,
			s.user, s.nickname, s.joined_at
			FROM rooms r LEFT JOIN seats s ON s.room = r.id WHERE r.id = ? ORDER BY s.n`},
		{&st.rooms, `SELECT r.id, r.owner, r.seat_limit, r.created_at, r.active_at, r.seq, r.locked,
			(SELECT count(*) FROM seats s WHERE s.room = r.id) FROM rooms r`},
		{&st.userRooms, `SELECT room FROM seats WHERE user = ?`},
		{&st.countRooms, `SELECT count(*) FROM seats WHERE user = ?`},
		{&st.userExists, `SELECT EXISTS (SELECT 1 FROM users WHERE id = ?)`},
		{&st.seat, `INSERT INTO seats (room, user, nickname, joined_at) VALUES (?, ?, ?, ?)`},
		{&st.deleteRoom, `DELETE FROM rooms WHERE id = ?`},
		{&st.deleteSeats, `DELETE FROM seats WHERE room = ?`},
		{&st.roomInvites, `DELETE FROM invites WHERE room = ?`},
		{&st.unseat, `DELETE FROM seats WHERE room = ? AND user = ?`},
		{&st.firstMember, `SELECT user FROM seats WHERE room = ? ORDER BY n LIMIT 1`},
		{&st.setOwner, `UPDATE rooms SET owner = ? WHERE id = ?`},
		{&st.roomOwner, `SELECT owner FROM rooms WHERE id = ?`},
		{&st.message, `UPDATE rooms SET seq = seq + 1, active_at = ?1
			WHERE id = ?2 AND EXISTS (SELECT 1 FROM seats WHERE room = ?2 AND user = ?3)
			RETURNING seq`},
		{&st.setLocked, `UPDATE rooms SET locked = ? WHERE id = ?`},
		{&st.idleRooms, `SELECT id FROM rooms WHERE active_at < ?`},

		{&st.inviteCheck, `SELECT r.owner, r.seat_limit, r.locked,
			(SELECT count(*) FROM seats WHERE room = r.id),
			(SELECT count(*) FROM invites WHERE room = r.id AND expires_at > ?1)
			FROM rooms r WHERE r.id = ?2`},
		{&st.createInvite, `INSERT INTO invites (token, room, owner, expires_at)
			VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`},
		{&st.invite, `SELECT i.room, i.owner, i.expires_at
			FROM invites i JOIN rooms r ON r.id = i.room WHERE i.token = ?`},
		{&st.redeemCheck, `SELECT i.room, i.owner, i.expires_at, r.owner, r.seat_limit, r.locked,
			(SELECT count(*) FROM seats WHERE room = i.room),
			EXISTS (SELECT 1 FROM seats WHERE room = i.room AND user = ?2),
			(SELECT count(*) FROM seats WHERE user = ?2),
			EXISTS (SELECT 1 FROM users WHERE id = ?2)
			FROM invites i JOIN rooms r ON r.id = i.room WHERE i.token = ?1`},
		{&st.roomNicks, `SELECT nickname FROM seats WHERE room = ?`},
		{&st.useInvite, `DELETE FROM invites WHERE token = ?`},
		{&st.expire, `DELETE FROM invites WHERE expires_at <= ?`},

		{&st.vacatable, `SELECT u.id FROM users u WHERE u.conns = 0 AND u.detached_at < ?
			AND EXISTS (SELECT 1 FROM seats s WHERE s.user = u.id)`},
		{&st.forgettable, `SELECT u.id FROM users u WHERE u.conns = 0 AND (u.seen_at < ?1
			OR u.seen_at < ?2 AND NOT EXISTS (SELECT 1 FROM seats s WHERE s.user = u.id))`},
		{&st.deleteUser, `DELETE FROM users WHERE id = ?`},
	} {
		stmt, err := db.PrepareContext(ctx, p.sql)
		if err != nil {
			return err
		}
		*p.stmt = stmt
		st.all = append(st.all, stmt)
	}
	return nil
}

func (st *statements) close() error {
	var errs []error
	for _, stmt := range st.all {
		errs = append(errs, stmt.Close())
	}
	st.all = nil
	return errors.Join(errs...)
}

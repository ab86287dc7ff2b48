package epchat

import (
	"context"
	"errors"
	"time"
)

// Errors returned by a Store and by the Hub's Go API. Match them with
// errors.Is: a Store may wrap them with context of its own.
var (
	// ErrNotFound means the room or user does not exist (any more).
	ErrNotFound = errors.New("epchat: not found")
	// ErrExists means a room or user with that id exists already.
	ErrExists = errors.New("epchat: already exists")
	// ErrRoomFull means every seat of the room is taken.
	ErrRoomFull = errors.New("epchat: room is full")
	// ErrInviteInvalid means the invite token is unknown, used or expired.
	// The three cases are deliberately not told apart.
	ErrInviteInvalid = errors.New("epchat: invite is invalid")
	// ErrTooManyInvites means the room has as many pending invites as seats.
	ErrTooManyInvites = errors.New("epchat: too many pending invites")
	// ErrNotMember means the user holds no seat in the room.
	ErrNotMember = errors.New("epchat: not a member")
	// ErrAlreadyMember means the user holds a seat in the room already.
	ErrAlreadyMember = errors.New("epchat: already a member")
	// ErrForbidden means only the room's owner may do that.
	ErrForbidden = errors.New("epchat: forbidden")
	// ErrTooManyRooms means the user is seated in as many rooms as allowed.
	ErrTooManyRooms = errors.New("epchat: too many rooms")
	// ErrRoomLocked means the room's owner (or the host) locked it: it
	// takes no new invite and no join until it is unlocked.
	ErrRoomLocked = errors.New("epchat: room is locked")
	// ErrNicknameTaken means a member of the room has a nickname that
	// looks the same (the same NicknameKey).
	ErrNicknameTaken = errors.New("epchat: nickname taken in that room")
	// ErrTooManyUsers means the Store, or the client address, holds as
	// many users as allowed (WithMaxUsers, WithMaxUsersPerAddr).
	ErrTooManyUsers = errors.New("epchat: too many users")
	// ErrUnavailable means a Store that talks to a server could not reach
	// it (down, paused, cut off), or found it had lost its data: the call
	// may be tried again. A Store wraps its own error with it; the Hub
	// answers with the error code unavailable.
	ErrUnavailable = errors.New("epchat: store unavailable")
)

// TokenHash is the SHA-256 of a secret token (session or invite). Stores keep
// only hashes, never the tokens themselves.
type TokenHash [32]byte

// Room is a room as a Store keeps it.
type Room struct {
	ID string
	// Owner is the member id of the owner. It is empty for a room opened by
	// the host application until its owner invite is redeemed.
	Owner string
	// Limit is the number of seats.
	Limit int
	// CreatedAt is when the room was created.
	CreatedAt time.Time
	// ActiveAt is when the last message was sent (CreatedAt before that).
	ActiveAt time.Time
	// Seq is the sequence number of the last message (0 before the first).
	Seq uint64
	// Locked reports that the room takes no new invite and no join (see
	// Store.SetLocked). Its members stay.
	Locked bool
}

// Member is a seat in a room.
type Member struct {
	// ID is the public id of the user holding the seat.
	ID string
	// Nickname is the user's nickname, shown to the other members.
	Nickname string
	// JoinedAt is when the user took the seat.
	JoinedAt time.Time
}

// User is a session: the identity a connection presents. There are no
// accounts; a user is forgotten after the user idle timeout, or sooner
// when it holds no seat (WithSeatlessUserTimeout), or when it ends its
// session.
type User struct {
	// ID is the public member id.
	ID string
	// Nickname is the nickname the user chose (or the host set).
	Nickname string
	// Token is the hash of the secret session token.
	Token TokenHash
	// SeenAt is the user's last activity.
	SeenAt time.Time
	// Conns is the number of live connections of the user, as counted by
	// Attach and Detach.
	Conns int
	// DetachedAt is when the user's last connection went away.
	DetachedAt time.Time
}

// Invite is a pending one-time invite.
type Invite struct {
	// Token is the hash of the secret invite token.
	Token TokenHash
	// Room is the id of the room the invite seats its redeemer in.
	Room string
	// Owner makes the redeemer the owner of a room that has none. Only the
	// Hub's Go API creates such invites.
	Owner bool
	// ExpiresAt is the end of the invite's validity: it is invalid at and
	// after that instant.
	ExpiresAt time.Time
}

// RoomInfo is a room with its member count, as listed by Store.Rooms.
type RoomInfo struct {
	Room
	Members int
}

// LeaveResult tells what a departure did to a room.
type LeaveResult struct {
	// Room is the id of the room that was left.
	Room string
	// User is the id of the member who left.
	User string
	// NewOwner is the member id of the new owner when the owner left and
	// ownership passed to the earliest-joined remaining member; otherwise "".
	NewOwner string
	// Closed reports that the room closed because its last member left.
	Closed bool
}

// ClosedRoom is a room that a Store deleted, with the members it had.
type ClosedRoom struct {
	Room    Room
	Members []Member
}

// Departure is a user removed from all their rooms by a sweep.
type Departure struct {
	User string
	Left []LeaveResult
}

// Store keeps the state of rooms, members, invites and users. The Hub calls
// it from many goroutines; every method must be safe for concurrent use.
//
// A Store may be shared by several Hub processes (see the redisstore
// module), so it holds no connection objects and each rule that spans
// several records is one atomic call: when two callers race, the Store's
// answer is the truth. Every method whose rule depends on time takes the
// instant it should act at as an argument (the Hub's clock); a Store never
// reads the wall clock itself.
//
// The Hub passes a context that is cancelled when it shuts down, with no
// deadline per call: a Store that talks to a server bounds its own calls
// (go-redis and database/sql have timeouts of their own).
//
// The Hub logs a Store's unexpected errors as they are: their text must not
// hold message bodies, nicknames or tokens.
//
// Errors are the sentinels of this package (ErrNotFound, ErrRoomFull, ...),
// possibly wrapped; any other error is treated as a failure of the Store.
// Lists of members are always in join order, earliest first.
//
// The storetest package checks a Store against this contract.
//
// A Store is four parts, each an interface of its own so that an
// implementer sees the shape: users and their sessions (UserStore), rooms
// (RoomStore), invites and seats (SeatStore), and the time rules the Hub's
// sweeper applies (SweepStore).
type Store interface {
	UserStore
	RoomStore
	SeatStore
	SweepStore
}

// UserStore is the part of a Store that keeps users: who holds which
// session token, how many connections each has, and when each was last
// seen.
type UserStore interface {
	// CreateUser adds a user with no connection. ErrExists if the id or
	// token hash is taken; ErrTooManyUsers if the Store holds maxUsers
	// users already (maxUsers <= 0: no limit), counted with the check in
	// one atomic step, so that racing callers never pass the limit.
	CreateUser(ctx context.Context, u User, maxUsers int) error
	// UserByToken returns the user holding the session token hash.
	// ErrNotFound if there is none.
	UserByToken(ctx context.Context, token TokenHash) (User, error)
	// Attach records a new live connection of the user: Conns+1, SeenAt=now.
	// ErrNotFound if the user does not exist.
	Attach(ctx context.Context, user string, now time.Time) error
	// Detach records the end of a connection: Conns-1 (never below zero),
	// SeenAt=now and, when Conns reaches zero, DetachedAt=now. ErrNotFound
	// if the user does not exist.
	Detach(ctx context.Context, user string, now time.Time) error
	// TouchUser records activity: SeenAt=now. ErrNotFound if the user does
	// not exist.
	TouchUser(ctx context.Context, user string, now time.Time) error
	// DeleteUser removes the user from all their rooms, as Leave does, and
	// deletes the user in one step: its token no longer identifies anyone.
	// It returns the departures, one per room left. ErrNotFound if the user
	// does not exist, so of several racing callers exactly one gets the
	// departures.
	DeleteUser(ctx context.Context, user string, now time.Time) ([]LeaveResult, error)
}

// RoomStore is the part of a Store that keeps rooms.
type RoomStore interface {
	// CreateRoom adds room r. If owner is not nil it is seated as the first
	// member and r.Owner must equal owner.ID; ErrNotFound if owner.ID is no
	// user (only users are seated). ErrExists if the id is taken;
	// ErrTooManyRooms if the owner is already seated in maxRooms rooms
	// (maxRooms <= 0: no limit). The room is created unlocked, whatever
	// r.Locked says.
	CreateRoom(ctx context.Context, r Room, owner *Member, maxRooms int) error
	// Room returns the room and its members. ErrNotFound if it is gone.
	Room(ctx context.Context, room string) (Room, []Member, error)
	// Rooms lists every room with its member count, in no set order.
	Rooms(ctx context.Context) ([]RoomInfo, error)
	// UserRooms lists the ids of the rooms the user is seated in, in no set
	// order; none for an unknown user.
	UserRooms(ctx context.Context, user string) ([]string, error)
	// CloseRoom deletes the room with its seats and invites in one step,
	// and returns what it deleted. ErrNotFound if it is gone already, so of
	// several racing callers exactly one gets the room.
	CloseRoom(ctx context.Context, room string) (ClosedRoom, error)
	// SetLocked locks or unlocks the room (Room.Locked). If by is not empty
	// it must be the room's owner (ErrForbidden otherwise); "" is the host.
	// Setting the state the room is in already is not an error.
	// ErrNotFound if the room is gone.
	SetLocked(ctx context.Context, room, by string, locked bool) error
}

// SeatStore is the part of a Store that seats members: invites, joins,
// departures, and the messages only a seat may send.
type SeatStore interface {
	// CreateInvite adds a pending invite. If by is not empty it must be the
	// room's owner (ErrForbidden otherwise). ErrNotFound if the room is gone;
	// ErrRoomLocked if the room is locked; ErrRoomFull if every seat is
	// taken; ErrTooManyInvites if the room has Limit unexpired invites
	// pending already (invites expired at now do not count); ErrExists if
	// the token hash is taken.
	CreateInvite(ctx context.Context, inv Invite, by string, now time.Time) error
	// Invite returns the pending invite with token hash, without
	// consuming it: a link can be checked before its user picks a
	// nickname. ErrInviteInvalid in the cases Redeem returns it: the
	// invite is unknown, used, expired at now, revoked by a kick, or its
	// room is gone.
	Invite(ctx context.Context, token TokenHash, now time.Time) (Invite, error)
	// Redeem consumes the invite with token hash and seats m in its room, in
	// one atomic step: of many concurrent callers with one token exactly one
	// succeeds, and a room never exceeds its Limit. m.JoinedAt is set by the
	// caller. An owner invite makes m the owner if the room has none.
	//
	// ErrInviteInvalid if the invite is unknown, used, or expired at now (an
	// invite whose room is gone is unknown); ErrNotFound if m.ID is no
	// user (only users are seated); ErrRoomLocked if its room is
	// locked, ErrAlreadyMember if m is seated there already and ErrRoomFull
	// if no seat is free, ErrTooManyRooms if m is seated in maxRooms rooms
	// already (maxRooms <= 0: no limit), ErrNicknameTaken if a member
	// seated there has a nickname with the same NicknameKey as m.Nickname
	// (an empty one is like none): in these six cases the invite is not
	// consumed (a locked room's invite works again once it is unlocked,
	// until it expires). The nickname check is part of the atomic step, so
	// of two racing joiners with look-alike nicknames at most one is
	// seated. On success it returns the room as m's seat left it (Owner
	// is m when an owner invite made m the owner). The Hub reads the
	// members again under the room's lock, so Redeem does not return them.
	Redeem(ctx context.Context, token TokenHash, m Member, now time.Time, maxRooms int) (Room, error)
	// Leave removes the user's seat. When the owner leaves, ownership passes
	// to the earliest-joined remaining member; when the last member leaves,
	// the room is closed as by CloseRoom. ErrNotFound if the room is gone,
	// ErrNotMember if the user holds no seat there.
	Leave(ctx context.Context, room, user string) (LeaveResult, error)
	// Kick removes member's seat at the request of by, and revokes every
	// invite of the room pending at that moment, in one atomic step: nobody
	// comes back through an invite made before the kick. If by is not empty
	// it must be the room's owner and not member itself (ErrForbidden
	// otherwise: an owner leaves with Leave); "" is the host. Ownership
	// passes and the room closes as with Leave. ErrNotFound if the room is
	// gone, ErrNotMember if member holds no seat there; nothing changes in
	// these cases.
	Kick(ctx context.Context, room, by, member string) (LeaveResult, error)
	// Message records a message of the user in the room: it checks the seat,
	// increments the room's Seq, sets ActiveAt=now and returns the new Seq.
	// ErrNotFound if the room is gone, ErrNotMember if the user holds no
	// seat there.
	Message(ctx context.Context, room, user string, now time.Time) (uint64, error)
}

// SweepStore is the part of a Store that applies the time rules: idle
// rooms close, users away past the reconnect grace lose their seats,
// inactive users are forgotten, expired invites go. The Hub's sweeper
// calls it with instants on its clock.
type SweepStore interface {
	// CloseIdleRooms closes, as CloseRoom does, every room whose ActiveAt is
	// before the given instant, and returns them.
	CloseIdleRooms(ctx context.Context, before time.Time) ([]ClosedRoom, error)
	// VacateUsers removes every user that has no connection and whose
	// DetachedAt is before the given instant from all their rooms, as Leave
	// does, and returns those who held at least one seat. The users remain:
	// their token still identifies them.
	VacateUsers(ctx context.Context, before time.Time) ([]Departure, error)
	// ForgetUsers deletes every user that has no connection and whose SeenAt
	// is before the instant before, or that has no connection, holds no
	// seat and whose SeenAt is before the instant seatless (the Hub passes
	// a seatless later than before: a user in no room is forgotten
	// sooner). It removes them from all their rooms first, as Leave does,
	// and returns them (with an empty Left for those who held no seat).
	ForgetUsers(ctx context.Context, before, seatless time.Time) ([]Departure, error)
	// ExpireInvites deletes the invites expired at now and returns how many.
	ExpireInvites(ctx context.Context, now time.Time) (int, error)
}

// InProcessStore is implemented by a Store whose calls never wait on I/O:
// they use the CPU and the Store's own locks only, as [MemoryStore] and the
// sqlitestore module do. InProcess reports true for such a Store.
//
// The Hub reads requests on a small pool of workers. Before a request
// calls a Store that is not in-process (redisstore, or any Store that does
// not say otherwise), it tells the pool, which starts another worker if
// needed: a request waiting for its Store then holds up its own
// connection only. An in-process Store's calls are made without it, since
// more workers would only contend for the Store's locks.
type InProcessStore interface {
	Store
	InProcess() bool
}

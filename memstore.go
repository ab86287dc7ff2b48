package epchat

import (
	"context"
	"maps"
	"math"
	"slices"
	"sync"
	"time"
)

// MemoryStore is the default Store: maps in the process's memory, guarded
// by one mutex. Nothing survives the process. The zero value is not ready;
// use NewMemoryStore.
type MemoryStore struct {
	mu     sync.Mutex
	users  userTable // by id
	tokens userTable // by session token hash
	rooms  map[string]*memRoom
	// invites holds every pending invite; each is also listed by its room.
	invites map[TokenHash]memInvite
	// away holds the users with no connection and at least one seat, the
	// only ones VacateUsers must look at every second.
	away map[*memUser]struct{}
	// more holds the rooms of users seated in more than one, after the
	// first (memUser.room), in seating order.
	more map[*memUser][]*memRoom
	// idle lists the rooms by the minute of their last activity (the head
	// of each minute's list), so that CloseIdleRooms, which a busy Hub
	// calls every second, looks at the rooms that may be idle, not at
	// every room while holding the lock every request needs.
	idle map[int64]*memRoom
	// peak holds the most entries each map held since it was made or last
	// copied: a Go map keeps the memory of its largest size, so tidy copies
	// a map that a burst (of invites, of reconnections) left mostly empty.
	// (The user tables shrink by themselves.)
	peak struct{ rooms, invites, away, more int }
}

// The records below are what MemoryStore keeps in place of the exported
// types, whose fields are roomy (a time.Time is 24 bytes): an idle member
// costs a memUser and a memMember, and the Hub keeps tens of thousands.
// Instants are Unix nanoseconds (see memNanos).

// memUser is a user. Only users are seated (the contract refuses a seat
// to an id that is no user).
type memUser struct {
	id       string
	nick     string
	seen     int64
	detached int64
	token    TokenHash // the key of MemoryStore.tokens, for DeleteUser
	// room is the first room the user is seated in, nil if none; further
	// ones are in MemoryStore.more. Most users sit in one room, and a
	// slice would take the record from 96 bytes to 112 and allocate.
	room  *memRoom
	conns int32 // 2³¹ connections of one user will not happen
	more  bool  // MemoryStore.more holds further rooms
}

type memRoom struct {
	room    Room
	members []memMember // join order
	invites []TokenHash // token hashes of the pending invites; nil if none
	// nicks holds the nicknames of the seats whose nickname is not their
	// user's; nil if none (the Hub seats users under their own).
	nicks map[*memUser]string
	// prev, next and minute are its place in MemoryStore.idle, while filed.
	prev, next *memRoom
	minute     int64
	filed      bool
}

// memMinute is the minute t is in, as MemoryStore.idle keys it.
func memMinute(t time.Time) int64 {
	s := t.Unix()
	m := s / 60
	if s%60 < 0 {
		m--
	}
	return m
}

// indexIdle files mr under the minute of its last activity; a room still
// in that minute's list stays as it is, at the cost of a comparison.
func (s *MemoryStore) indexIdle(mr *memRoom) {
	m := memMinute(mr.room.ActiveAt)
	if mr.filed && m == mr.minute {
		return
	}
	s.unindexIdle(mr)
	if s.idle == nil {
		s.idle = make(map[int64]*memRoom)
	}
	mr.minute, mr.next, mr.filed = m, s.idle[m], true
	if mr.next != nil {
		mr.next.prev = mr
	}
	s.idle[m] = mr
}

// unindexIdle takes mr out of MemoryStore.idle, if it is in.
func (s *MemoryStore) unindexIdle(mr *memRoom) {
	if !mr.filed {
		return
	}
	switch {
	case mr.prev != nil:
		mr.prev.next = mr.next
	case mr.next != nil:
		s.idle[mr.minute] = mr.next
	default:
		delete(s.idle, mr.minute)
	}
	if mr.next != nil {
		mr.next.prev = mr.prev
	}
	mr.prev, mr.next, mr.filed = nil, nil, false
}

// memMember is a seat, of its user.
type memMember struct {
	user   *memUser
	joined int64
}

// setNick records nick as the nickname of the seat of u.
func (mr *memRoom) setNick(u *memUser, nick string) {
	switch {
	case nick != u.nick:
		if mr.nicks == nil {
			mr.nicks = make(map[*memUser]string)
		}
		mr.nicks[u] = nick
	case mr.nicks != nil:
		delete(mr.nicks, u)
		if len(mr.nicks) == 0 {
			mr.nicks = nil
		}
	}
}

type memInvite struct {
	room    *memRoom // pending invites are deleted with their room
	expires int64
	owner   bool
}

// memNanos returns t as Unix nanoseconds, which are exact from 1678 to
// 2262 (the Hub's clock never leaves that range; an instant outside it is
// kept as its nearer end). The zero time.Time, the contract's "never", is
// the smallest int64, before every other instant. Storing nanoseconds
// drops the monotonic clock reading: instants are then compared by the
// wall clock, as every Store that is not in memory compares them.
func memNanos(t time.Time) int64 {
	if t.IsZero() {
		return math.MinInt64
	}
	switch s := t.Unix(); {
	case s < math.MinInt64/int64(time.Second):
		return math.MinInt64 + 1
	case s >= math.MaxInt64/int64(time.Second):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// memTime reverses memNanos, in the local time zone, as time.Now gives
// instants to the Hub.
func memTime(n int64) time.Time {
	if n == math.MinInt64 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

var _ InProcessStore = (*MemoryStore)(nil)

// NewMemoryStore returns an empty in-memory store.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{
		users:   newUserTable(false),
		tokens:  newUserTable(true),
		rooms:   make(map[string]*memRoom),
		invites: make(map[TokenHash]memInvite),
		away:    make(map[*memUser]struct{}),
		more:    make(map[*memUser][]*memRoom),
	}
}

// user returns the user with the id, or nil if there is none.
// InProcess implements [InProcessStore]: a MemoryStore never waits on I/O.
func (s *MemoryStore) InProcess() bool { return true }

func (s *MemoryStore) user(id string) *memUser {
	return s.users.byID(id)
}

// CreateUser implements Store.
func (s *MemoryStore) CreateUser(_ context.Context, u User, maxUsers int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.users.byID(u.ID) != nil {
		return ErrExists
	}
	if s.tokens.byTokenHash(u.Token) != nil {
		return ErrExists
	}
	if maxUsers > 0 && s.users.n >= maxUsers {
		return ErrTooManyUsers
	}
	mu := &memUser{id: u.ID, nick: u.Nickname}
	mu.seen = memNanos(u.SeenAt)
	mu.detached = memNanos(u.DetachedAt)
	mu.conns = 0
	mu.token = u.Token
	s.users.add(mu)
	s.tokens.add(mu)
	s.noteAway(mu)
	return nil
}

// UserByToken implements Store.
func (s *MemoryStore) UserByToken(_ context.Context, token TokenHash) (User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.tokens.byTokenHash(token)
	if u == nil {
		return User{}, ErrNotFound
	}
	return User{
		ID:         u.id,
		Nickname:   u.nick,
		Token:      token,
		SeenAt:     memTime(u.seen),
		Conns:      int(u.conns),
		DetachedAt: memTime(u.detached),
	}, nil
}

// Attach implements Store.
func (s *MemoryStore) Attach(_ context.Context, user string, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.user(user)
	if u == nil {
		return ErrNotFound
	}
	u.conns++
	u.seen = memNanos(now)
	delete(s.away, u)
	s.tidy()
	return nil
}

// Detach implements Store.
func (s *MemoryStore) Detach(_ context.Context, user string, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.user(user)
	if u == nil {
		return ErrNotFound
	}
	if u.conns > 0 {
		u.conns--
	}
	u.seen = memNanos(now)
	if u.conns == 0 {
		u.detached = u.seen
		s.noteAway(u)
	}
	return nil
}

// TouchUser implements Store.
func (s *MemoryStore) TouchUser(_ context.Context, user string, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.user(user)
	if u == nil {
		return ErrNotFound
	}
	u.seen = memNanos(now)
	return nil
}

// DeleteUser implements Store.
func (s *MemoryStore) DeleteUser(_ context.Context, user string, _ time.Time) ([]LeaveResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.user(user)
	if u == nil {
		return nil, ErrNotFound
	}
	left := s.forget(u)
	s.tidy()
	return left, nil
}

// CreateRoom implements Store.
func (s *MemoryStore) CreateRoom(_ context.Context, r Room, owner *Member, maxRooms int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.rooms[r.ID]; ok {
		return ErrExists
	}
	if owner != nil {
		u := s.users.byID(owner.ID)
		if u == nil {
			return ErrNotFound
		}
		if maxRooms > 0 && s.seats(u) >= maxRooms {
			return ErrTooManyRooms
		}
	}
	mr := &memRoom{room: r}
	mr.room.Locked = false // rooms are created open
	s.rooms[r.ID] = mr
	s.indexIdle(mr)
	s.peak.rooms = max(s.peak.rooms, len(s.rooms))
	if owner != nil {
		s.seat(mr, *owner)
	}
	return nil
}

// Room implements Store.
func (s *MemoryStore) Room(_ context.Context, room string) (Room, []Member, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mr, ok := s.rooms[room]
	if !ok {
		return Room{}, nil, ErrNotFound
	}
	return mr.room, mr.memberList(), nil
}

// memberList returns the members of the room as the Store hands them out:
// a slice of its own, nil if there are none.
func (mr *memRoom) memberList() []Member {
	if len(mr.members) == 0 {
		return nil
	}
	// Field by field, and the nicknames kept aside after: this is a third
	// quicker than storing a Member literal per seat.
	out := make([]Member, len(mr.members))
	for i := range out {
		m, o := &mr.members[i], &out[i]
		o.ID = m.user.id
		o.Nickname = m.user.nick
		o.JoinedAt = memTime(m.joined)
	}
	if mr.nicks != nil {
		for i, m := range mr.members {
			if nick, ok := mr.nicks[m.user]; ok {
				out[i].Nickname = nick
			}
		}
	}
	return out
}

// Rooms implements Store.
func (s *MemoryStore) Rooms(_ context.Context) ([]RoomInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]RoomInfo, 0, len(s.rooms))
	for _, mr := range s.rooms {
		out = append(out, RoomInfo{Room: mr.room, Members: len(mr.members)})
	}
	return out, nil
}

// UserRooms implements Store.
func (s *MemoryStore) UserRooms(_ context.Context, user string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users.byID(user)
	if u == nil || u.room == nil {
		return nil, nil
	}
	out := make([]string, 0, s.seats(u))
	out = append(out, u.room.room.ID)
	for _, mr := range s.more[u] {
		out = append(out, mr.room.ID)
	}
	return out, nil
}

// CloseRoom implements Store.
func (s *MemoryStore) CloseRoom(_ context.Context, room string) (ClosedRoom, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mr, ok := s.rooms[room]
	if !ok {
		return ClosedRoom{}, ErrNotFound
	}
	defer s.tidy()
	return s.closeRoom(mr), nil
}

func (s *MemoryStore) closeRoom(mr *memRoom) ClosedRoom {
	closed := ClosedRoom{Room: mr.room, Members: mr.memberList()}
	for _, h := range mr.invites {
		delete(s.invites, h)
	}
	mr.invites = nil
	mr.nicks = nil
	for _, m := range mr.members {
		s.unseat(m.user, mr)
	}
	mr.members = nil
	s.unindexIdle(mr)
	delete(s.rooms, mr.room.ID)
	return closed
}

// CreateInvite implements Store.
func (s *MemoryStore) CreateInvite(_ context.Context, inv Invite, by string, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	mr, ok := s.rooms[inv.Room]
	if !ok {
		return ErrNotFound
	}
	if by != "" && mr.room.Owner != by {
		return ErrForbidden
	}
	if mr.room.Locked {
		return ErrRoomLocked
	}
	if len(mr.members) >= mr.room.Limit {
		return ErrRoomFull
	}
	if _, ok := s.invites[inv.Token]; ok {
		return ErrExists
	}
	at := memNanos(now)
	pending := 0
	for _, h := range mr.invites {
		if s.invites[h].expires > at {
			pending++
		}
	}
	if pending >= mr.room.Limit {
		return ErrTooManyInvites
	}
	s.invites[inv.Token] = memInvite{room: mr, expires: memNanos(inv.ExpiresAt), owner: inv.Owner}
	s.peak.invites = max(s.peak.invites, len(s.invites))
	mr.invites = append(mr.invites, inv.Token)
	return nil
}

// Invite implements Store.
func (s *MemoryStore) Invite(_ context.Context, token TokenHash, now time.Time) (Invite, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inv, ok := s.invites[token]
	if !ok || inv.expires <= memNanos(now) {
		return Invite{}, ErrInviteInvalid
	}
	return Invite{Token: token, Room: inv.room.room.ID, Owner: inv.owner, ExpiresAt: memTime(inv.expires)}, nil
}

// Redeem implements Store.
func (s *MemoryStore) Redeem(_ context.Context, token TokenHash, m Member, now time.Time, maxRooms int) (Room, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inv, ok := s.invites[token]
	if !ok || inv.expires <= memNanos(now) {
		return Room{}, ErrInviteInvalid
	}
	mr := inv.room
	if mr.room.Locked {
		return Room{}, ErrRoomLocked
	}
	u := s.users.byID(m.ID)
	if u == nil {
		return Room{}, ErrNotFound
	}
	if s.seated(u, mr) {
		return Room{}, ErrAlreadyMember
	}
	if len(mr.members) >= mr.room.Limit {
		return Room{}, ErrRoomFull
	}
	if maxRooms > 0 && s.seats(u) >= maxRooms {
		return Room{}, ErrTooManyRooms
	}
	if key := NicknameKey(m.Nickname); key != "" && len(mr.members) > 0 {
		for _, o := range mr.memberList() {
			if NicknameKey(o.Nickname) == key {
				return Room{}, ErrNicknameTaken
			}
		}
	}
	s.dropInvite(token, mr)
	s.seat(mr, m)
	if inv.owner && mr.room.Owner == "" {
		mr.room.Owner = m.ID
	}
	s.tidy()
	return mr.room, nil
}

// dropInvite deletes the pending invite with token hash h of room mr.
func (s *MemoryStore) dropInvite(h TokenHash, mr *memRoom) {
	delete(s.invites, h)
	if i := slices.Index(mr.invites, h); i >= 0 {
		mr.invites = slices.Delete(mr.invites, i, i+1)
	}
	if len(mr.invites) == 0 {
		mr.invites = nil // most rooms have none pending most of the time
	}
}

// Leave implements Store.
func (s *MemoryStore) Leave(_ context.Context, room, user string) (LeaveResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mr, ok := s.rooms[room]
	if !ok {
		return LeaveResult{}, ErrNotFound
	}
	defer s.tidy()
	return s.leave(mr, s.users.byID(user))
}

// leave removes the seat of u (nil: no user) in mr.
func (s *MemoryStore) leave(mr *memRoom, u *memUser) (LeaveResult, error) {
	i := -1
	if u != nil {
		i = slices.IndexFunc(mr.members, func(m memMember) bool { return m.user == u })
	}
	if i < 0 {
		return LeaveResult{}, ErrNotMember
	}
	mr.members = slices.Delete(mr.members, i, i+1)
	mr.setNick(u, u.nick)
	s.unseat(u, mr)
	res := LeaveResult{Room: mr.room.ID, User: u.id}
	if len(mr.members) == 0 {
		s.closeRoom(mr)
		res.Closed = true
		return res, nil
	}
	if mr.room.Owner == u.id {
		mr.room.Owner = mr.members[0].user.id
		res.NewOwner = mr.room.Owner
	}
	return res, nil
}

// Kick implements Store.
func (s *MemoryStore) Kick(_ context.Context, room, by, member string) (LeaveResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mr, ok := s.rooms[room]
	if !ok {
		return LeaveResult{}, ErrNotFound
	}
	if by != "" && (mr.room.Owner != by || by == member) {
		return LeaveResult{}, ErrForbidden
	}
	defer s.tidy()
	res, err := s.leave(mr, s.users.byID(member))
	if err != nil || res.Closed {
		return res, err // a closed room took its invites along
	}
	for _, h := range mr.invites {
		delete(s.invites, h)
	}
	mr.invites = nil
	return res, nil
}

// SetLocked implements Store.
func (s *MemoryStore) SetLocked(_ context.Context, room, by string, locked bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	mr, ok := s.rooms[room]
	if !ok {
		return ErrNotFound
	}
	if by != "" && mr.room.Owner != by {
		return ErrForbidden
	}
	mr.room.Locked = locked
	return nil
}

// Message implements Store.
func (s *MemoryStore) Message(_ context.Context, room, user string, now time.Time) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mr, ok := s.rooms[room]
	if !ok {
		return 0, ErrNotFound
	}
	if u := s.users.byID(user); u == nil || !s.seated(u, mr) {
		return 0, ErrNotMember
	}
	mr.room.Seq++
	mr.room.ActiveAt = now
	s.indexIdle(mr)
	return mr.room.Seq, nil
}

// CloseIdleRooms implements Store.
func (s *MemoryStore) CloseIdleRooms(_ context.Context, before time.Time) ([]ClosedRoom, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ClosedRoom
	last := memMinute(before) // rooms of later minutes were active since
	var minutes []int64
	for m := range s.idle {
		if m <= last {
			minutes = append(minutes, m)
		}
	}
	for _, m := range minutes {
		for mr := s.idle[m]; mr != nil; {
			next := mr.next // closeRoom unlinks mr
			if mr.room.ActiveAt.Before(before) {
				out = append(out, s.closeRoom(mr))
			}
			mr = next
		}
	}
	s.tidy()
	return out, nil
}

// VacateUsers implements Store.
func (s *MemoryStore) VacateUsers(_ context.Context, before time.Time) ([]Departure, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cut := memNanos(before)
	var out []Departure
	for u := range s.away {
		if u.conns == 0 && u.detached < cut && u.room != nil {
			out = append(out, Departure{User: u.id, Left: s.leaveAll(u)})
		}
	}
	s.tidy()
	return out, nil
}

// ForgetUsers implements Store.
func (s *MemoryStore) ForgetUsers(_ context.Context, before, seatless time.Time) ([]Departure, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cut, seatlessCut := memNanos(before), memNanos(seatless)
	var out []Departure
	var gone []*memUser // forget reorders the table: not while ranging over it
	for _, u := range s.tokens.slots {
		if u != nil && u.conns == 0 && (u.seen < cut || u.room == nil && u.seen < seatlessCut) {
			gone = append(gone, u)
		}
	}
	for _, u := range gone {
		out = append(out, Departure{User: u.id, Left: s.forget(u)})
	}
	s.tidy()
	return out, nil
}

// forget removes u from all its rooms, as Leave does, and deletes it.
func (s *MemoryStore) forget(u *memUser) []LeaveResult {
	left := s.leaveAll(u)
	s.tokens.remove(u)
	s.users.remove(u)
	delete(s.away, u)
	return left
}

func (s *MemoryStore) leaveAll(u *memUser) []LeaveResult {
	var out []LeaveResult
	for _, mr := range s.roomsOf(u) {
		res, err := s.leave(mr, u)
		if err == nil {
			out = append(out, res)
		}
	}
	return out
}

// ExpireInvites implements Store.
func (s *MemoryStore) ExpireInvites(_ context.Context, now time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	at := memNanos(now)
	n := 0
	for h, inv := range s.invites {
		if inv.expires <= at {
			s.dropInvite(h, inv.room)
			n++
		}
	}
	s.tidy()
	return n, nil
}

// seat seats m, a user, in mr.
func (s *MemoryStore) seat(mr *memRoom, m Member) {
	u := s.users.byID(m.ID)
	if len(mr.members) == cap(mr.members) {
		// Grow towards the room's Limit, never past it: a full room of
		// 10 holds 10 seats where append would make room for 16.
		n := min(max(2*cap(mr.members), 4), mr.room.Limit)
		grown := make([]memMember, len(mr.members), max(n, len(mr.members)+1))
		copy(grown, mr.members)
		mr.members = grown
	}
	mr.members = append(mr.members, memMember{user: u, joined: memNanos(m.JoinedAt)})
	mr.setNick(u, m.Nickname)
	if u.room == nil {
		u.room = mr
	} else {
		s.more[u] = append(s.more[u], mr)
		s.peak.more = max(s.peak.more, len(s.more))
		u.more = true
	}
	s.noteAway(u)
}

// unseat removes mr from the rooms of u, which has left its seat there.
func (s *MemoryStore) unseat(u *memUser, mr *memRoom) {
	if u.more {
		rest := s.more[u]
		if u.room == mr {
			u.room = rest[0]
			rest = slices.Delete(rest, 0, 1)
		} else if i := slices.Index(rest, mr); i >= 0 {
			rest = slices.Delete(rest, i, i+1)
		}
		if len(rest) > 0 {
			s.more[u] = rest
		} else {
			delete(s.more, u)
			u.more = false
		}
		return
	}
	if u.room != mr {
		return
	}
	u.room = nil
	delete(s.away, u)
}

// seated reports whether u holds a seat in mr.
func (s *MemoryStore) seated(u *memUser, mr *memRoom) bool {
	return u.room == mr || u.more && slices.Contains(s.more[u], mr)
}

// seats returns how many rooms u is seated in.
func (s *MemoryStore) seats(u *memUser) int {
	switch {
	case u.room == nil:
		return 0
	case !u.more:
		return 1
	}
	return 1 + len(s.more[u])
}

// roomsOf returns the rooms u is seated in, in seating order, in a slice
// of its own.
func (s *MemoryStore) roomsOf(u *memUser) []*memRoom {
	if u.room == nil {
		return nil
	}
	return append([]*memRoom{u.room}, s.more[u]...)
}

// noteAway records a user that may have seats and no connection.
func (s *MemoryStore) noteAway(u *memUser) {
	if u.conns == 0 && u.room != nil {
		s.away[u] = struct{}{}
		s.peak.away = max(s.peak.away, len(s.away))
	}
}

// tidy copies each map that holds an eighth or less of the most it held,
// if that was at least memTidyMin entries, so that the copy holds only
// the memory its entries need. The calls that delete call it last, never
// while they range over a map. A copy moves at most one entry for every
// seven deleted since the peak, and holds the lock no longer than copying
// an eighth of the peak.
func (s *MemoryStore) tidy() {
	s.rooms = tidied(s.rooms, &s.peak.rooms)
	s.invites = tidied(s.invites, &s.peak.invites)
	s.away = tidied(s.away, &s.peak.away)
	s.more = tidied(s.more, &s.peak.more)
}

// memTidyMin is the fewest entries a map must have held for tidy to copy
// it: a smaller one holds little memory.
const memTidyMin = 1024

// tidied returns m, or, if m holds an eighth or less of *peak and *peak is
// at least memTidyMin, a copy of m, whose size becomes the new *peak.
func tidied[K comparable, V any](m map[K]V, peak *int) map[K]V {
	if *peak < memTidyMin || len(m) > *peak/8 {
		return m
	}
	c := make(map[K]V, len(m))
	maps.Copy(c, m)
	*peak = len(m)
	return c
}

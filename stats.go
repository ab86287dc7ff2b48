package epchat

import (
	"sync/atomic"

	"github.com/gobwas/ws"

	"github.com/epchat-go/epchat/internal/wire"
)

// Stats is a snapshot of a Hub's figures, for dashboards and alerts. It
// holds counts only: no id, nickname, token or text.
//
// Counters (uint64) only grow, from New on; a rate, such as messages per
// second, is the difference of two snapshots divided by the time between
// them. Gauges (int64) tell the state now.
//
// Users, Rooms and Members are gauges kept as counters of what this
// process did (created minus ended), so that reading them costs no Store
// call; the Store interface has no method to count. They are exact for a
// Hub that serves its rooms alone from a Store that started empty, such
// as the default MemoryStore. When several processes share a Store, each
// counts what it did (a room opened by one process may be closed by the
// sweep of another), so sum them over the processes; one process's figure
// may then be negative. A Store that outlives the process (SQL, Redis)
// holds users and rooms from before New, which these gauges do not know.
// With a Broker, the request counters (Messages, Histories, invites) count
// in the process that served the request, Deliveries and RoomsServed in
// every process that delivered the room's events.
//
// The fields are read one by one, without stopping the Hub: a snapshot
// taken while it works may be off by the events in flight (a message
// counted in Messages whose Deliveries are not counted yet).
type Stats struct {
	// Connections is the number of WebSocket connections open now,
	// identified or not.
	Connections int64
	// ConnectionsPolled is how many of them the Hub's poller serves: idle,
	// they hold no goroutine and no buffer. The others have a goroutine
	// each: TLS terminated by the host's http.Server, WithNetpoll(false),
	// or a system without epoll (see WithNetpoll).
	ConnectionsPolled int64
	// ConnectionsOpened counts the WebSocket connections served (upgrades
	// refused during Shutdown are not).
	ConnectionsOpened uint64
	// ConnectionsRefused counts the upgrades refused with 503 because the
	// Hub, or the client's address, held as many connections as allowed
	// (WithMaxConnections, WithMaxConnectionsPerAddr), or, through Serve,
	// as many waiting for their upgrade request.
	ConnectionsRefused uint64
	// ConnectionsClosed counts the connections that ended, by reason.
	// ConnectionsOpened - ConnectionsClosed.Total() = Connections.
	ConnectionsClosed ConnCloses

	// Users is UsersCreated - UsersForgotten - UsersEnded: the sessions
	// known (see above for a Store shared or kept across restarts).
	Users int64
	// UsersCreated counts the sessions created by a hello with a nickname.
	UsersCreated uint64
	// UsersResumed counts the hellos that came back with a valid session
	// token (a page reload, a second tab, a reconnection).
	UsersResumed uint64
	// UsersForgotten counts the users the sweep forgot after the user idle
	// timeout, or after the seatless user timeout for those in no room.
	UsersForgotten uint64
	// UsersEnded counts the sessions their users ended with end_session.
	UsersEnded uint64

	// Rooms is RoomsOpened - RoomsClosed.Total(): the rooms open (see
	// above for a Store shared or kept across restarts).
	Rooms int64
	// RoomsServed is the number of rooms at least one connection of this
	// process receives the events of: the rooms this process serves now,
	// whichever process opened them.
	RoomsServed int64
	// RoomsOpened counts the rooms opened by a create request or by
	// Hub.CreateRoom.
	RoomsOpened uint64
	// RoomsClosed counts the rooms closed, by reason.
	RoomsClosed RoomCloses
	// RoomsLocked counts the lock requests of owners and the calls of
	// Hub.LockRoom that succeeded (a room locked already counts again).
	RoomsLocked uint64
	// RoomsUnlocked counts the unlock requests and Hub.UnlockRoom calls
	// that succeeded.
	RoomsUnlocked uint64

	// Members is the number of seats taken now: MembersJoined minus
	// MembersLeft.Total() minus the seats still taken in the rooms that
	// closed.
	Members int64
	// MembersJoined counts the seats taken: a room's creator, and every
	// redeemed invite.
	MembersJoined uint64
	// MembersLeft counts the members who left a room, by reason. The
	// members still seated when a room closes are not counted here.
	MembersLeft MemberLeaves

	// Messages counts the messages relayed: send requests accepted.
	Messages uint64
	// Histories counts the history requests relayed.
	Histories uint64
	// Deliveries counts the room events queued to connections: each
	// message, history, member and room event once per receiving
	// connection. Replies to requests are not counted. A connection closing
	// at that moment drops what it is given.
	Deliveries uint64
	// BytesIn counts the bytes read from the WebSocket connections, frame
	// headers included, the HTTP upgrade request not.
	BytesIn uint64
	// BytesOut counts the bytes written to the WebSocket connections, frame
	// headers included, the HTTP upgrade response not.
	BytesOut uint64

	// InvitesMade counts the invites made: by owners' invite requests and
	// by Hub.CreateRoom.
	InvitesMade uint64
	// InvitesRedeemed counts the invites redeemed by a join.
	InvitesRedeemed uint64
	// InvitesExpired counts the invites the sweep deleted unused after
	// their TTL. Invites deleted with their room are not counted.
	InvitesExpired uint64
	// InvitesRefused counts the joins whose invite was refused: unknown,
	// used, expired or revoked by a kick, or the room locked or full, or
	// the joiner already a member or in too many rooms.
	InvitesRefused uint64

	// Errors counts the error events sent to clients, by code (the codes
	// of PROTOCOL.md). Every code is listed, with 0 when none was sent.
	Errors map[string]uint64

	// HooksDropped counts the hook calls dropped because the hook queue was
	// full (a slow hook) or the Hub was shut down. See Hooks.
	HooksDropped uint64
}

// ConnCloses counts closed connections by reason. A connection counts once,
// under the first reason that applied.
type ConnCloses struct {
	// Client: the client closed the connection (close frame, or the
	// connection dropped), or a write to it failed.
	Client uint64
	// IdentifyTimeout: no valid hello within the identify timeout (4000).
	IdentifyTimeout uint64
	// PingTimeout: the connection stopped answering pings (4002).
	PingTimeout uint64
	// Slow: the send queue overflowed (4001) or a write timed out.
	Slow uint64
	// Protocol: a WebSocket protocol violation, a binary or invalid UTF-8
	// message, or a message over the read limit (1002, 1003, 1007, 1009).
	Protocol uint64
	// Shutdown: Hub.Shutdown closed it (1001).
	Shutdown uint64
	// Policy: too many malformed, out-of-order or rate-limited requests
	// (1008, WithViolationLimit).
	Policy uint64
	// Other: any other close the Hub started.
	Other uint64
}

// Total returns the sum of every reason.
func (c ConnCloses) Total() uint64 {
	return c.Client + c.IdentifyTimeout + c.PingTimeout + c.Slow + c.Protocol + c.Shutdown + c.Policy + c.Other
}

// RoomCloses counts closed rooms by reason: the reasons of room_closed in
// PROTOCOL.md, and Empty.
type RoomCloses struct {
	// Owner: the owner closed it.
	Owner uint64
	// Idle: no message for the room idle timeout.
	Idle uint64
	// Empty: its last member left (by leaving, or by not coming back
	// within the reconnect grace).
	Empty uint64
	// Host: the host application closed it with Hub.CloseRoom.
	Host uint64
	// Shutdown: Hub.Shutdown closed it.
	Shutdown uint64
	// Lost: the Store lost it (a shared Store restarted empty or was
	// flushed; see LossWatcher).
	Lost uint64
}

// Total returns the sum of every reason.
func (c RoomCloses) Total() uint64 {
	return c.Owner + c.Idle + c.Empty + c.Host + c.Shutdown + c.Lost
}

// MemberLeaves counts the members who left a room by reason: the reasons
// of member_left in PROTOCOL.md.
type MemberLeaves struct {
	// Left: the member sent leave, or ended its session (end_session).
	Left uint64
	// Disconnected: the member's last connection went away and they did
	// not come back within the reconnect grace, or the user was forgotten.
	Disconnected uint64
	// Kicked: the owner kicked the member, or the host did with
	// Hub.KickMember.
	Kicked uint64
}

// Total returns the sum of every reason.
func (c MemberLeaves) Total() uint64 { return c.Left + c.Disconnected + c.Kicked }

// cacheLine is the size the hot counters are padded to, so that the cores
// updating different counters do not fight over one cache line.
const cacheLine = 64

// paddedCounter is a counter alone on its cache line.
type paddedCounter struct {
	atomic.Uint64
	_ [cacheLine - 8]byte
}

// counters are the Hub's figures. The hot ones, updated per message, read
// or write, each have a cache line; they are added to once per batch
// (per fan-out, per socket read, per flush), never per byte. The cold
// ones, updated per connection, room, seat or invite, share lines.
type counters struct {
	_          [cacheLine]byte // off the line of the Hub's fields before
	messages   paddedCounter
	deliveries paddedCounter
	bytesIn    paddedCounter
	bytesOut   paddedCounter

	conns        atomic.Int64
	connsPolled  atomic.Int64
	connsOpened  atomic.Uint64
	connsRefused atomic.Uint64
	connsClosed  [numCloseCauses]atomic.Uint64

	usersCreated   atomic.Uint64
	usersResumed   atomic.Uint64
	usersForgotten atomic.Uint64
	usersEnded     atomic.Uint64

	roomsOpened   atomic.Uint64
	roomsClosed   [numRoomReasons]atomic.Uint64
	roomsLocked   atomic.Uint64
	roomsUnlocked atomic.Uint64

	membersJoined atomic.Uint64
	membersLeft   [numLeaveReasons]atomic.Uint64
	seatsClosed   atomic.Uint64 // seats still taken in rooms that closed

	histories atomic.Uint64

	invitesMade     atomic.Uint64
	invitesRedeemed atomic.Uint64
	invitesExpired  atomic.Uint64
	invitesRefused  atomic.Uint64

	errCodes  []wire.Code       // every error code, sorted
	errIndex  map[wire.Code]int // read only after init
	errorsOut []atomic.Uint64   // by errIndex

	hooksDropped atomic.Uint64
}

func (s *counters) init() {
	s.errCodes = wire.Codes()
	s.errIndex = make(map[wire.Code]int, len(s.errCodes))
	for i, c := range s.errCodes {
		s.errIndex[c] = i
	}
	s.errorsOut = make([]atomic.Uint64, len(s.errCodes))
}

// errorSent counts an error event.
func (s *counters) errorSent(code wire.Code) {
	if i, ok := s.errIndex[code]; ok {
		s.errorsOut[i].Add(1)
	}
}

// Stats returns a snapshot of the Hub's figures. It takes no Store call and
// is cheap enough to call on every scrape or every second.
func (h *Hub) Stats() Stats {
	s := &h.stats
	served := h.subs.served()

	st := Stats{
		Connections:        s.conns.Load(),
		ConnectionsPolled:  s.connsPolled.Load(),
		ConnectionsOpened:  s.connsOpened.Load(),
		ConnectionsRefused: s.connsRefused.Load(),
		ConnectionsClosed: ConnCloses{
			Client:          s.connsClosed[causeClient].Load(),
			IdentifyTimeout: s.connsClosed[causeIdentifyTimeout].Load(),
			PingTimeout:     s.connsClosed[causePingTimeout].Load(),
			Slow:            s.connsClosed[causeSlow].Load(),
			Protocol:        s.connsClosed[causeProtocol].Load(),
			Shutdown:        s.connsClosed[causeShutdown].Load(),
			Policy:          s.connsClosed[causePolicy].Load(),
			Other:           s.connsClosed[causeOther].Load(),
		},
		UsersCreated:   s.usersCreated.Load(),
		UsersResumed:   s.usersResumed.Load(),
		UsersForgotten: s.usersForgotten.Load(),
		UsersEnded:     s.usersEnded.Load(),
		RoomsServed:    int64(served),
		RoomsOpened:    s.roomsOpened.Load(),
		RoomsClosed: RoomCloses{
			Owner:    s.roomsClosed[roomOwner].Load(),
			Idle:     s.roomsClosed[roomIdle].Load(),
			Empty:    s.roomsClosed[roomEmpty].Load(),
			Host:     s.roomsClosed[roomHost].Load(),
			Shutdown: s.roomsClosed[roomShutdown].Load(),
			Lost:     s.roomsClosed[roomLost].Load(),
		},
		RoomsLocked:   s.roomsLocked.Load(),
		RoomsUnlocked: s.roomsUnlocked.Load(),
		MembersJoined: s.membersJoined.Load(),
		MembersLeft: MemberLeaves{
			Left:         s.membersLeft[leaveLeft].Load(),
			Disconnected: s.membersLeft[leaveDisconnected].Load(),
			Kicked:       s.membersLeft[leaveKicked].Load(),
		},
		Messages:        s.messages.Load(),
		Histories:       s.histories.Load(),
		Deliveries:      s.deliveries.Load(),
		BytesIn:         s.bytesIn.Load(),
		BytesOut:        s.bytesOut.Load(),
		InvitesMade:     s.invitesMade.Load(),
		InvitesRedeemed: s.invitesRedeemed.Load(),
		InvitesExpired:  s.invitesExpired.Load(),
		InvitesRefused:  s.invitesRefused.Load(),
		Errors:          make(map[string]uint64, len(s.errCodes)),
		HooksDropped:    s.hooksDropped.Load(),
	}
	for i, c := range s.errCodes {
		st.Errors[string(c)] = s.errorsOut[i].Load()
	}
	st.Users = int64(st.UsersCreated) - int64(st.UsersForgotten) - int64(st.UsersEnded)
	st.Rooms = int64(st.RoomsOpened) - int64(st.RoomsClosed.Total())
	st.Members = int64(st.MembersJoined) - int64(st.MembersLeft.Total()) - int64(s.seatsClosed.Load())
	return st
}

// closeCause is why a connection ended; the first cause noted sticks.
type closeCause uint32

const (
	causeNone closeCause = iota
	causeClient
	causeIdentifyTimeout
	causePingTimeout
	causeSlow
	causeProtocol
	causeShutdown
	causePolicy
	causeOther
	numCloseCauses
)

var causeNames = [numCloseCauses]string{
	causeNone:            "none",
	causeClient:          "client",
	causeIdentifyTimeout: "identify_timeout",
	causePingTimeout:     "ping_timeout",
	causeSlow:            "slow",
	causeProtocol:        "protocol",
	causeShutdown:        "shutdown",
	causePolicy:          "policy",
	causeOther:           "other",
}

func (c closeCause) String() string { return causeNames[c] }

// causeOf tells why the Hub closes a connection with code.
func causeOf(code ws.StatusCode) closeCause {
	switch code {
	case closeIdentifyTimeout:
		return causeIdentifyTimeout
	case closePingTimeout:
		return causePingTimeout
	case closeTooSlow:
		return causeSlow
	case ws.StatusGoingAway:
		return causeShutdown
	case closePolicy:
		return causePolicy
	case ws.StatusProtocolError, ws.StatusUnsupportedData,
		ws.StatusInvalidFramePayloadData, ws.StatusMessageTooBig:
		return causeProtocol
	}
	return causeOther
}

// noteCause records why c is ending, unless a cause is recorded already.
// The cause shares the connection's flag word (bits from causeShift).
func (c *conn) noteCause(cause closeCause) {
	for {
		old := c.Flags().Load()
		if closeCause(old>>causeShift) != causeNone ||
			c.Flags().CompareAndSwap(old, old|uint32(cause)<<causeShift) {
			return
		}
	}
}

// endCause is the cause noteCause recorded, causeNone if none.
func (c *conn) endCause() closeCause { return closeCause(c.Flags().Load() >> causeShift) }

// noteConnOpened counts a new connection.
func (h *Hub) noteConnOpened() {
	h.stats.connsOpened.Add(1)
	h.stats.conns.Add(1)
}

// noteConnClosed counts a connection that ended, under its cause.
func (h *Hub) noteConnClosed(c *conn) {
	cause := c.endCause()
	if cause == causeNone {
		cause = causeClient // the read side ended first: the peer went away
	}
	h.stats.connsClosed[cause].Add(1)
	h.stats.conns.Add(-1)
	h.log.Debug("connection closed", "conn", c.ID, "reason", cause.String())
}

// Indexes of the room close reasons.
const (
	roomOwner = iota
	roomIdle
	roomEmpty
	roomHost
	roomShutdown
	roomLost
	numRoomReasons
)

func roomReasonIndex(reason string) int {
	switch reason {
	case ReasonOwner:
		return roomOwner
	case ReasonIdle:
		return roomIdle
	case ReasonEmpty:
		return roomEmpty
	case ReasonHost:
		return roomHost
	case ReasonLost:
		return roomLost
	}
	return roomShutdown
}

// Indexes of the member leave reasons.
const (
	leaveLeft = iota
	leaveDisconnected
	leaveKicked
	numLeaveReasons
)

func leaveReasonIndex(reason string) int {
	switch reason {
	case ReasonLeft:
		return leaveLeft
	case ReasonKicked:
		return leaveKicked
	}
	return leaveDisconnected
}

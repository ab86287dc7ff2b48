// Package wire encodes and decodes the JSON events of the epchat protocol
// (PROTOCOL.md). Encoding is hand-written: each event is built once per
// fan-out, with exactly the fields the protocol names and nothing else.
package wire

import (
	"errors"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Request is a decoded client request. Fields a request type does not use
// are empty.
type Request struct {
	Type     string `json:"type"`
	ID       string `json:"id"`
	Nickname string `json:"nickname"`
	Token    string `json:"token"`
	Room     string `json:"room"`
	Text     string `json:"text"`
	To       string `json:"to"`
	Data     string `json:"data"`
	Member   string `json:"member"`
	Verifier string `json:"verifier"`
	// Has tells which fields the request carried as strings (absent and
	// null are not carried): an empty text is a message, a missing one
	// is a bad request.
	Has Fields `json:"-"`
}

// Fields is a set of request fields, one bit each.
type Fields uint16

// The request fields, as bits of Fields.
const (
	FieldType Fields = 1 << iota
	FieldID
	FieldNickname
	FieldToken
	FieldRoom
	FieldText
	FieldTo
	FieldData
	FieldMember
	FieldVerifier
)

// MaxIDLen bounds the client-chosen request id.
const MaxIDLen = 64

// ErrBadRequest is returned for anything that is not a request object.
var ErrBadRequest = errors.New("wire: bad request")

// Code is an error code of the protocol.
type Code string

// The error codes of PROTOCOL.md.
const (
	BadRequest        Code = "bad_request"
	UnknownType       Code = "unknown_type"
	NotIdentified     Code = "not_identified"
	AlreadyIdentified Code = "already_identified"
	InvalidNickname   Code = "invalid_nickname"
	SessionInvalid    Code = "session_invalid"
	NotFound          Code = "not_found"
	Forbidden         Code = "forbidden"
	RoomFull          Code = "room_full"
	InviteInvalid     Code = "invite_invalid"
	TooManyInvites    Code = "too_many_invites"
	AlreadyMember     Code = "already_member"
	TooManyRooms      Code = "too_many_rooms"
	RoomLocked        Code = "room_locked"
	NicknameTaken     Code = "nickname_taken"
	TooLarge          Code = "too_large"
	RateLimited       Code = "rate_limited"
	TooManyUsers      Code = "too_many_users"
	TooManyConns      Code = "too_many_connections"
	Unavailable       Code = "unavailable"
	Internal          Code = "internal"
)

var messages = map[Code]string{
	BadRequest:        "malformed request",
	UnknownType:       "unknown request type",
	NotIdentified:     "send hello first",
	AlreadyIdentified: "already identified",
	InvalidNickname:   "nickname must be 1 to 32 visible characters",
	SessionInvalid:    "session token is unknown or expired",
	NotFound:          "no such room or member",
	Forbidden:         "only the owner may do that",
	RoomFull:          "the room is full",
	InviteInvalid:     "invite is unknown, used or expired",
	TooManyInvites:    "too many pending invites",
	AlreadyMember:     "already a member of that room",
	TooManyRooms:      "too many rooms",
	RoomLocked:        "the room is locked",
	NicknameTaken:     "a member of that room has a nickname that looks the same",
	TooLarge:          "text or data is too large",
	RateLimited:       "too many requests, slow down",
	TooManyUsers:      "too many sessions, try again later",
	TooManyConns:      "this session has too many connections open",
	Unavailable:       "the server cannot reach its store, try again",
	Internal:          "internal error, try again",
}

// Member is a member as the protocol shows it.
type Member struct {
	ID       string
	Nickname string
}

// RoomState is the body of joined and members events and of the rooms of
// welcome.
type RoomState struct {
	Room    string
	Owner   string
	Seq     uint64
	Locked  bool
	Members []Member
}

// Limits are the server's limits that a client needs to know before it
// hits them, told in welcome.
type Limits struct {
	MaxMessage int // the longest text or data, in bytes
	MaxMembers int // the seats of a room, the owner's included
	RoomIdle   int // seconds without a message after which a room closes
}

// Welcome appends a welcome event. token is omitted when empty.
func Welcome(dst []byte, id string, you Member, token string, rooms []RoomState, lim Limits) []byte {
	dst = begin(dst, "welcome", id, 112+len(you.ID)+len(you.Nickname)+len(token)+len(rooms)*(64+10*48))
	dst = append(dst, `,"you":`...)
	dst = member(dst, you)
	if token != "" {
		dst = str(dst, "token", token)
	}
	dst = append(dst, `,"rooms":[`...)
	for i, r := range rooms {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '{')
		dst = roomState(dst, r, true)
		dst = append(dst, '}')
	}
	dst = append(dst, `],"limits":{"max_message":`...)
	dst = strconv.AppendInt(dst, int64(lim.MaxMessage), 10)
	dst = inum(dst, "max_members", int64(lim.MaxMembers))
	dst = inum(dst, "room_idle", int64(lim.RoomIdle))
	return append(dst, "}}"...)
}

// State appends a joined or members event (typ names which).
func State(dst []byte, typ, id string, r RoomState) []byte {
	dst = begin(dst, typ, id, 64+len(r.Room)+len(r.Owner)+len(r.Members)*48)
	dst = roomState(dst, r, false)
	return append(dst, '}')
}

func roomState(dst []byte, r RoomState, first bool) []byte {
	if first {
		dst = append(dst, `"room":`...)
		dst = quote(dst, r.Room)
	} else {
		dst = str(dst, "room", r.Room)
	}
	dst = str(dst, "owner", r.Owner)
	dst = num(dst, "seq", r.Seq)
	if r.Locked {
		dst = append(dst, `,"locked":true`...)
	} else {
		dst = append(dst, `,"locked":false`...)
	}
	dst = append(dst, `,"members":[`...)
	for i, m := range r.Members {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = member(dst, m)
	}
	return append(dst, ']')
}

// Invite appends the reply to an invite request: the invite expires at
// expires, and the server's clock read now when it was made; ref is its
// public reference, which the member_joined of its redemption tells.
func Invite(dst []byte, id, room, token, ref string, expires, now int64) []byte {
	dst = begin(dst, "invite", id, 104+len(room)+len(token)+len(ref))
	dst = str(dst, "room", room)
	dst = str(dst, "token", token)
	dst = str(dst, "invite", ref)
	dst = inum(dst, "expires", expires)
	dst = inum(dst, "now", now)
	return append(dst, '}')
}

// InviteOK appends the reply to a check_invite request: the invite is
// pending until expires, the server's clock reads now, and its room is
// locked or full (a join would be refused until that changes).
func InviteOK(dst []byte, id string, expires, now int64, locked, full bool) []byte {
	dst = begin(dst, "invite_ok", id, 80)
	dst = inum(dst, "expires", expires)
	dst = inum(dst, "now", now)
	dst = boolean(dst, "locked", locked)
	dst = boolean(dst, "full", full)
	return append(dst, '}')
}

// Sent appends the reply to a send request.
func Sent(dst []byte, id, room string, seq uint64, ts int64) []byte {
	dst = begin(dst, "sent", id, 64+len(room))
	dst = str(dst, "room", room)
	dst = num(dst, "seq", seq)
	dst = inum(dst, "ts", ts)
	return append(dst, '}')
}

// OK appends an ok reply.
func OK(dst []byte, id string) []byte {
	return append(begin(dst, "ok", id, 0), '}')
}

// Error appends an error event. room is omitted when empty.
func Error(dst []byte, id string, code Code, room string) []byte {
	dst = begin(dst, "error", id, 64+len(room)+len(messages[code]))
	dst = str(dst, "code", string(code))
	dst = str(dst, "message", messages[code])
	if room != "" {
		dst = str(dst, "room", room)
	}
	return append(dst, '}')
}

// Message appends a message event.
func Message(dst []byte, room, from string, seq uint64, ts int64, text string) []byte {
	dst = begin(dst, "message", "", 80+len(room)+len(from)+len(text))
	dst = str(dst, "room", room)
	dst = str(dst, "from", from)
	dst = num(dst, "seq", seq)
	dst = inum(dst, "ts", ts)
	dst = str(dst, "text", text)
	return append(dst, '}')
}

// MessageParts is a message event cut where its seq goes: Message with
// seq n is head, then n in decimal, then tail. It lets a Broker fill in a
// seq it takes in the same step as it publishes (epchat.MessagePublisher).
func MessageParts(room, from string, ts int64, text string) (head, tail []byte) {
	head = begin(nil, "message", "", 64+len(room)+len(from))
	head = str(head, "room", room)
	head = str(head, "from", from)
	head = append(head, `,"seq":`...)
	tail = inum(make([]byte, 0, 40+len(text)), "ts", ts)
	tail = str(tail, "text", text)
	return head, append(tail, '}')
}

// MemberJoined appends a member_joined event.
func MemberJoined(dst []byte, room string, m Member) []byte {
	return MemberJoinedWith(dst, room, m, "")
}

// MemberJoinedWith appends a member_joined event that tells the public
// reference of the invite the member redeemed; none when ref is "".
func MemberJoinedWith(dst []byte, room string, m Member, ref string) []byte {
	dst = begin(dst, "member_joined", "", 64+len(room)+len(m.ID)+len(m.Nickname)+len(ref))
	dst = str(dst, "room", room)
	dst = append(dst, `,"member":`...)
	dst = member(dst, m)
	if ref != "" {
		dst = str(dst, "invite", ref)
	}
	return append(dst, '}')
}

// MemberLeft appends a member_left event.
func MemberLeft(dst []byte, room, member, reason string) []byte {
	dst = begin(dst, "member_left", "", 48+len(room)+len(member)+len(reason))
	dst = str(dst, "room", room)
	dst = str(dst, "member", member)
	dst = str(dst, "reason", reason)
	return append(dst, '}')
}

// RoomLeft appends a room_left event: the receiving member is out of the
// room (reason "kicked").
func RoomLeft(dst []byte, room, reason string) []byte {
	dst = begin(dst, "room_left", "", 32+len(room)+len(reason))
	dst = str(dst, "room", room)
	dst = str(dst, "reason", reason)
	return append(dst, '}')
}

// LockChanged appends a room_locked event.
func LockChanged(dst []byte, room string, locked bool) []byte {
	dst = begin(dst, "room_locked", "", 32+len(room))
	dst = str(dst, "room", room)
	if locked {
		return append(dst, `,"locked":true}`...)
	}
	return append(dst, `,"locked":false}`...)
}

// OwnerChanged appends an owner_changed event.
func OwnerChanged(dst []byte, room, owner string) []byte {
	dst = begin(dst, "owner_changed", "", 32+len(room)+len(owner))
	dst = str(dst, "room", room)
	dst = str(dst, "owner", owner)
	return append(dst, '}')
}

// RoomClosed appends a room_closed event.
func RoomClosed(dst []byte, room, reason string) []byte {
	dst = begin(dst, "room_closed", "", 32+len(room)+len(reason))
	dst = str(dst, "room", room)
	dst = str(dst, "reason", reason)
	return append(dst, '}')
}

// SessionEnded appends a session_ended event: the session was ended by
// end_session and the connection closes.
func SessionEnded(dst []byte) []byte {
	return append(begin(dst, "session_ended", "", 0), '}')
}

// SessionConnected appends a session_connected event: another connection
// presented the session's token; conns is the session's connections now.
func SessionConnected(dst []byte, conns int) []byte {
	dst = begin(dst, "session_connected", "", 24)
	dst = inum(dst, "connections", int64(conns))
	return append(dst, '}')
}

// History appends a history event.
func History(dst []byte, room, from, data string) []byte {
	dst = begin(dst, "history", "", 48+len(room)+len(from)+len(data))
	dst = str(dst, "room", room)
	dst = str(dst, "from", from)
	dst = str(dst, "data", data)
	return append(dst, '}')
}

// begin starts an event of about size bytes in dst.
func begin(dst []byte, typ, id string, size int) []byte {
	dst = slices.Grow(dst, size+len(typ)+len(id)+32)
	dst = append(dst, `{"type":"`...)
	dst = append(dst, typ...) // event names are plain ASCII
	dst = append(dst, '"')
	if id != "" {
		dst = str(dst, "id", id)
	}
	return dst
}

func member(dst []byte, m Member) []byte {
	dst = append(dst, `{"id":`...)
	dst = quote(dst, m.ID)
	dst = str(dst, "nickname", m.Nickname)
	return append(dst, '}')
}

func str(dst []byte, key, val string) []byte {
	dst = append(dst, ',', '"')
	dst = append(dst, key...)
	dst = append(dst, '"', ':')
	return quote(dst, val)
}

func num(dst []byte, key string, v uint64) []byte {
	dst = append(dst, ',', '"')
	dst = append(dst, key...)
	dst = append(dst, '"', ':')
	return strconv.AppendUint(dst, v, 10)
}

func inum(dst []byte, key string, v int64) []byte {
	dst = append(dst, ',', '"')
	dst = append(dst, key...)
	dst = append(dst, '"', ':')
	return strconv.AppendInt(dst, v, 10)
}

func boolean(dst []byte, key string, v bool) []byte {
	dst = append(dst, ',', '"')
	dst = append(dst, key...)
	dst = append(dst, '"', ':')
	return strconv.AppendBool(dst, v)
}

const hex = "0123456789abcdef"

// quote appends s as a JSON string. Invalid UTF-8 becomes U+FFFD, and
// U+2028 and U+2029 are escaped so the output is also valid JavaScript.
func quote(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

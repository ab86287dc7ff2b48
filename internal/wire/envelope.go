package wire

import (
	"encoding/binary"
	"errors"
)

// Kind says what a room event does to the receiving process's state,
// besides being delivered.
type Kind byte

// The kinds of room events.
const (
	KindMessage Kind = iota + 1 // deliver to the room
	KindJoined                  // User joined: subscribe their connections, then deliver
	KindLeft                    // User left: deliver, then unsubscribe them (and drop the room if Closed)
	KindClosed                  // deliver, then drop the room
	KindDirect                  // deliver to the connections of To only
	KindKicked                  // User was kicked: tell their connections room_left, the others Payload, then unsubscribe them (and drop the room if Closed)
	KindEnded                   // User ended the session: deliver to their connections, which then close
	KindSession                 // deliver to the connections of User, but Skip
	KindFollow                  // User joined Room: subscribe their connections not yet subscribed, and deliver to those only
)

// Envelope is a room event as it travels between Hub processes: the
// encoded event plus what each process needs to apply it.
type Envelope struct {
	Kind    Kind
	Closed  bool   // KindLeft, KindKicked: the room closed with this departure
	Node    string // the publishing Hub
	Skip    uint64 // a connection of Node not to deliver to (the requester), 0 for none
	Room    string
	User    string // KindJoined, KindLeft, KindKicked, KindEnded, KindSession, KindFollow
	To      string // KindDirect
	Payload []byte // the JSON event
}

const envelopeVersion = 1

// ErrEnvelope is returned for bytes that are not an envelope.
var ErrEnvelope = errors.New("wire: malformed envelope")

// AppendEnvelope appends the binary form of e to dst.
func AppendEnvelope(dst []byte, e *Envelope) []byte {
	flags := byte(0)
	if e.Closed {
		flags = 1
	}
	dst = append(dst, envelopeVersion, byte(e.Kind), flags)
	dst = binary.AppendUvarint(dst, e.Skip)
	for _, s := range []string{e.Node, e.Room, e.User, e.To} {
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	return append(dst, e.Payload...)
}

// DecodeEnvelope decodes b into e. e.Payload aliases b.
func DecodeEnvelope(b []byte, e *Envelope) error {
	if len(b) < 3 || b[0] != envelopeVersion {
		return ErrEnvelope
	}
	e.Kind, e.Closed = Kind(b[1]), b[2]&1 != 0
	b = b[3:]
	skip, n := binary.Uvarint(b)
	if n <= 0 {
		return ErrEnvelope
	}
	e.Skip, b = skip, b[n:]
	for _, s := range []*string{&e.Node, &e.Room, &e.User, &e.To} {
		l, n := binary.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < l {
			return ErrEnvelope
		}
		*s, b = string(b[n:n+int(l)]), b[n+int(l):]
	}
	e.Payload = b
	return nil
}

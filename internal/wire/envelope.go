package wire

import (
	"encoding/binary"
	"errors"
	"strconv"
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

// A batch is several envelopes published as one broker message (see
// epchat.MessageBatcher): each is its length in decimal, a colon and the
// envelope. It starts with a digit, an envelope with envelopeVersion.

// IsBatch reports whether b is a batch rather than one envelope.
func IsBatch(b []byte) bool { return len(b) > 0 && b[0] >= '1' && b[0] <= '9' }

// AppendBatched appends env to the batch dst.
func AppendBatched(dst, env []byte) []byte {
	dst = strconv.AppendInt(dst, int64(len(env)), 10)
	dst = append(dst, ':')
	return append(dst, env...)
}

// SplitBatch calls yield with each envelope of the batch b, in order,
// until yield returns false. It returns ErrEnvelope if b is not a
// well-formed batch; the envelopes before the fault have been yielded.
func SplitBatch(b []byte, yield func(env []byte) bool) error {
	for len(b) > 0 {
		n, i := 0, 0
		for ; i < len(b) && i < 10 && b[i] >= '0' && b[i] <= '9'; i++ {
			n = n*10 + int(b[i]-'0')
		}
		if i == 0 || i == len(b) || b[i] != ':' || b[0] == '0' || n > len(b)-i-1 {
			return ErrEnvelope
		}
		b = b[i+1:]
		if !yield(b[:n:n]) {
			return nil
		}
		b = b[n:]
	}
	return nil
}

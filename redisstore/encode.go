package redisstore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/epchat-go/epchat"
	"github.com/redis/go-redis/v9"
)

// The range of times encTime keeps exactly: time.UnixNano is defined
// within it. The Hub's clock never leaves it.
var (
	minTime = time.Unix(0, 0)
	maxTime = time.Unix(0, math.MaxInt64)
)

// encTime encodes t so that Lua can compare two times exactly (a double
// loses nanoseconds): "" for the zero time, which is before every other,
// and otherwise the Unix nanoseconds as 20 decimal digits. Times before
// 1970 are kept as 1970.
func encTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	var ns int64
	switch {
	case t.Before(minTime):
		ns = 0
	case t.After(maxTime):
		ns = math.MaxInt64
	default:
		ns = t.UnixNano()
	}
	var b [20]byte
	u := uint64(ns)
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = byte('0' + u%10)
		u /= 10
	}
	return string(b[:])
}

// msScore is the sorted-set score of an encoded time: its Unix milliseconds
// (exact in a double), "-inf" for the zero time. The scripts use the same
// rule (ms in the prelude).
func msScore(enc string) string {
	if enc == "" {
		return "-inf"
	}
	return enc[:14]
}

// decTime reverses encTime.
func decTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	ns, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("redisstore: bad time %q", s)
	}
	return time.Unix(0, ns), nil
}

func hexHash(h epchat.TokenHash) string { return hex.EncodeToString(h[:]) }

func parseHash(s string) (epchat.TokenHash, error) {
	var h epchat.TokenHash
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, errors.New("redisstore: bad token hash")
	}
	copy(h[:], b)
	return h, nil
}

// memberValue is how a seat's details are kept: "joined key\nnickname",
// key being the nickname's epchat.NicknameKey, which Redeem compares. An
// encoded time has no space, so the first space ends it; a key has no
// line feed (NicknameKey makes white space a space), so the first one
// after it ends the key.
func memberValue(m epchat.Member) string {
	return encTime(m.JoinedAt) + " " + epchat.NicknameKey(m.Nickname) + "\n" + m.Nickname
}

// splitMember reads a memberValue: the join time and the nickname.
func splitMember(v string) (joined, nick string) {
	joined, rest, _ := strings.Cut(v, " ")
	if _, n, ok := strings.Cut(rest, "\n"); ok {
		return joined, n
	}
	return joined, rest // written before keys were kept
}

// errCodes maps the scripts' error replies ("EPCHAT code") to the sentinels.
var errCodes = map[string]error{
	"notfound":       epchat.ErrNotFound,
	"exists":         epchat.ErrExists,
	"toomanyusers":   epchat.ErrTooManyUsers,
	"full":           epchat.ErrRoomFull,
	"invalid":        epchat.ErrInviteInvalid,
	"toomanyinvites": epchat.ErrTooManyInvites,
	"notmember":      epchat.ErrNotMember,
	"already":        epchat.ErrAlreadyMember,
	"forbidden":      epchat.ErrForbidden,
	"toomanyrooms":   epchat.ErrTooManyRooms,
	"locked":         epchat.ErrRoomLocked,
	"nicknametaken":  epchat.ErrNicknameTaken,
	"lost":           errLost,
}

// errLost is the error of a call that found Redis had lost the
// deployment's data (restarted empty, flushed): the Store tells its
// watchers and carries on with the new, empty data.
var errLost = errors.New("redisstore: Redis lost the deployment's data (restarted or flushed)")

// mapErr turns a rule refusal into its sentinel and wraps any other error.
// A failure to reach Redis (a timeout, a refused or broken connection, a
// Cluster without a master for the slot) and a call that found the data
// lost also wrap epchat.ErrUnavailable: the Hub answers unavailable, and
// the call may be tried again. Other server errors wrap as they are.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var re redis.Error
	if errors.As(err, &re) {
		msg := re.Error()
		if code, ok := strings.CutPrefix(msg, "EPCHAT "); ok {
			if s, ok := errCodes[code]; ok {
				if s == errLost {
					return fmt.Errorf("%w: %w", epchat.ErrUnavailable, errLost)
				}
				return s
			}
		}
		for _, p := range []string{"LOADING", "BUSY", "CLUSTERDOWN", "MASTERDOWN", "TRYAGAIN"} {
			if strings.HasPrefix(msg, p) {
				return fmt.Errorf("redisstore: %w: %w", epchat.ErrUnavailable, err)
			}
		}
		return fmt.Errorf("redisstore: %w", err)
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("redisstore: %w", err) // the Hub is shutting down
	}
	return fmt.Errorf("redisstore: %w: %w", epchat.ErrUnavailable, err)
}

// errReply is returned when a script's reply is not shaped as expected.
var errReply = errors.New("redisstore: unexpected reply")

// reply reads a script's reply, value by value, remembering the first
// problem so that the parsers stay linear.
type reply struct {
	vals []any
	i    int
	err  error
}

func (r *reply) more() bool { return r.err == nil && r.i < len(r.vals) }

func (r *reply) next() any {
	if r.err != nil {
		return nil
	}
	if r.i >= len(r.vals) {
		r.err = errReply
		return nil
	}
	v := r.vals[r.i]
	r.i++
	return v
}

func (r *reply) str() string {
	switch v := r.next().(type) {
	case string:
		return v
	case nil:
		return ""
	case int64:
		return strconv.FormatInt(v, 10)
	default:
		r.err = errReply
		return ""
	}
}

func (r *reply) int() int64 {
	switch v := r.next().(type) {
	case int64:
		return v
	case string:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			r.err = errReply
		}
		return n
	default:
		r.err = errReply
		return 0
	}
}

func (r *reply) uint() uint64 {
	switch v := r.next().(type) {
	case int64:
		return uint64(v)
	case string:
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			r.err = errReply
		}
		return n
	default:
		r.err = errReply
		return 0
	}
}

func (r *reply) time() time.Time {
	t, err := decTime(r.str())
	if err != nil && r.err == nil {
		r.err = err
	}
	return t
}

func (r *reply) list() *reply {
	v, ok := r.next().([]any)
	if !ok && r.err == nil {
		r.err = errReply
	}
	return &reply{vals: v, err: r.err}
}

// room reads a roomReply: the room, then its members in join order.
func (r *reply) room() (epchat.Room, []epchat.Member) {
	room := epchat.Room{
		ID:        r.str(),
		Owner:     r.str(),
		Limit:     int(r.int()),
		CreatedAt: r.time(),
		ActiveAt:  r.time(),
		Seq:       r.uint(),
		Locked:    r.int() == 1,
	}
	var ms []epchat.Member
	for r.more() {
		id := r.str()
		joined, nick := splitMember(r.str())
		t, err := decTime(joined)
		if err != nil && r.err == nil {
			r.err = err
		}
		ms = append(ms, epchat.Member{ID: id, Nickname: nick, JoinedAt: t})
	}
	return room, ms
}

// leave reads a leave result: room, user, new owner, closed (0/1).
func (r *reply) leave() epchat.LeaveResult {
	return epchat.LeaveResult{
		Room:     r.str(),
		User:     r.str(),
		NewOwner: r.str(),
		Closed:   r.int() == 1,
	}
}

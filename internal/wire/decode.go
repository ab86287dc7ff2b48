package wire

import (
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth bounds the nesting of values in fields a request does not use.
const maxDepth = 32

// DecodeRequest decodes p into r. It fails with ErrBadRequest when p is not
// one JSON object, a known field is not a string (a null is no value: it
// leaves the field as it was, absent or not),
// type is missing, a value nests deeper than 32 levels, or id is longer
// than MaxIDLen. On failure r.ID holds the request id whenever p is a JSON
// object whose id is a string, wherever id stands: a field of the wrong
// type does not stop the reading (as with encoding/json), only broken
// syntax does, and then the id is kept if it came before it. So the error
// can still name the request.
//
// It is hand-written rather than encoding/json: a request is decoded per
// message on the hot path, and this costs one allocation per string field
// and no reflection. Field names match exactly (encoding/json would also
// accept other cases); the last of duplicate fields wins.
func DecodeRequest(p []byte, r *Request) error {
	*r = Request{}
	d := decoder{b: p}
	if err := d.request(r); err != nil {
		if len(r.ID) > MaxIDLen {
			r.ID = ""
		}
		keep := r.ID
		*r = Request{ID: keep}
		return err
	}
	if len(r.ID) > MaxIDLen {
		r.ID = ""
		return ErrBadRequest
	}
	if r.Type == "" {
		return ErrBadRequest
	}
	return nil
}

type decoder struct {
	b []byte
	i int
}

func (d *decoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *decoder) peek() byte {
	d.ws()
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

func (d *decoder) request(r *Request) error {
	if d.peek() != '{' {
		return ErrBadRequest
	}
	d.i++
	if d.peek() == '}' {
		d.i++
		return d.end()
	}
	// wrongType is set by a known field that is not a string: the request
	// is bad, but the rest is read for its id.
	wrongType := false
	for {
		if d.peek() != '"' {
			return ErrBadRequest
		}
		key, ok := d.rawKey()
		if !ok || d.peek() != ':' {
			return ErrBadRequest
		}
		d.i++
		if f, bit := r.field(key); f != nil {
			switch d.peek() {
			case '"':
				s, ok := d.str(true)
				if !ok {
					return ErrBadRequest
				}
				*f = s
				r.Has |= bit
			case 'n':
				if !d.lit("null") {
					return ErrBadRequest
				}
				// As encoding/json does: a null is no value, and
				// leaves the field as it was.
			default:
				if !d.skip(0) {
					return ErrBadRequest
				}
				wrongType = true
			}
		} else if !d.skip(0) {
			return ErrBadRequest
		}
		switch d.peek() {
		case ',':
			d.i++
		case '}':
			d.i++
			if err := d.end(); err != nil || !wrongType {
				return err
			}
			return ErrBadRequest
		default:
			return ErrBadRequest
		}
	}
}

func (d *decoder) end() error {
	d.ws()
	if d.i != len(d.b) {
		return ErrBadRequest
	}
	return nil
}

// field returns the field named by key and its bit, or nil for an
// unknown key.
func (r *Request) field(key []byte) (*string, Fields) {
	switch string(key) { // no allocation: the compiler compares in place
	case "type":
		return &r.Type, FieldType
	case "id":
		return &r.ID, FieldID
	case "nickname":
		return &r.Nickname, FieldNickname
	case "token":
		return &r.Token, FieldToken
	case "room":
		return &r.Room, FieldRoom
	case "text":
		return &r.Text, FieldText
	case "to":
		return &r.To, FieldTo
	case "data":
		return &r.Data, FieldData
	case "member":
		return &r.Member, FieldMember
	case "verifier":
		return &r.Verifier, FieldVerifier
	}
	return nil, 0
}

// rawKey reads a key without unescaping; an escaped key matches no field
// and is skipped like any unknown one.
func (d *decoder) rawKey() ([]byte, bool) {
	start := d.i + 1
	if _, ok := d.str(false); !ok {
		return nil, false
	}
	return d.b[start : d.i-1], true
}

// known request types, so that decoding type allocates nothing.
var types = []string{"hello", "create", "invite", "join", "send", "members", "leave", "close", "history", "kick", "lock", "unlock"}

// str reads a string starting at the quote. With keep, it returns the
// unescaped value; without, it only checks and skips it.
func (d *decoder) str(keep bool) (string, bool) {
	d.i++ // opening quote
	start := d.i
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			s := d.b[start:d.i]
			d.i++
			if !keep {
				return "", true
			}
			for _, t := range types {
				if string(s) == t {
					return t, true
				}
			}
			return string(s), true
		case c == '\\':
			return d.escaped(start, keep)
		case c < 0x20:
			return "", false
		}
		d.i++
	}
	return "", false
}

// escaped finishes a string that has escapes, from its first backslash.
func (d *decoder) escaped(start int, keep bool) (string, bool) {
	var out []byte
	if keep {
		out = append(make([]byte, 0, 2*(d.i-start)+16), d.b[start:d.i]...)
	}
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			return string(out), true
		case c < 0x20:
			return "", false
		case c != '\\':
			out = append(out, c)
			d.i++
			continue
		}
		if d.i+1 >= len(d.b) {
			return "", false
		}
		e := d.b[d.i+1]
		d.i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := d.hex4()
			if !ok {
				return "", false
			}
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if d.i+1 < len(d.b) && d.b[d.i] == '\\' && d.b[d.i+1] == 'u' {
					save := d.i
					d.i += 2
					if r2, ok = d.hex4(); !ok {
						return "", false
					}
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						out = utf8.AppendRune(out, dec)
						continue
					}
					d.i = save // not a pair: the second escape stands alone
				}
				r = utf8.RuneError
			}
			out = utf8.AppendRune(out, r)
		default:
			return "", false
		}
	}
	return "", false
}

func (d *decoder) hex4() (rune, bool) {
	if d.i+4 > len(d.b) {
		return 0, false
	}
	var r rune
	for _, c := range d.b[d.i : d.i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	d.i += 4
	return r, true
}

func (d *decoder) lit(s string) bool {
	if len(d.b)-d.i < len(s) || string(d.b[d.i:d.i+len(s)]) != s {
		return false
	}
	d.i += len(s)
	return true
}

// skip checks and skips one value.
func (d *decoder) skip(depth int) bool {
	if depth > maxDepth {
		return false
	}
	switch c := d.peek(); {
	case c == '"':
		_, ok := d.str(false)
		return ok
	case c == '{':
		d.i++
		if d.peek() == '}' {
			d.i++
			return true
		}
		for {
			if d.peek() != '"' {
				return false
			}
			if _, ok := d.str(false); !ok || d.peek() != ':' {
				return false
			}
			d.i++
			if !d.skip(depth + 1) {
				return false
			}
			switch d.peek() {
			case ',':
				d.i++
			case '}':
				d.i++
				return true
			default:
				return false
			}
		}
	case c == '[':
		d.i++
		if d.peek() == ']' {
			d.i++
			return true
		}
		for {
			if !d.skip(depth + 1) {
				return false
			}
			switch d.peek() {
			case ',':
				d.i++
			case ']':
				d.i++
				return true
			default:
				return false
			}
		}
	case c == 't':
		return d.lit("true")
	case c == 'f':
		return d.lit("false")
	case c == 'n':
		return d.lit("null")
	case c == '-' || ('0' <= c && c <= '9'):
		return d.number()
	}
	return false
}

// number skips a JSON number, checking its grammar.
func (d *decoder) number() bool {
	digits := func() int {
		n := 0
		for d.i < len(d.b) && '0' <= d.b[d.i] && d.b[d.i] <= '9' {
			d.i++
			n++
		}
		return n
	}
	if d.b[d.i] == '-' {
		d.i++
	}
	if d.i < len(d.b) && d.b[d.i] == '0' {
		d.i++
	} else if digits() == 0 {
		return false
	}
	if d.i < len(d.b) && d.b[d.i] == '.' {
		d.i++
		if digits() == 0 {
			return false
		}
	}
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i++
		if d.i < len(d.b) && (d.b[d.i] == '+' || d.b[d.i] == '-') {
			d.i++
		}
		if digits() == 0 {
			return false
		}
	}
	return true
}

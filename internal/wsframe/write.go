package wsframe

import (
	"encoding/binary"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// TextHeaderLen returns the size of the header AppendText writes before a
// payload of n bytes: 2, 4 or 10. It lets a caller reserve the room for a
// header in front of a payload it is about to write.
func TextHeaderLen(n int) int {
	switch {
	case n < 126:
		return 2
	case n <= 0xffff:
		return 4
	default:
		return 10
	}
}

// AppendText appends to dst a server-to-client text frame holding payload,
// which the caller guarantees is valid UTF-8.
func AppendText(dst, payload []byte) []byte {
	return AppendFrame(dst, ws.OpText, payload)
}

// AppendFrame appends to dst one unmasked frame with the FIN bit set, opcode
// op and payload, the form a server sends. It panics if op is a control
// opcode and payload is longer than 125 bytes: such a frame is invalid, and
// only a programming error can ask for one.
func AppendFrame(dst []byte, op ws.OpCode, payload []byte) []byte {
	n := len(payload)
	if op.IsControl() && n > ws.MaxControlFramePayloadSize {
		panic("wsframe: control frame payload over 125 bytes")
	}
	b0 := 0x80 | byte(op)
	switch {
	case n < 126:
		dst = append(dst, b0, byte(n))
	case n <= 0xffff:
		dst = append(dst, b0, 126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, b0, 127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	return append(dst, payload...)
}

// maxCloseReason is the longest reason that fits a close frame's payload
// after its 2-byte code.
const maxCloseReason = ws.MaxControlFramePayloadSize - 2

// AppendClose appends to dst a close frame with code and reason. A reason
// longer than 123 bytes is cut, on a rune boundary, to fit the 125-byte
// limit of a control payload. Code 0 or ws.StatusNoStatusRcvd (1005) gives a
// close frame with no payload, which is how RFC 6455 says "no code": 1005
// itself must never be sent. So the code a Handler's OnClose received can
// be echoed as it is.
func AppendClose(dst []byte, code ws.StatusCode, reason string) []byte {
	if code == 0 || code == ws.StatusNoStatusRcvd {
		return append(dst, 0x80|byte(ws.OpClose), 0)
	}
	if len(reason) > maxCloseReason {
		// Back up over at most 3 continuation bytes: the most a rune
		// has. A reason that is not UTF-8 must not be cut further.
		cut := maxCloseReason
		for cut > maxCloseReason-3 && !utf8.RuneStart(reason[cut]) {
			cut--
		}
		reason = reason[:cut]
	}
	dst = append(dst, 0x80|byte(ws.OpClose), byte(2+len(reason)))
	dst = binary.BigEndian.AppendUint16(dst, uint16(code))
	return append(dst, reason...)
}

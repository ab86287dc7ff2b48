// Package wsframe reads and writes RFC 6455 WebSocket frames on the server
// side of a connection, without a goroutine or a buffer of its own between
// messages.
//
// A Reader is fed whatever bytes arrived on the socket, in chunks of any
// size, and calls a Handler for each complete text message and control
// frame. It is strict: every violation of RFC 6455 (and of epchat's rules:
// text only, bounded size) ends the stream with a CloseError naming the
// close code to send. An idle Reader holds no buffer, so a connection that
// sends nothing costs only the Reader's few dozen bytes.
//
// The Append functions build server-to-client frames (unmasked, final) into
// a caller's slice.
package wsframe

import (
	"strconv"

	"github.com/gobwas/ws"
)

// CloseError is a violation found by a Reader: the close code to send to
// the peer and a short fixed reason for the close frame. The reason never
// contains peer data, so it may be sent and logged as it is.
type CloseError struct {
	Code   ws.StatusCode
	Reason string
}

// Error returns the reason and the code.
func (e *CloseError) Error() string {
	return "wsframe: " + e.Reason + " (close " + strconv.Itoa(int(e.Code)) + ")"
}

// Violations a Reader reports. Feed returns these values themselves, so they
// can be matched with errors.Is; errors.As gives the code to send.
var (
	// ErrReservedBits: an RSV bit is set, and no extension is ever negotiated.
	ErrReservedBits = &CloseError{ws.StatusProtocolError, "reserved bits set"}
	// ErrReservedOpCode: the opcode is one RFC 6455 reserves.
	ErrReservedOpCode = &CloseError{ws.StatusProtocolError, "reserved opcode"}
	// ErrUnmasked: a client frame without a masking key.
	ErrUnmasked = &CloseError{ws.StatusProtocolError, "frame not masked"}
	// ErrControlFragmented: a control frame without the FIN bit.
	ErrControlFragmented = &CloseError{ws.StatusProtocolError, "fragmented control frame"}
	// ErrControlTooLong: a control frame with more than 125 bytes of payload.
	ErrControlTooLong = &CloseError{ws.StatusProtocolError, "control frame too long"}
	// ErrContinuation: a continuation frame with no fragmented message open.
	ErrContinuation = &CloseError{ws.StatusProtocolError, "unexpected continuation frame"}
	// ErrInterleaved: a new data frame while a fragmented message is open.
	ErrInterleaved = &CloseError{ws.StatusProtocolError, "data frame inside fragmented message"}
	// ErrLength: a 64-bit payload length with its most significant bit set.
	ErrLength = &CloseError{ws.StatusProtocolError, "invalid payload length"}
	// ErrCloseLength: a close frame with a 1-byte payload.
	ErrCloseLength = &CloseError{ws.StatusProtocolError, "close payload of 1 byte"}
	// ErrCloseCode: a close frame with a status code a peer may not send.
	ErrCloseCode = &CloseError{ws.StatusProtocolError, "invalid close code"}
	// ErrCloseReason: a close frame whose reason is not valid UTF-8.
	ErrCloseReason = &CloseError{ws.StatusProtocolError, "invalid UTF-8 in close reason"}
	// ErrBinary: a binary message; epchat speaks text only.
	ErrBinary = &CloseError{ws.StatusUnsupportedData, "binary messages not accepted"}
	// ErrInvalidUTF8: a text message that is not valid UTF-8.
	ErrInvalidUTF8 = &CloseError{ws.StatusInvalidFramePayloadData, "invalid UTF-8 in text message"}
	// ErrFrameTooBig: a frame declares more payload than Reader.MaxFrame.
	ErrFrameTooBig = &CloseError{ws.StatusMessageTooBig, "frame too big"}
	// ErrMessageTooBig: a message would exceed Reader.MaxMessage.
	ErrMessageTooBig = &CloseError{ws.StatusMessageTooBig, "message too big"}
)

// ValidCloseCode reports whether a peer may send code in a close frame:
// 1000-1003, 1007-1014 (the codes registered with IANA) and 3000-4999.
// 1004, 1005, 1006 and 1015 are reserved and must never be sent; the rest
// of 1000-2999 is unassigned; below 1000 and from 5000 up are not in use.
//
// ws.CheckCloseFrameData is not used: it lets 5000 and above through and
// refuses 1012-1014.
func ValidCloseCode(code ws.StatusCode) bool {
	switch {
	case code >= 1000 && code <= 1003:
		return true
	case code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

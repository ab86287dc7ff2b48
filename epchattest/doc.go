// Package epchattest is a test client of the epchat wire protocol, for
// the tests of a host application that mounts an epchat Hub: it drives
// the Hub over a real WebSocket as a browser would, written from
// PROTOCOL.md alone. The tests of every epchat module use it, the stores'
// and the examples' included.
//
// A Client checks what the server sends (final, unmasked frames; text
// that is valid UTF-8 JSON), answers pings as browsers do unless told not
// to, queues the events it reads and records the close code it receives.
// Its requests get ids of their own, and Call returns the reply with the
// same id, whatever events come in between. Waits are bounded by Wait: a
// deadline for failure, never a sleep. A Client fails the test through
// its testing.TB, and is closed when the test ends.
//
// Clock is a clock for epchat.WithClock that only the test moves, for the
// time rules (invite TTL, idle rooms, reconnect grace, keepalive) to be
// tested without sleeping: Advance returns once the Hub has applied them
// at the new time.
//
// Some methods are for tests of how a server copes with a client that
// misbehaves: Pause (a peer that stops reading), NoPong, WriteFrame and
// WriteRaw (frames built by hand).
//
// The package depends on the standard library and gobwas/ws only.
package epchattest

// Package netpoll tells when sockets can be read or written, without a
// goroutine per socket: one goroutine waits on epoll (Linux) for every
// watched socket, and a small pool of workers runs the callbacks.
//
// The caller owns each socket as a raw descriptor (see Detach), so a
// watched connection costs no net.Conn, no runtime poll descriptor and no
// deadline timers: only its Desc, which the caller embeds.
//
// Each watched socket is armed one-shot: after its callback runs, it gets
// no further callback until it calls Resume. So one socket's callbacks
// never run concurrently, and a callback may read the socket with
// non-blocking reads until EAGAIN, then Resume. A writer that meets EAGAIN
// calls WantWrite and gets one Writable callback when the socket takes
// bytes again.
//
// Where epoll is missing, New returns ErrUnsupported and callers fall back
// to a blocking read per connection.
package netpoll

import "errors"

// ErrUnsupported is returned by New where there is no epoll.
var ErrUnsupported = errors.New("netpoll: not supported on this platform")

// ErrClosed is returned for calls on a closed Poller or a removed Desc.
var ErrClosed = errors.New("netpoll: poller closed")

// Event tells a callback why it runs. Several may come at once.
type Event uint8

const (
	// Readable: the socket has bytes to read, or the peer closed it, or it
	// failed; a read says which.
	Readable Event = 1 << iota
	// Writable: the socket takes bytes again (or failed) after WantWrite.
	Writable
	// Woken: Wake was called.
	Woken
)

// Handler is told when a watched socket is ready.
type Handler interface {
	OnReady(d *Desc, ev Event)
}

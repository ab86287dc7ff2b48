// Package netpoll tells when connections have bytes to read, without a
// goroutine per connection: one goroutine waits on epoll (Linux) for every
// watched socket, and a small pool of workers runs the callbacks.
//
// Each watched connection is armed one-shot: after its callback runs, it
// gets no further callback until it calls Resume. So one connection's
// callbacks never run concurrently, and a callback may read the socket with
// non-blocking reads until EAGAIN, then Resume.
//
// Where epoll is missing, New returns ErrUnsupported and callers fall back
// to a blocking read per connection.
package netpoll

import (
	"errors"
	"syscall"
)

// ErrUnsupported is returned by New where there is no epoll.
var ErrUnsupported = errors.New("netpoll: not supported on this platform")

// ErrClosed is returned for calls on a closed Poller.
var ErrClosed = errors.New("netpoll: poller closed")

// Read does one non-blocking read from c into p. It returns
// syscall.EAGAIN when there is nothing to read now, and io.EOF-like
// (0, nil) at end of stream.
func Read(c syscall.RawConn, p []byte) (int, error) {
	var (
		n    int
		rerr error
	)
	err := c.Read(func(fd uintptr) bool {
		n, rerr = syscall.Read(int(fd), p)
		return true // never park: the poller tells when to read again
	})
	if err != nil {
		return 0, err
	}
	if n < 0 {
		n = 0
	}
	return n, rerr
}

// Write does one non-blocking write of p to c. It returns syscall.EAGAIN
// when the socket takes nothing now, and a short count when it takes part.
func Write(c syscall.RawConn, p []byte) (int, error) {
	var (
		n    int
		werr error
	)
	err := c.Write(func(fd uintptr) bool {
		n, werr = syscall.Write(int(fd), p)
		return true // never park
	})
	if err != nil {
		return 0, err
	}
	if n < 0 {
		n = 0
	}
	return n, werr
}

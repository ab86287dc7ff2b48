//go:build !linux

package netpoll

import "syscall"

// Poller is not available on this platform.
type Poller struct{}

// Desc is not available on this platform.
type Desc struct{}

// New returns ErrUnsupported.
func New(int) (*Poller, error) { return nil, ErrUnsupported }

// Add is never called: New failed.
func (*Poller) Add(syscall.RawConn, func(*Desc)) (*Desc, error) { return nil, ErrUnsupported }

// Close does nothing.
func (*Poller) Close() error { return nil }

// Resume is never called.
func (*Desc) Resume() error { return ErrUnsupported }

// Wake does nothing.
func (*Desc) Wake() {}

// Remove does nothing.
func (*Desc) Remove() {}

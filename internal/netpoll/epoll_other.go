//go:build !linux

package netpoll

import "net"

// Poller is not available on this platform.
type Poller struct{}

// Desc is not available on this platform.
type Desc struct{ fd int32 }

// SetFD names d's descriptor.
func (d *Desc) SetFD(fd int) { d.fd = int32(fd) }

// FD returns the descriptor set by SetFD.
func (d *Desc) FD() int { return int(d.fd) }

// New returns ErrUnsupported.
func New(int) (*Poller, error) { return nil, ErrUnsupported }

// Add is never called: New failed.
func (*Poller) Add(*Desc, Handler) error { return ErrUnsupported }

// Close does nothing.
func (*Poller) Close() error { return nil }

// Resume is never called.
func (*Desc) Resume() error { return ErrUnsupported }

// WantWrite is never called.
func (*Desc) WantWrite() error { return ErrUnsupported }

// Wake does nothing.
func (*Desc) Wake() {}

// Blocking is Desc.Blocking; without epoll there is no pool.
func (*Desc) Blocking() {}

// Remove does nothing.
func (*Desc) Remove() {}

// Detach returns ErrUnsupported.
func Detach(net.Conn) (int, error) { return -1, ErrUnsupported }

// Read is never called.
func Read(int, []byte) (int, error) { return 0, ErrUnsupported }

// Write is never called.
func Write(int, []byte) (int, error) { return 0, ErrUnsupported }

// Writev is never called.
func Writev(int, [][]byte) (int, error) { return 0, ErrUnsupported }

// Shutdown is never called.
func Shutdown(int, bool) error { return ErrUnsupported }

// Close is never called.
func Close(int) error { return ErrUnsupported }

// Unsent is not known here.
func Unsent(int) (int, bool) { return 0, false }

// UnsentConn is not known here.
func UnsentConn(net.Conn) (int, bool) { return 0, false }

// Progress does nothing here.
func (*Poller) Progress() {}

// SetStuckExtraLimit is the Linux one's twin; without epoll there is no
// pool.
func SetStuckExtraLimit(int32) (restore func()) { return func() {} }

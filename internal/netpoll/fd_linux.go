//go:build linux

package netpoll

import (
	"net"
	"syscall"
	"unsafe"
)

// Detach takes the socket out of c for a caller that will watch it with a
// Poller: it returns a descriptor of the caller's own for the same socket,
// non-blocking and close-on-exec, and closes c, which so stops costing its
// net.Conn, its runtime poll descriptor and its timers. The caller closes
// the descriptor with Close. ErrUnsupported when c is not a plain socket
// (TLS, for one): the caller keeps using c.
func Detach(c net.Conn) (int, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return -1, ErrUnsupported
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	nfd, derr := -1, error(nil)
	err = raw.Control(func(fd uintptr) {
		r, _, e := syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_DUPFD_CLOEXEC, 0)
		if e != 0 {
			derr = e
			return
		}
		nfd = int(r)
	})
	if err == nil {
		err = derr
	}
	if err != nil {
		return -1, err
	}
	// O_NONBLOCK belongs to the open file, which the copy shares; say it
	// anyway rather than rely on how net opened it.
	if err := syscall.SetNonblock(nfd, true); err != nil {
		syscall.Close(nfd)
		return -1, err
	}
	c.Close() // the copy keeps the socket open
	return nfd, nil
}

// Read does one non-blocking read from fd into p. It returns
// syscall.EAGAIN when there is nothing to read now, and (0, nil) at the end
// of the stream.
func Read(fd int, p []byte) (int, error) {
	for {
		n, err := syscall.Read(fd, p)
		if err == syscall.EINTR {
			continue
		}
		return max(n, 0), err
	}
}

// Write does one non-blocking write of p to fd. It returns syscall.EAGAIN
// when the socket takes nothing now, and a short count when it takes part.
func Write(fd int, p []byte) (int, error) {
	for {
		n, err := syscall.Write(fd, p)
		if err == syscall.EINTR {
			continue
		}
		return max(n, 0), err
	}
}

// iovMax is the most buffers one writev is given.
const iovMax = 64

// Writev writes bufs to fd, in order, with as few non-blocking writev
// calls as it takes, until all is written or the socket takes no more. It
// returns how many bytes went out, and syscall.EAGAIN if not all did.
func Writev(fd int, bufs [][]byte) (int, error) {
	var iov [iovMax]syscall.Iovec
	total := 0
	i, off := 0, 0 // what is left starts at bufs[i][off:]
	for {
		k := 0
		for j := i; j < len(bufs) && k < iovMax; j++ {
			b := bufs[j]
			if j == i {
				b = b[off:]
			}
			if len(b) > 0 {
				iov[k].Base = &b[0]
				iov[k].SetLen(len(b))
				k++
			}
		}
		if k == 0 {
			return total, nil
		}
		r, _, e := syscall.Syscall(syscall.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(k))
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			return total, e
		}
		n := int(r)
		total += n
		for i < len(bufs) && n >= len(bufs[i])-off {
			n -= len(bufs[i]) - off
			i, off = i+1, 0
		}
		off += n
	}
}

// Shutdown shuts the socket down for writing, or for both directions: the
// peer reads the end of the stream, and a blocked or later read of ours
// returns it too, waking a watch. The descriptor stays valid until Close.
func Shutdown(fd int, both bool) error {
	how := syscall.SHUT_WR
	if both {
		how = syscall.SHUT_RDWR
	}
	return syscall.Shutdown(fd, how)
}

// Close closes a descriptor from Detach. Remove its watch first.
func Close(fd int) error { return syscall.Close(fd) }

// Unsent returns how many bytes the kernel holds for the socket fd that
// its peer has not acknowledged yet (SIOCOUTQ, which is TIOCOUTQ): what a slow reader still
// has to take before anything written now reaches it.
func Unsent(fd int) (int, bool) {
	var n int32
	_, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.TIOCOUTQ, uintptr(unsafe.Pointer(&n)))
	return int(n), e == 0
}

// UnsentConn is Unsent for a socket inside a net.Conn; false when c is not
// a plain socket (TLS, for one).
func UnsentConn(c net.Conn) (int, bool) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0, false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, false
	}
	n, ok := 0, false
	if raw.Control(func(fd uintptr) { n, ok = Unsent(int(fd)) }) != nil {
		return 0, false
	}
	return n, ok
}

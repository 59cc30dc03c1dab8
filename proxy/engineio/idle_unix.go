//go:build unix

package engineio

import "syscall"

// socketReadable reports whether fd has data, an end of stream or an
// error pending, peeking without consuming. RawConn.Read waits for
// readiness while it returns false. Checking, rather than waiting at once,
// matters: RawConn.Read first clears a readiness notification that arrived
// before the call.
func socketReadable(fd uintptr) bool {
	var b [1]byte
	_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return err != syscall.EAGAIN && err != syscall.EWOULDBLOCK && err != syscall.EINTR
}

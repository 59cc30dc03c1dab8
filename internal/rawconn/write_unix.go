//go:build unix

package rawconn

import "syscall"

// Write writes p to the descriptor fd without waiting for it to become
// writable: a socket that takes only part of p returns how much it took,
// one that takes nothing returns syscall.EAGAIN. A write interrupted by a
// signal is retried. Call it only inside a syscall.RawConn Read or Write
// callback, which keeps fd open and in non-blocking mode.
func Write(fd uintptr, p []byte) (int, error) {
	for {
		n, err := syscall.Write(int(fd), p)
		if err != syscall.EINTR {
			return n, err
		}
	}
}

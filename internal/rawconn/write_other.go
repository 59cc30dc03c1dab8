//go:build !unix

package rawconn

import "syscall"

// Write writes nothing and returns syscall.EAGAIN: without a portable
// non-blocking write, the caller writes p through net.Conn, as it does
// when a unix socket cannot take p at once.
func Write(fd uintptr, p []byte) (int, error) {
	return 0, syscall.EAGAIN
}

// Package rawconn holds the system calls iobridge makes on a connection's
// descriptor from inside a syscall.RawConn callback, where net.Conn would
// wait or would cost a call of its own: the engineio cork's write that must
// not wait, and the webhook request written before the wait for its answer.
//
// On unix systems Write is one write(2). Elsewhere (Windows) it writes
// nothing and reports syscall.EAGAIN, so that callers write through
// net.Conn, as they do for a connection that cannot take a write at once:
// behaviour stays the same there, only the system calls saved are not.
package rawconn

//go:build !unix

package rawconn

// writes: Write makes no system call here.
const writes = false

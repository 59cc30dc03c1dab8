//go:build unix

package rawconn

// writes: Write makes the system call here.
const writes = true

//go:build !unix

package engineio

// socketReadable without a portable peek: do not wait, let ReadMessage
// block.
func socketReadable(uintptr) bool { return true }

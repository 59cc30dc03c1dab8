package engineio

import (
	"bufio"
	"syscall"
	"testing"
)

// TestIdleReaderLendsBuffer: a parked reader holds no read buffer; it gets
// one back, reading from the same connection, when data arrives.
func TestIdleReaderLendsBuffer(t *testing.T) {
	client, server := tcpPair(t)
	raw, err := server.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	br := new(bufio.Reader)
	r := idleReader{br: br, raw: raw, src: server, lent: lendBuffer(br, server)}
	if got := br.Size(); got != wsReadBufferSize {
		t.Fatalf("lent buffer size = %d, want %d", got, wsReadBufferSize)
	}
	r.release()
	if got := br.Size(); got != 0 || r.lent != nil {
		t.Fatalf("after release: size %d, lent %v; want 0, nil", got, r.lent)
	}
	if _, err := client.Write([]byte("hi")); err != nil {
		t.Fatal(err)
	}
	r.wait()
	if got := br.Size(); got != wsReadBufferSize {
		t.Fatalf("after wait: buffer size = %d, want %d", got, wsReadBufferSize)
	}
	b := make([]byte, 2)
	if _, err := br.Read(b); err != nil || string(b) != "hi" {
		t.Fatalf("Read = %q, %v; want \"hi\"", b, err)
	}
	if !r.idle() {
		t.Fatal("idle() = false with nothing buffered")
	}
}

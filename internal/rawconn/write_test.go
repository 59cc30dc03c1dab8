package rawconn

import (
	"bytes"
	"io"
	"net"
	"syscall"
	"testing"
)

func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// write calls Write once inside a RawConn.Write callback.
func write(t *testing.T, c net.Conn, p []byte) (int, error) {
	t.Helper()
	raw, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var werr error
	if err := raw.Write(func(fd uintptr) bool {
		n, werr = Write(fd, p)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	return n, werr
}

// TestWrite: where the platform writes (unix), the bytes reach the peer;
// elsewhere Write takes nothing and says EAGAIN, and the caller's
// net.Conn write delivers them.
func TestWrite(t *testing.T) {
	client, server := tcpPair(t)
	msg := []byte("hello")
	n, err := write(t, server, msg)
	switch {
	case writes && (n != len(msg) || err != nil):
		t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(msg))
	case !writes && (n != 0 || err != syscall.EAGAIN):
		t.Fatalf("Write = %d, %v; want 0, EAGAIN", n, err)
	case !writes:
		if _, err := server.Write(msg); err != nil {
			t.Fatal(err)
		}
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(client, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("peer read %q, %v; want %q", got, err, msg)
	}
}

// TestWriteDoesNotWait: a socket whose peer reads nothing fills up, and
// Write then returns EAGAIN instead of waiting.
func TestWriteDoesNotWait(t *testing.T) {
	_, server := tcpPair(t)
	chunk := make([]byte, 1<<20)
	for i := 0; ; i++ {
		if i == 1024 {
			t.Fatal("1 GiB written to a peer that reads nothing, no EAGAIN")
		}
		n, err := write(t, server, chunk)
		if err == syscall.EAGAIN {
			return
		}
		if err != nil || n <= 0 {
			t.Fatalf("Write = %d, %v; want progress or EAGAIN", n, err)
		}
	}
}

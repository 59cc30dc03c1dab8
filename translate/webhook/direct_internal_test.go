package webhook

import (
	"bufio"
	"strings"
	"testing"
)

// FuzzReadHead: any bytes give a head or an error, never a panic, and a
// head read keeps its promises.
func FuzzReadHead(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
		"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/event-stream\r\n\r\n",
		"HTTP/1.1 503 Busy\r\nRetry-After: 3\r\n\r\n",
		"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n",
		"HTTP/1.1 200\r\nX: a\r\n b\r\n\r\n",
		"HTTP/1.1 200 OK\nContent-Length: 1\nContent-Length: 1\n\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var h head
		err := readHead(bufio.NewReaderSize(strings.NewReader(s), 16), &h)
		if err != nil {
			return
		}
		if h.status < 100 || h.status > 999 {
			t.Fatalf("status %d", h.status)
		}
		if h.chunked && h.length != -1 || h.length < -1 {
			t.Fatalf("chunked %v length %d", h.chunked, h.length)
		}
		if h.length == -1 && !h.chunked && h.keepAlive {
			t.Fatal("a body up to the connection's end, and the connection kept")
		}
	})
}

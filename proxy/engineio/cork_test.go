package engineio

import (
	"bytes"
	"net"
	"testing"
)

// recordConn records each Write it is given.
type recordConn struct {
	net.Conn
	writes [][]byte
}

func (r *recordConn) Write(p []byte) (int, error) {
	r.writes = append(r.writes, bytes.Clone(p))
	return len(p), nil
}

func TestCorkConn(t *testing.T) {
	big := bytes.Repeat([]byte("b"), maxCorked)
	tests := []struct {
		name   string
		corked bool
		frames [][]byte
		want   []string
	}{
		{"uncorked writes go straight through", false, [][]byte{[]byte("a"), []byte("b")}, []string{"a", "b"}},
		{"a batch is one write", true, [][]byte{[]byte("a"), []byte("b"), []byte("c")}, []string{"abc"}},
		{"a frame past the bound goes after what was gathered", true, [][]byte{[]byte("a"), big, []byte("c")}, []string{"a", string(big), "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recordConn{}
			c := &corkConn{Conn: rec}
			if tt.corked {
				c.cork()
			}
			for _, f := range tt.frames {
				if n, err := c.Write(f); err != nil || n != len(f) {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			if tt.corked {
				if err := c.uncork(); err != nil {
					t.Fatal(err)
				}
			}
			var got []string
			for _, w := range rec.writes {
				got = append(got, string(w))
			}
			if len(got) != len(tt.want) {
				t.Fatalf("%d writes, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("write %d = %.20q…, want %.20q…", i, got[i], tt.want[i])
				}
			}
			if c.buf != nil {
				t.Fatal("a buffer is still held after the batch")
			}
		})
	}
}

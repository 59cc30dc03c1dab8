package engineio

import (
	"net"
	"sync"
	"time"
)

// maxCorked is how many bytes of frames a corked connection gathers before
// it writes them out; a batch larger than this goes out in several writes.
const maxCorked = 64 << 10

// corkPool holds the buffers corked connections gather frames in, lent
// for the length of one batch so an idle connection holds none.
var corkPool = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// corkConn lets the writer of a WebSocket send a batch of frames in one
// write: between cork and uncork, what gorilla writes is gathered, and
// uncork writes it all. A broadcast that finds packets already queued for
// a connection then costs one system call, not one per packet, on both
// ends of the connection. Outside a batch (the handshake, control frames
// from other goroutines) writes go straight through, after anything
// gathered, so frames keep their order.
type corkConn struct {
	net.Conn
	mu     sync.Mutex
	corked bool
	buf    *[]byte // gathered frames; nil when there are none
	// deadline is the write deadline last set on Conn. gorilla sets its
	// deadline before every frame; passing on only a change saves a
	// runtime timer update per frame. It has its own lock: a deadline
	// must be settable while a write blocks, to end it.
	dmu      sync.Mutex
	deadline time.Time
}

// SetWriteDeadline sets Conn's write deadline when t differs from the one
// it has.
func (c *corkConn) SetWriteDeadline(t time.Time) error {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	if t.Equal(c.deadline) {
		return nil
	}
	c.deadline = t
	return c.Conn.SetWriteDeadline(t)
}

// SetDeadline sets Conn's read and write deadlines.
func (c *corkConn) SetDeadline(t time.Time) error {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	c.deadline = t
	return c.Conn.SetDeadline(t)
}

// cork starts a batch.
func (c *corkConn) cork() {
	c.mu.Lock()
	c.corked = true
	c.mu.Unlock()
}

// uncork ends the batch and writes what it gathered.
func (c *corkConn) uncork() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	return c.flushLocked()
}

func (c *corkConn) flushLocked() error {
	if c.buf == nil {
		return nil
	}
	b := *c.buf
	_, err := c.Conn.Write(b)
	if cap(b) <= maxCorked {
		*c.buf = b[:0]
		corkPool.Put(c.buf)
	}
	c.buf = nil
	return err
}

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.corked {
		if c.buf == nil {
			c.buf = corkPool.Get().(*[]byte)
		}
		if len(*c.buf)+len(p) <= maxCorked {
			*c.buf = append(*c.buf, p...)
			return len(p), nil
		}
	}
	if err := c.flushLocked(); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

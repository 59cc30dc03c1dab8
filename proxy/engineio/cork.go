package engineio

import (
	"errors"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/iobridge/iobridge/internal/rawconn"
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
	// raw is Conn's descriptor, for writes that must not wait (tryFlush);
	// nil for a TLS connection.
	raw    syscall.RawConn
	mu     sync.Mutex
	rw     *rawWrite // tryFlush's write, made on its first use
	corked bool
	buf    *[]byte // gathered frames; nil when there are none
	// deadline is the write deadline last set on Conn. gorilla sets its
	// deadline before every frame; passing on only a change saves a
	// runtime timer update per frame. It has its own lock: a deadline
	// must be settable while a write blocks, to end it.
	dmu      sync.Mutex
	deadline time.Time
}

// deadlineSlack is how much later than the write deadline in force a new
// one may be and still be ignored.
const deadlineSlack = time.Second

// SetWriteDeadline sets Conn's write deadline unless t is the one it has,
// or later than it by less than deadlineSlack: the writer sets "now plus
// writeTimeout" before every batch, and moving the runtime's timer each
// time costs a twentieth of a broadcast's CPU. A write may so time out up
// to a second early, never late.
func (c *corkConn) SetWriteDeadline(t time.Time) error {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	if t.Equal(c.deadline) {
		return nil
	}
	if !c.deadline.IsZero() && t.After(c.deadline) && t.Sub(c.deadline) < deadlineSlack && time.Until(c.deadline) > deadlineSlack {
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

// tryFlush ends the batch and writes what it gathered without waiting for
// the connection to take it. It reports whether everything went out; what
// did not stays gathered, for flush. A connection without a descriptor
// (TLS) writes nothing here, nor does one on a platform where
// rawconn.Write makes no system call (Windows): flush writes it all.
func (c *corkConn) tryFlush() (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	if c.buf == nil {
		return true, nil
	}
	if c.raw == nil {
		return false, nil
	}
	b := *c.buf
	rw := c.rawWriter()
	rw.b = b
	err := c.raw.Write(rw.fn)
	n, werr := rw.n, rw.err
	rw.b, rw.err = nil, nil
	if err == nil && werr != nil && !errors.Is(werr, syscall.EAGAIN) {
		err = werr
	}
	if err != nil {
		return false, err
	}
	if n < 0 {
		n = 0
	}
	if n < len(b) {
		*c.buf = b[:copy(b, b[n:])]
		return false, nil
	}
	if cap(b) <= maxCorked {
		*c.buf = b[:0]
		corkPool.Put(c.buf)
	}
	c.buf = nil
	return true, nil
}

// rawWrite is tryFlush's one write attempt on the descriptor. Its
// function is made once per connection: a closure made per call would be
// allocated per call, since RawConn.Write keeps no promise about it.
type rawWrite struct {
	b   []byte
	n   int
	err error
	fn  func(fd uintptr) bool
}

func (c *corkConn) rawWriter() *rawWrite {
	if c.rw == nil {
		rw := &rawWrite{}
		rw.fn = func(fd uintptr) bool {
			rw.n, rw.err = rawconn.Write(fd, rw.b)
			return true
		}
		c.rw = rw
	}
	return c.rw
}

// flush writes what a tryFlush left gathered, waiting as a Write does.
func (c *corkConn) flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.flushLocked()
}

// pending reports whether gathered bytes wait for flush.
func (c *corkConn) pending() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf != nil && !c.corked
}

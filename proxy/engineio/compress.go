package engineio

import (
	"compress/gzip"
	"compress/zlib"
	"net/http"
	"sync"

	"github.com/iobridge/iobridge/internal/acceptenc"
)

// defaultCompressionThreshold is the reference's httpCompression.threshold
// and, as engine.io passes it to ws, its perMessageDeflate.threshold.
const defaultCompressionThreshold = 1024

// compressible reports whether the reference would compress an answer
// made of packets: it compresses those holding a packet sent through its
// socket (open, message, ping), whose compress option defaults to true,
// and not an answer of only the noop or close packets its transport
// writes directly, with no options.
func compressible(packets []Packet) bool {
	for i := range packets {
		if t := packets[i].Type; t != PacketNoop && t != PacketClose {
			return true
		}
	}
	return false
}

// pollingEncodings are the codings the reference offers a polling
// answer in, in its order: it asks accepts(req).encodings(["gzip",
// "deflate"]), so acceptenc.Negotiate over this list gives a client the
// encoding it would get from the reference.
var pollingEncodings = []string{"gzip", "deflate"}

// compressor compresses polling answers into out. Compressors are pooled
// per encoding: a flate compressor is most of a megabyte of tables, too
// much to make per answer.
type compressor struct {
	out []byte
	gz  *gzip.Writer
	zl  *zlib.Writer
}

// Write appends p to out: the compressed stream's destination.
func (c *compressor) Write(p []byte) (int, error) {
	c.out = append(c.out, p...)
	return len(p), nil
}

// compressionLevel is BestSpeed, where the reference uses zlib's default
// (6): on a 5 KB Socket.IO answer Go's level 6 takes over twice the CPU
// of level 1 for an answer some 6% smaller, and the level is not
// something a client can tell. gorilla's permessage-deflate uses level 1
// too.
const compressionLevel = gzip.BestSpeed

var (
	gzipPool = sync.Pool{New: func() any {
		c := &compressor{}
		c.gz, _ = gzip.NewWriterLevel(c, compressionLevel)
		return c
	}}
	deflatePool = sync.Pool{New: func() any {
		c := &compressor{}
		c.zl, _ = zlib.NewWriterLevel(c, compressionLevel)
		return c
	}}
)

// compressPayload compresses payload with enc, "gzip" or "deflate". The
// result stays valid until putCompressor(c).
func compressPayload(enc string, payload []byte) (c *compressor, body []byte) {
	if enc == "gzip" {
		c = gzipPool.Get().(*compressor)
		c.out = c.out[:0]
		c.gz.Reset(c)
		_, _ = c.gz.Write(payload)
		_ = c.gz.Close()
	} else {
		// "deflate" in HTTP is the zlib format (RFC 1950), which the
		// reference's zlib.createDeflate writes, not raw DEFLATE.
		c = deflatePool.Get().(*compressor)
		c.out = c.out[:0]
		c.zl.Reset(c)
		_, _ = c.zl.Write(payload)
		_ = c.zl.Close()
	}
	return c, c.out
}

// putCompressor returns c to its pool, keeping its output buffer unless it
// grew past maxPooledFrame.
func putCompressor(c *compressor) {
	if cap(c.out) > maxPooledFrame {
		c.out = nil
	}
	if c.gz != nil {
		gzipPool.Put(c)
	} else {
		deflatePool.Put(c)
	}
}

// compressionThreshold is a configured threshold, zero meaning the
// reference's default.
func compressionThreshold(n int) int {
	if n <= 0 {
		return defaultCompressionThreshold
	}
	return n
}

// compressAnswer compresses a polling answer's payload when the server
// compresses answers (Config.HTTPCompression), the payload is at least the
// threshold, the reference would compress its packets and the client
// accepts gzip or deflate; it then sets Content-Encoding in h. It returns
// the body to send and the compressor holding it, for putCompressor once
// the body is written, or payload itself and nil. With compression off it
// costs a branch.
func (s *Server) compressAnswer(h http.Header, r *http.Request, payload []byte, packets []Packet) ([]byte, *compressor) {
	if !s.cfg.HTTPCompression || len(payload) < compressionThreshold(s.cfg.HTTPCompressionThreshold) || !compressible(packets) {
		return payload, nil
	}
	enc := acceptenc.Negotiate(r.Header["Accept-Encoding"], pollingEncodings)
	if enc == "" {
		return payload, nil
	}
	c, body := compressPayload(enc, payload)
	// As the reference: no Vary (answers are Cache-Control: no-store).
	// Unlike it, Content-Length: the body is whole here, where the
	// reference streams it chunked.
	h.Set("Content-Encoding", enc)
	return body, c
}

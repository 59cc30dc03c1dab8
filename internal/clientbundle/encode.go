package clientbundle

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"io"
	"sync"

	"github.com/andybalholm/brotli"
)

// file is one served file and its compressed forms. The reference
// compresses the file on every request; these files never change, so each
// form is made once, on the first request that asks for it, and kept
// (about half the files' size for all three forms of the files in use).
type file struct {
	contentType string
	raw         []byte

	br, gzip, deflate encoded
}

// encoded is one compressed form of a file, made at most once.
type encoded struct {
	once sync.Once
	b    []byte
}

// body returns f's bytes in encoding ("" for none).
func (f *file) body(encoding string) []byte {
	var e *encoded
	switch encoding {
	case "br":
		e = &f.br
	case "gzip":
		e = &f.gzip
	case "deflate":
		e = &f.deflate
	default:
		return f.raw
	}
	e.once.Do(func() { e.b = compress(encoding, f.raw) })
	return e.b
}

// compress returns raw compressed as the content coding says: "deflate"
// is the zlib format (RFC 1950), as HTTP's deflate and the reference's
// zlib.createDeflate are. Each at its strongest level, brotli's the
// reference's default: the cost is paid once per process and form (at
// most about two seconds, brotli on the largest source map).
func compress(encoding string, raw []byte) []byte {
	var buf bytes.Buffer
	var w io.WriteCloser
	switch encoding {
	case "br":
		w = brotli.NewWriterLevel(&buf, brotli.BestCompression)
	case "gzip":
		w, _ = gzip.NewWriterLevel(&buf, gzip.BestCompression) // the level is valid
	default:
		w, _ = zlib.NewWriterLevel(&buf, zlib.BestCompression) // the level is valid
	}
	// Writes to a bytes.Buffer do not fail.
	_, _ = w.Write(raw)
	_ = w.Close()
	return buf.Bytes()
}

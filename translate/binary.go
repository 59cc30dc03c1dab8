package translate

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/iobridge/iobridge/proxy/socketio"
)

// Binary values travel to and from backends as {"_binary":"<base64>"}
// (standard base64 with padding), in place, at any depth. Only an object
// whose single key is "_binary" with a string value is one. The rest of
// each value is kept byte for byte: the helpers below rewrite only the
// spans of the objects they replace.

// errBadJSON is returned for input that is not valid JSON.
var errBadJSON = errors.New("translate: invalid JSON")

// maxDepth bounds nesting, as encoding/json does.
const maxDepth = 10000

// AttachmentsToBinary returns arg with every Socket.IO attachment
// placeholder ({"_placeholder":true,"num":n}) replaced by
// {"_binary":"<base64 of attachments[n]>"}. Without attachments arg is
// returned as is; otherwise the result is a new slice (arg is not
// modified). A placeholder whose num is out of range is an error.
func AttachmentsToBinary(arg json.RawMessage, attachments [][]byte) (json.RawMessage, error) {
	if len(attachments) == 0 || bytes.IndexByte(arg, '{') < 0 {
		return arg, nil
	}
	s := rewriter{src: arg, match: func(w *rewriter, o *object) error {
		if o.n != 2 {
			return nil
		}
		pi, ni := o.index("_placeholder"), o.index("num")
		if pi < 0 || ni < 0 || string(o.val(pi)) != "true" {
			return nil
		}
		num, err := strconv.Atoi(string(o.val(ni)))
		if err != nil || num < 0 || num >= len(attachments) {
			return fmt.Errorf("translate: placeholder %s refers to no attachment", o.val(ni))
		}
		b := attachments[num]
		w.replace(o.start, o.end, func(dst []byte) []byte {
			dst = append(dst, `{"_binary":"`...)
			dst = base64.StdEncoding.AppendEncode(dst, b)
			return append(dst, `"}`...)
		})
		return nil
	}}
	return s.run()
}

// BinaryToAttachments turns the {"_binary":…} objects of args into
// Socket.IO attachments, replacing each by its placeholder, numbered in
// order of appearance across args. When no arg holds one, args is
// returned unchanged and attachments is nil (nothing is allocated). args
// is never modified. A _binary value that is not standard base64 is an
// error wrapping ErrInvalidInstruction.
func BinaryToAttachments(args []json.RawMessage) ([]json.RawMessage, [][]byte, error) {
	var out []json.RawMessage
	var atts [][]byte
	for i, arg := range args {
		if !bytes.Contains(arg, []byte("binary")) && !bytes.Contains(arg, []byte(`\u`)) {
			if out != nil {
				out = append(out, arg)
			}
			continue
		}
		s := rewriter{src: arg, match: func(w *rewriter, o *object) error {
			if o.n != 1 || o.key(0) != "_binary" {
				return nil
			}
			v := o.val(0)
			if len(v) == 0 || v[0] != '"' {
				return nil
			}
			str, err := jsonString(v)
			if err != nil {
				return err
			}
			b, err := base64.StdEncoding.DecodeString(str)
			if err != nil {
				return fmt.Errorf("%w: _binary is not standard base64: %v", ErrInvalidInstruction, err)
			}
			num := len(atts)
			atts = append(atts, b)
			w.replace(o.start, o.end, func(dst []byte) []byte { return append(dst, socketio.Placeholder(num)...) })
			return nil
		}}
		r, err := s.run()
		if err != nil {
			return nil, nil, err
		}
		if s.out == nil && out == nil {
			continue
		}
		if out == nil {
			out = make([]json.RawMessage, i, len(args))
			copy(out, args[:i])
		}
		out = append(out, r)
	}
	if out == nil {
		return args, nil, nil
	}
	return out, atts, nil
}

// object describes a JSON object the rewriter has just scanned: its span
// and, for objects of up to two members, their keys and values.
type object struct {
	start, end int
	n          int // number of members
	keys       [2][2]int
	vals       [2][2]int
	src        []byte
}

func (o *object) key(i int) string {
	k := o.src[o.keys[i][0]:o.keys[i][1]]
	if bytes.IndexByte(k, '\\') < 0 {
		return string(k[1 : len(k)-1])
	}
	s, _ := jsonString(k)
	return s
}

func (o *object) val(i int) []byte { return o.src[o.vals[i][0]:o.vals[i][1]] }

func (o *object) index(key string) int {
	for i := 0; i < o.n && i < 2; i++ {
		if o.key(i) == key {
			return i
		}
	}
	return -1
}

// rewriter scans one JSON value and splices replacements for the objects
// match chooses; everything else is copied byte for byte, and nothing is
// copied at all when nothing is replaced.
type rewriter struct {
	src   []byte
	pos   int
	depth int
	out   []byte // nil until the first replacement
	last  int    // src[:last] is already in out
	match func(w *rewriter, o *object) error
}

func (w *rewriter) run() (json.RawMessage, error) {
	if err := w.value(); err != nil {
		return nil, err
	}
	w.ws()
	if w.pos != len(w.src) {
		return nil, errBadJSON
	}
	if w.out == nil {
		return w.src, nil
	}
	return append(w.out, w.src[w.last:]...), nil
}

func (w *rewriter) replace(start, end int, appendFn func([]byte) []byte) {
	if w.out == nil {
		w.out = make([]byte, 0, len(w.src)+64)
	}
	w.out = append(w.out, w.src[w.last:start]...)
	w.out = appendFn(w.out)
	w.last = end
}

func (w *rewriter) ws() {
	for w.pos < len(w.src) {
		switch w.src[w.pos] {
		case ' ', '\t', '\n', '\r':
			w.pos++
		default:
			return
		}
	}
}

func (w *rewriter) value() error {
	w.ws()
	if w.pos >= len(w.src) {
		return errBadJSON
	}
	switch c := w.src[w.pos]; {
	case c == '{':
		return w.object()
	case c == '[':
		return w.array()
	case c == '"':
		return w.str()
	default:
		start := w.pos
		for w.pos < len(w.src) {
			switch w.src[w.pos] {
			case ',', ']', '}', ' ', '\t', '\n', '\r':
				goto done
			}
			w.pos++
		}
	done:
		if w.pos == start {
			return errBadJSON
		}
		return nil
	}
}

func (w *rewriter) str() error {
	w.pos++ // opening quote
	for w.pos < len(w.src) {
		switch w.src[w.pos] {
		case '\\':
			w.pos += 2
		case '"':
			w.pos++
			return nil
		default:
			w.pos++
		}
	}
	return errBadJSON
}

func (w *rewriter) array() error {
	if w.depth++; w.depth > maxDepth {
		return errBadJSON
	}
	defer func() { w.depth-- }()
	w.pos++
	w.ws()
	if w.pos < len(w.src) && w.src[w.pos] == ']' {
		w.pos++
		return nil
	}
	for {
		if err := w.value(); err != nil {
			return err
		}
		w.ws()
		if w.pos >= len(w.src) {
			return errBadJSON
		}
		switch w.src[w.pos] {
		case ',':
			w.pos++
		case ']':
			w.pos++
			return nil
		default:
			return errBadJSON
		}
	}
}

func (w *rewriter) object() error {
	if w.depth++; w.depth > maxDepth {
		return errBadJSON
	}
	defer func() { w.depth-- }()
	o := object{start: w.pos, src: w.src}
	w.pos++
	w.ws()
	if w.pos < len(w.src) && w.src[w.pos] == '}' {
		w.pos++
		o.end = w.pos
		return w.match(w, &o)
	}
	for {
		w.ws()
		if w.pos >= len(w.src) || w.src[w.pos] != '"' {
			return errBadJSON
		}
		ks := w.pos
		if err := w.str(); err != nil {
			return err
		}
		ke := w.pos
		w.ws()
		if w.pos >= len(w.src) || w.src[w.pos] != ':' {
			return errBadJSON
		}
		w.pos++
		w.ws()
		vs := w.pos
		if err := w.value(); err != nil {
			return err
		}
		if o.n < 2 {
			o.keys[o.n] = [2]int{ks, ke}
			o.vals[o.n] = [2]int{vs, w.pos}
		}
		o.n++
		w.ws()
		if w.pos >= len(w.src) {
			return errBadJSON
		}
		switch w.src[w.pos] {
		case ',':
			w.pos++
		case '}':
			w.pos++
			o.end = w.pos
			return w.match(w, &o)
		default:
			return errBadJSON
		}
	}
}

// jsonString decodes a JSON string literal (quotes included).
func jsonString(lit []byte) (string, error) {
	if bytes.IndexByte(lit, '\\') < 0 && len(lit) >= 2 {
		return string(lit[1 : len(lit)-1]), nil
	}
	var s string
	if err := json.Unmarshal(lit, &s); err != nil {
		return "", errBadJSON
	}
	return s, nil
}

package socketio

import (
	"encoding/json"
	"strconv"
)

// The helpers below walk JSON that json.Valid has already accepted; they
// find value boundaries without building values, so arguments stay raw.

func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipValue returns the index just past the JSON value starting at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	default:
		for i < len(b) {
			switch b[i] {
			case ',', ']', '}', ' ', '\t', '\n', '\r':
				return i
			}
			i++
		}
		return i
	}
}

func skipString(b []byte, i int) int {
	i++ // opening quote
	for i < len(b) {
		switch b[i] {
		case '\\':
			i += 2
		case '"':
			return i + 1
		default:
			i++
		}
	}
	return i
}

// unquote decodes a JSON string token.
func unquote(tok []byte) (string, bool) {
	if len(tok) < 2 || tok[0] != '"' || tok[len(tok)-1] != '"' {
		return "", false
	}
	inner := tok[1 : len(tok)-1]
	simple := true
	for _, c := range inner {
		if c == '\\' || c == '"' || c < 0x20 {
			simple = false
			break
		}
	}
	if simple {
		return string(inner), true
	}
	var s string
	if err := json.Unmarshal(tok, &s); err != nil {
		return "", false
	}
	return s, true
}

// checkPlaceholders walks a binary packet's payload and verifies that every
// placeholder ({"_placeholder":true,...}) has an integer num in [0, n), as
// socket.io-parser's reconstructPacket requires.
func checkPlaceholders(b []byte, n int) bool {
	ok := true
	walkPlaceholders(b, skipSpace(b, 0), func(num []byte) {
		if !ok {
			return
		}
		if len(num) == 0 {
			ok = false
			return
		}
		v, err := strconv.ParseInt(string(num), 10, 64)
		if err != nil {
			f, ferr := strconv.ParseFloat(string(num), 64)
			if ferr != nil || f != float64(int64(f)) {
				ok = false
				return
			}
			v = int64(f)
		}
		if v < 0 || v >= int64(n) {
			ok = false
		}
	})
	return ok
}

// walkPlaceholders calls fn with the raw num of every placeholder object in
// the value at b[i] (an empty slice when num is missing or not a number)
// and returns the index past that value.
func walkPlaceholders(b []byte, i int, fn func(num []byte)) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '[':
		i = skipSpace(b, i+1)
		for i < len(b) && b[i] != ']' {
			i = walkPlaceholders(b, i, fn)
			i = skipSpace(b, i)
			if i < len(b) && b[i] == ',' {
				i = skipSpace(b, i+1)
			}
		}
		return i + 1
	case '{':
		placeholder := false
		var num []byte
		i = skipSpace(b, i+1)
		for i < len(b) && b[i] != '}' {
			kend := skipString(b, i)
			key, _ := unquote(b[i:kend])
			i = skipSpace(b, kend)
			i = skipSpace(b, i+1) // past ':'
			vstart := i
			i = walkPlaceholders(b, i, fn)
			val := b[vstart:i]
			switch key {
			case "_placeholder":
				placeholder = string(val) == "true"
			case "num":
				if len(val) > 0 && (val[0] == '-' || (val[0] >= '0' && val[0] <= '9')) {
					num = val
				} else {
					num = nil
				}
			}
			i = skipSpace(b, i)
			if i < len(b) && b[i] == ',' {
				i = skipSpace(b, i+1)
			}
		}
		if placeholder {
			if num == nil {
				num = b[:0]
			}
			fn(num)
		}
		return i + 1
	default:
		return skipValue(b, i)
	}
}

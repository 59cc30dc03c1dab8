package adapter

import (
	"encoding/json"
	"time"
)

type jsonRaw = json.RawMessage

const yeastAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_"

// yeast generates recovery offsets as socket.io-adapter's yeast(): the
// current time in milliseconds in base 64, with ".<seed>" appended when
// several ids fall in the same millisecond. Ids are unique per generator.
type yeast struct {
	prev string
	seed int64
}

func yeastEncode(dst []byte, n int64) []byte {
	var buf [12]byte
	i := len(buf)
	for {
		i--
		buf[i] = yeastAlphabet[n%64]
		n /= 64
		if n <= 0 {
			break
		}
	}
	return append(dst, buf[i:]...)
}

func (y *yeast) next(now time.Time) string {
	cur := string(yeastEncode(nil, now.UnixMilli()))
	if cur != y.prev {
		y.seed = 0
		y.prev = cur
		return cur
	}
	b := append([]byte(cur), '.')
	b = yeastEncode(b, y.seed)
	y.seed++
	return string(b)
}

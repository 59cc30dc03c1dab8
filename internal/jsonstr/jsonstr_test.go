package jsonstr

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// marshal is the reference: encoding/json with HTML escaping off.
func marshal(t testing.TB, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

func TestAppendMatchesEncodingJSON(t *testing.T) {
	tests := []struct {
		name string
		s    string
	}{
		{"empty", ""},
		{"plain", "hello world"},
		{"quote and backslash", `say "hi" \ bye`},
		{"short escapes", "\b\f\n\r\t"},
		{"html", "<script>a && b</script>"},
		{"DEL", "a\x7fb"},
		{"line separators", "a\u2028b\u2029c"},
		{"near line separators", "\u2027\u202a\u202f"},
		{"emoji", "héllo 👋🏽 世界"},
		{"invalid byte", "a\xffb"},
		{"lone continuation", "\x80"},
		{"truncated rune", "\xe2\x80"},
		{"surrogate half", "\xed\xa0\x80"},
		{"overlong", "\xc0\xaf"},
		{"invalid at end", "abc\xf0\x9f"},
		{"replacement char", "\ufffd"},
		{"max rune", "\U0010ffff"},
		{"mixed", "\x00\"<\u2028\xff\\\x1f>&\t👋"},
	}
	var all strings.Builder
	for c := range utf8.RuneSelf {
		all.WriteByte(byte(c))
		tests = append(tests, struct {
			name string
			s    string
		}{"byte " + string(hex[c>>4]) + string(hex[c&0xf]), "x" + string(rune(c)) + "y"})
	}
	tests = append(tests, struct {
		name string
		s    string
	}{"all ASCII", all.String()})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := marshal(t, tc.s)
			if got := Append(nil, tc.s); !bytes.Equal(got, want) {
				t.Errorf("Append(%q) = %s, want %s", tc.s, got, want)
			}
		})
	}
}

// TestAppendKeepsDst: Append appends, leaving what dst held.
func TestAppendKeepsDst(t *testing.T) {
	got := Append([]byte(`{"a":`), "b\n")
	if want := `{"a":"b\n"`; string(got) != want {
		t.Errorf("Append = %s, want %s", got, want)
	}
}

func TestAppendAllocs(t *testing.T) {
	dst := make([]byte, 0, 256)
	s := "a \"quoted\" line\n with é, \u2028 and \xff"
	if n := testing.AllocsPerRun(100, func() { _ = Append(dst[:0], s) }); n != 0 {
		t.Errorf("Append into a large enough dst: %v allocations, want 0", n)
	}
}

func FuzzAppend(f *testing.F) {
	for _, s := range []string{"", "plain", "\x00\b\f\n\r\t\x1f", `"\`, "<>&", "\u2028\u2029", "\xff\xe2\x80", "👋🏽"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := marshal(t, s)
		if got := Append(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("Append(%q) = %s, want %s", s, got, want)
		}
	})
}

func BenchmarkAppend(b *testing.B) {
	for _, bc := range []struct {
		name string
		s    string
	}{
		{"id", "Xk3_9fQ2aB7cD1eF0gH"},
		{"event", "chat message"},
		{"text=100", strings.Repeat("héllo wörld ", 8) + "done"},
		{"escapes=100", strings.Repeat("a\"b\n<\u2028", 12)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			dst := make([]byte, 0, 512)
			for b.Loop() {
				dst = Append(dst[:0], bc.s)
			}
		})
	}
}

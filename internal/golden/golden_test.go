package golden

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDiff(t *testing.T) {
	tests := []struct {
		name, want, got, diff string
	}{
		{"same", "a\nb\n", "a\nb\n", "(the same lines, in another order or count)\n"},
		{"changed line", "a\nb\n", "a\nc\n", "- b\n+ c\n"},
		{"added line", "a\n", "a\nz\n", "+ z\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Diff(tc.want, tc.got); got != tc.diff {
				t.Errorf("Diff(%q, %q) = %q, want %q", tc.want, tc.got, got, tc.diff)
			}
		})
	}
}

func TestAssertEqual(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.golden")
	if err := os.WriteFile(path, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	Assert(t, path, []byte("x\n"))
}

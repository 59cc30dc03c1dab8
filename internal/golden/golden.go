// Package golden compares test output with files under testdata/ and, run
// with -update, rewrites them, as the standard library's go/printer tests
// do. One -update flag serves every package that imports it; the diff is
// then reviewed like any other change.
//
// Only tests import it: the flag it registers belongs to the test binary.
package golden

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ from the current output")

// Update reports whether the test binary runs with -update, for tests
// that write a golden file in a shape Assert does not (and then read it
// back themselves).
func Update() bool { return *update }

// Assert compares got with the file at path. With -update it first writes
// got to path (creating its directory), so the comparison then passes and
// the file's diff shows what changed. A missing file or a difference is
// reported with t.Errorf: the lines only in the file (-) and only in got
// (+).
func Assert(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("%v (run go test -update to create it)", err)
		return
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run go test -update and review the diff):\n%s", path, Diff(string(want), string(got)))
	}
}

// Diff lists the lines only in want (-) and only in got (+), each side in
// its own order. It is a set difference, not an edit script: enough to
// see which lines a change touched in a golden file.
func Diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	inW, inG := map[string]int{}, map[string]int{}
	for _, l := range w {
		inW[l]++
	}
	for _, l := range g {
		inG[l]++
	}
	var b strings.Builder
	for _, l := range w {
		if inG[l] == 0 {
			b.WriteString("- " + l + "\n")
		}
	}
	for _, l := range g {
		if inW[l] == 0 {
			b.WriteString("+ " + l + "\n")
		}
	}
	if b.Len() == 0 {
		b.WriteString("(the same lines, in another order or count)\n")
	}
	return b.String()
}

package interop

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPerMessageDeflateInChromium: Chromium's own WebSocket negotiates
// permessage-deflate with either server when perMessageDeflate is on, none
// when it is off, and gets a large event back whole either way.
func TestPerMessageDeflateInChromium(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("%s is missing: apt-get install chromium (the test drives the system browser and never downloads one)", chromiumPath)
	}
	if _, err := os.Stat(filepath.Join("node_modules", "playwright-core", "package.json")); err != nil {
		t.Fatal("node_modules/playwright-core is missing: run npm ci in interop/")
	}
	t.Parallel()
	type run struct {
		name string
		on   bool
		srv  *target
	}
	var runs []run
	for _, on := range []bool{true, false} {
		for _, impl := range servers {
			runs = append(runs, run{impl.name, on, impl.start(t, serverConfig{PerMessageDeflate: on})})
		}
	}
	args := []string{"ws-browser.js"}
	for _, r := range runs {
		args = append(args, r.srv.url)
	}
	cmd := exec.CommandContext(t.Context(), "node", args...)
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromiumPath)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	// wsResult is one line of ws-browser.js.
	type wsResult struct {
		Type, URL, Message, Extensions string
		Echoed                         bool
	}
	results := map[string]wsResult{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var r wsResult
		if json.Unmarshal([]byte(line), &r) != nil {
			continue
		}
		if r.Type == "fatal" {
			t.Fatalf("browser: %s", r.Message)
		}
		results[r.URL] = r
	}
	if err != nil {
		t.Fatalf("node ws-browser.js: %v\n%s\n%s", err, out, stderr.String())
	}
	for _, r := range runs {
		got, ok := results[r.srv.url]
		if !ok {
			t.Errorf("%s (perMessageDeflate %v): no result", r.name, r.on)
			continue
		}
		if r.on != strings.HasPrefix(got.Extensions, "permessage-deflate") {
			t.Errorf("%s (perMessageDeflate %v): Chromium negotiated %q", r.name, r.on, got.Extensions)
		}
		if !got.Echoed {
			t.Errorf("%s (perMessageDeflate %v): the echo did not come back whole", r.name, r.on)
		}
		t.Logf("%s (perMessageDeflate %v): extensions %q", r.name, r.on, got.Extensions)
	}
}

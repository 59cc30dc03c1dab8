package interop

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// chromiumPath is the Debian chromium the demo test drives. The test never
// downloads a browser: `apt-get install chromium` (make test does it on CI).
const chromiumPath = "/usr/bin/chromium"

// demoPorts are the addresses config.example.toml gives the demo: the
// Socket.IO listener with the page, the control API and the example
// backend.
var demoPorts = []string{"127.0.0.1:8080", "127.0.0.1:8081", "127.0.0.1:4000"}

// browserResult is demo-browser.js's final line.
type browserResult struct {
	Type          string   `json:"type"`
	Name          string   `json:"name"`
	Message       string   `json:"message"`
	Status        string   `json:"status"`
	FirstProgress string   `json:"firstProgress"`
	Complete      string   `json:"complete"`
	Answer        string   `json:"answer"`
	AnswerStatus  string   `json:"answerStatus"`
	Tokens        int      `json:"tokens"`
	SpreadMs      float64  `json:"spreadMs"`
	FirstSeq      int      `json:"firstSeq"`
	NextSeq       int      `json:"nextSeq"`
	Price         string   `json:"price"`
	LegacyStatus  string   `json:"legacyStatus"`
	LegacyAck     string   `json:"legacyAck"`
	Console       []string `json:"console"`
}

// TestDemoInBrowser runs `iobridge demo` as a newcomer would and opens its
// page in headless Chromium: the page loads and connects, the chat works,
// a file copy shows the progress the backend pushes through the control
// API, the assistant's answer streams in token by token, the ticker moves
// with the backend's SSE feed (a stream) and the legacy chat answers over
// its bridge.
//
// Set IOBRIDGE_DEMO_SCREENSHOT=/path/shot.png to keep the screenshot.
func TestDemoInBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("%s is missing: apt-get install chromium (the test drives the system browser and never downloads one)", chromiumPath)
	}
	if _, err := os.Stat(filepath.Join("node_modules", "playwright-core", "package.json")); err != nil {
		t.Fatal("node_modules/playwright-core is missing: run npm ci in interop/")
	}
	// The demo listens on fixed ports. In a network namespace of its own
	// it cannot clash with anything running on this machine; where one
	// cannot be made (no root), the ports must be free here.
	inNetns := isolatedNetwork(t)
	if inNetns == nil {
		for _, addr := range demoPorts {
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				t.Fatalf("the demo needs %s, which is taken (is a demo already running?): %v", addr, err)
			}
			ln.Close()
		}
		inNetns = func(name string, args ...string) (string, []string) { return name, args }
	}

	bin := buildIOBridge(t)

	// The demo, stopped with SIGINT as a newcomer's Ctrl-C would (and
	// killed if the test ends first).
	name, args := inNetns(bin, "demo")
	demo := exec.CommandContext(t.Context(), name, args...)
	demo.Dir = ".."
	// Unset, as for a newcomer: the demo picks its public demo token.
	demo.Env = withoutEnv(os.Environ(), "IOBRIDGE_API_TOKEN")
	demo.WaitDelay = 15 * time.Second
	stderr, err := demo.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := demo.Start(); err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	pageURL := make(chan string, 1)
	exited := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		urlRE := regexp.MustCompile(`msg="demo: open the page in a browser".* url=(\S+)`)
		for sc.Scan() {
			line := sc.Text()
			logs.Write([]byte(line + "\n"))
			if m := urlRE.FindStringSubmatch(line); m != nil {
				pageURL <- m[1]
			}
		}
		exited <- demo.Wait()
	}()
	var url string
	select {
	case url = <-pageURL:
	case err := <-exited:
		t.Fatalf("iobridge demo exited: %v\n%s", err, logText(logs))
	case <-time.After(waitTimeout):
		t.Fatalf("iobridge demo did not start within %v:\n%s", waitTimeout, logText(logs))
	}

	shot := os.Getenv("IOBRIDGE_DEMO_SCREENSHOT")
	if shot == "" {
		shot = filepath.Join(t.TempDir(), "demo.png")
	}
	name, args = inNetns("node", "demo-browser.js", url, shot)
	res, steps, bstderr, berr := runBrowser(exec.CommandContext(t.Context(), name, args...))
	if berr != nil || res.Type != "done" {
		t.Fatalf("the browser run failed (%v) after steps %v: %s\nconsole: %s\nnode stderr: %s\niobridge logs:\n%s",
			berr, steps, res.Message, strings.Join(res.Console, "\n"), bstderr, logText(logs))
	}

	if !strings.HasPrefix(res.Status, "connected as Ada") {
		t.Errorf("status %q, want connected as Ada", res.Status)
	}
	if !regexp.MustCompile(`^\d+%$`).MatchString(res.FirstProgress) {
		t.Errorf("progress %q, want a percentage", res.FirstProgress)
	}
	if !strings.HasPrefix(res.Complete, "complete") {
		t.Errorf("file copy state %q, want complete", res.Complete)
	}
	if !strings.HasPrefix(res.Answer, "Rooms live in the sidecar.") {
		t.Errorf("answer %q, want the rooms answer", res.Answer)
	}
	if want := fmt.Sprintf("done · %d tokens", res.Tokens); res.AnswerStatus != want || res.Tokens < 10 {
		t.Errorf("answer status %q with %d tokens shown, want %q and at least 10", res.AnswerStatus, res.Tokens, want)
	}
	// The example backend sends a token every 60ms: one burst at the end
	// would show them all within a few ms.
	if min := float64(res.Tokens-1) * 20; res.SpreadMs < min {
		t.Errorf("%d tokens shown within %.0fms, want them spread over at least %.0fms (streamed)", res.Tokens, res.SpreadMs, min)
	}
	// The ticker: the backend's SSE feed through the sidecar's stream.
	if res.FirstSeq < 1 || res.NextSeq <= res.FirstSeq || !regexp.MustCompile(`^\d+\.\d\d$`).MatchString(res.Price) {
		t.Errorf("ticker ticks %d then %d at price %q, want increasing tick numbers and a price", res.FirstSeq, res.NextSeq, res.Price)
	}
	// The legacy chat: the bridged namespace and its WebSocket backend.
	if !strings.HasPrefix(res.LegacyStatus, "bridged") {
		t.Errorf("legacy chat status %q, want bridged", res.LegacyStatus)
	}
	if !regexp.MustCompile(`^ack frame: message #\d+ delivered$`).MatchString(res.LegacyAck) {
		t.Errorf("legacy chat ack %q, want the ack frame's answer", res.LegacyAck)
	}
	for _, c := range res.Console {
		if strings.HasPrefix(c, "error") || strings.HasPrefix(c, "pageerror") {
			t.Errorf("browser console: %s", c)
		}
	}
	png, err := os.ReadFile(shot)
	if err != nil || len(png) < 10000 || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Errorf("screenshot %s: %d bytes, err %v", shot, len(png), err)
	}

	if err := demo.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("iobridge demo after SIGINT: %v\n%s", err, logText(logs))
		}
	case <-time.After(waitTimeout):
		t.Fatalf("iobridge demo did not stop:\n%s", logText(logs))
	}
	if t.Failed() {
		t.Logf("iobridge logs:\n%s", logText(logs))
	}
}

// isolatedNetwork makes a network namespace with only a loopback
// interface, held by a process that lives until the test ends, and returns
// how to run a command inside it (nsenter execs the command in place, so
// signals reach it). It returns nil when the namespace cannot be made: the
// tools are missing or the user may not create namespaces.
func isolatedNetwork(t *testing.T) func(name string, args ...string) (string, []string) {
	for _, tool := range []string{"unshare", "nsenter", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Logf("no network namespace (%s missing): the demo uses this machine's loopback", tool)
			return nil
		}
	}
	// sh execs cat in place: the holder's pid stays the namespace's, and
	// closing its stdin ends it.
	holder := exec.Command("unshare", "--net", "sh", "-c", "ip link set lo up && echo up && exec cat")
	stdin, err := holder.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	holder.Stderr = &stderr
	if err := holder.Start(); err != nil {
		t.Logf("no network namespace (%v): the demo uses this machine's loopback", err)
		return nil
	}
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if line != "up\n" {
		stdin.Close()
		holder.Wait()
		t.Logf("no network namespace (%s): the demo uses this machine's loopback", strings.TrimSpace(stderr.String()))
		return nil
	}
	t.Cleanup(func() {
		stdin.Close()
		holder.Wait()
	})
	pid := fmt.Sprint(holder.Process.Pid)
	return func(name string, args ...string) (string, []string) {
		return "nsenter", append([]string{"-t", pid, "-n", "--", name}, args...)
	}
}

func logText(b *lockedBuffer) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// withoutEnv returns env without the variable name.
func withoutEnv(env []string, name string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}

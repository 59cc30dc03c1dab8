package interop

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"
)

// buildOnce builds the iobridge binary once per test run, for the tests
// that run it as an operator would (signals, exit codes, logs).
var buildOnce struct {
	sync.Once
	bin string
	out []byte
	err error
}

// buildIOBridge returns the path of the iobridge binary built from this
// checkout.
func buildIOBridge(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "iobridge-interop-bin-")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.bin = filepath.Join(dir, "iobridge")
		build := exec.Command("go", "build", "-o", buildOnce.bin, ".")
		build.Dir = ".."
		buildOnce.out, buildOnce.err = build.CombinedOutput()
	})
	if buildOnce.err != nil {
		t.Fatalf("go build: %v\n%s", buildOnce.err, buildOnce.out)
	}
	return buildOnce.bin
}

// process is an iobridge process started from a config file.
type process struct {
	name string
	cmd  *exec.Cmd
	logs *lockedBuffer
	done chan struct{} // closed when the process has exited
	err  error         // Wait's, once done is closed
}

// startProcess runs bin with cfg (TOML) and waits for its "listening" log
// line. At the test's end it is sent SIGTERM and waited for; its logs are
// printed when the test failed.
func startProcess(t testing.TB, bin, name, cfg string) *process {
	t.Helper()
	file := filepath.Join(t.TempDir(), name+".toml")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &process{name: name, logs: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd = exec.CommandContext(t.Context(), bin, "-config", file)
	p.cmd.WaitDelay = 5 * time.Second
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	listening := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		seen := false
		re := regexp.MustCompile(`msg=listening`)
		for sc.Scan() {
			p.logs.Write([]byte(sc.Text() + "\n"))
			if !seen && re.MatchString(sc.Text()) {
				seen = true
				close(listening)
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	select {
	case <-listening:
	case <-p.done:
		t.Fatalf("iobridge %s exited at start (%v):\n%s", name, p.err, lockedString(p.logs))
	case <-time.After(waitTimeout):
		t.Fatalf("iobridge %s did not start:\n%s", name, lockedString(p.logs))
	}
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		<-p.done
		if t.Failed() {
			t.Logf("iobridge %s logs:\n%s", name, lockedString(p.logs))
		}
	})
	return p
}

// wait waits for the process to exit and returns its exit code.
func (p *process) wait(t testing.TB, within time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(within):
		t.Fatalf("iobridge %s still running after %v:\n%s", p.name, within, lockedString(p.logs))
	}
	return p.cmd.ProcessState.ExitCode()
}

// waitFor polls cond every 10ms until it holds, or fails the test after
// waitTimeout.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

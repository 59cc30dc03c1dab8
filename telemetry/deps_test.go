package telemetry_test

import (
	"os/exec"
	"strings"
	"testing"
)

// sdkPrefixes are the import paths only main may link: the OTel SDK, its
// exporters, Prometheus and gRPC (which the OTLP/gRPC exporters bring).
var sdkPrefixes = []string{
	"go.opentelemetry.io/otel/sdk",
	"go.opentelemetry.io/otel/exporters/",
	"github.com/prometheus/",
	"google.golang.org/grpc",
}

// sdkOwner is the one library package that sets the SDK up.
const sdkOwner = "github.com/iobridge/iobridge/telemetry/otelsdk"

// TestDependencies holds the dependency rule: a library package takes its
// providers through the OpenTelemetry API (this package) and links none of
// the SDK, which commands (package main) wire through telemetry/otelsdk.
// It lists every package of the module with `go list`, tests excluded.
func TestDependencies(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list the packages: %v", err)
	}
	cmd := exec.CommandContext(t.Context(), gobin, "list", "-f", "{{.ImportPath}} {{.Name}} {{join .Deps \" \"}}", "github.com/iobridge/iobridge/...")
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go list: %v\n%s", err, stderr)
	}
	checked := 0
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		path, name, deps := fields[0], fields[1], fields[2:]
		var sdk []string
		for _, d := range deps {
			for _, p := range sdkPrefixes {
				if strings.HasPrefix(d, p) {
					sdk = append(sdk, d)
					break
				}
			}
		}
		switch {
		case path == sdkOwner:
			// The control: if the prefixes went stale, this would
			// pass every library without looking.
			if len(sdk) == 0 {
				t.Errorf("%s links none of %v: the prefixes are stale", path, sdkPrefixes)
			}
		case strings.HasPrefix(path, sdkOwner+"/"):
			// Test support under otelsdk (spantest): linked by tests
			// only, never by a library.
		case name == "main":
		default:
			checked++
			if len(sdk) > 0 {
				t.Errorf("library %s links %d SDK packages (%s, ...); take the providers through the OTel API and wire the SDK in main (telemetry/otelsdk)", path, len(sdk), sdk[0])
			}
		}
	}
	if checked == 0 {
		t.Fatalf("go list named no library package:\n%s", out)
	}
}

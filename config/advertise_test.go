package config

import (
	"strings"
	"testing"
)

func TestAdvertise(t *testing.T) {
	const redis = "[adapter]\ntype = \"redis\"\nurl = \"redis://127.0.0.1:6379/0\"\n"
	cases := []struct {
		name    string
		toml    string
		problem string // substring of the one problem; "" means none
		warning string // substring of a warning on adapter.advertise; "" means none
	}{
		{"memory adapter", "[server]\nlisten = \":8080\"\n", "", ""},
		{"given", redis + "advertise = \"http://10.0.0.5:8080\"\n[server]\nlisten = \":8080\"\n", "", ""},
		{"https given", redis + "advertise = \"https://node1.example.com\"\n", "", ""},
		{"specific listen", redis + "[server]\nlisten = \"10.0.0.5:8080\"\n", "", ""},
		{"every interface", redis + "[server]\nlisten = \":8080\"\n",
			`adapter.advertise: required with type "redis" when server.listen (":8080") is every interface: the URL other nodes forward this node's polling requests to, as advertise = "http://10.0.0.5:8080"`, ""},
		{"unspecified IP", redis + "[server]\nlisten = \"0.0.0.0:9000\"\n", `as advertise = "http://10.0.0.5:9000"`, ""},
		{"loopback", redis, "", `only nodes on this machine reach it`},
		{"tls", redis + "[server]\nlisten = \"10.0.0.5:443\"\n[tls]\nmode = \"manual\"\ncert_file = \"c.pem\"\nkey_file = \"k.pem\"\n",
			`adapter.advertise: required with type "redis" and [tls]`, ""},
		{"path", redis + "advertise = \"http://10.0.0.5:8080/socket.io/\"\n", `write a base URL, scheme://host:port`, ""},
		{"scheme", redis + "advertise = \"ws://10.0.0.5:8080\"\n", `the scheme must be http or https`, ""},
		{"not a URL", redis + "advertise = \"10.0.0.5:8080\"\n", `adapter.advertise: "10.0.0.5:8080" is not an absolute URL`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, warnings, err := Parse([]byte(tc.toml), nil)
			var probs []string
			if cerr, ok := err.(*Error); ok {
				for _, p := range cerr.Problems {
					if p.Path == "adapter.advertise" {
						probs = append(probs, p.String())
					}
				}
			} else if err != nil && tc.problem == "" {
				t.Fatalf("Parse: %v", err)
			}
			switch {
			case tc.problem == "" && len(probs) > 0:
				t.Errorf("problems %q, want none on adapter.advertise", probs)
			case tc.problem != "" && (len(probs) != 1 || !strings.Contains(probs[0], tc.problem)):
				t.Errorf("problems %q, want one containing %q", probs, tc.problem)
			}
			var warned []string
			for _, w := range warnings {
				if w.Path == "adapter.advertise" {
					warned = append(warned, w.String())
				}
			}
			switch {
			case tc.warning == "" && len(warned) > 0:
				t.Errorf("warnings %q, want none on adapter.advertise", warned)
			case tc.warning != "" && (len(warned) != 1 || !strings.Contains(warned[0], tc.warning)):
				t.Errorf("warnings %q, want one containing %q", warned, tc.warning)
			}
		})
	}
}

package plugins_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/iobridge/iobridge/plugins"
)

// readOnly is a plugin of one's own: during maintenance it refuses every
// event but "ping", which it answers itself.
type readOnly struct{}

func (readOnly) Name() string { return "readonly" }

func (readOnly) OnInbound(_ context.Context, e plugins.InboundEvent) (plugins.InboundReply, error) {
	if e.Name == "ping" {
		return plugins.InboundReply{Handled: true, AckArgs: []json.RawMessage{json.RawMessage(`"pong"`)}}, nil
	}
	return plugins.InboundReply{}, &plugins.Error{Status: http.StatusServiceUnavailable, Message: "read-only maintenance"}
}

// A program embedding the proxy builds a chain of its own plugins and
// built-ins and hands it to its route: translate.Route{Name: "/chat",
// Plugins: chain, …}. Here the chain is run directly.
func Example() {
	filter, err := plugins.NewFilter(plugins.FilterConfig{Deny: []string{"admin.*"}})
	if err != nil {
		panic(err)
	}
	chain := plugins.NewChain(slog.Default(), []plugins.Plugin{filter, readOnly{}})
	ctx := context.Background()
	for _, name := range []string{"ping", "admin.reset", "chat"} {
		rep, err := chain.Inbound(ctx, plugins.InboundEvent{Name: name, Ack: true})
		var pe *plugins.Error
		switch {
		case errors.As(err, &pe):
			fmt.Printf("%s: refused by %s, status %d: %s\n", name, pe.Plugin, pe.Status, pe.Message)
		case rep.Handled:
			fmt.Printf("%s: answered by a plugin: %s\n", name, rep.AckArgs[0])
		default:
			fmt.Printf("%s: forwarded\n", name)
		}
	}
	fmt.Println("plugins:", strings.Join(names(chain), ", "))
	// Output:
	// ping: answered by a plugin: "pong"
	// admin.reset: refused by filter, status 403: event not allowed
	// chat: refused by readonly, status 503: read-only maintenance
	// plugins: filter, readonly
}

func names(c *plugins.Chain) []string {
	var out []string
	for _, p := range c.Plugins() {
		out = append(out, p.Name())
	}
	return out
}

// Command cmd runs the iobridge example backend alone:
//
//	IOBRIDGE_API_TOKEN=change-me go run ./examples/backend/cmd \
//	    -secret whsec_... -api http://127.0.0.1:8081
//
// Point a [[namespace]] block's webhook at http://127.0.0.1:4000/hooks with
// the same secret. `iobridge demo` runs it for you.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/iobridge/iobridge/examples/backend"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:4000", "address to listen on")
	secret := flag.String("secret", os.Getenv("IOBRIDGE_WEBHOOK_SECRET"), "Standard Webhooks secret (whsec_…); default $IOBRIDGE_WEBHOOK_SECRET")
	api := flag.String("api", "http://127.0.0.1:8081", "the sidecar's control API base URL")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := backend.Run(ctx, *addr, backend.Config{
		Secret: *secret,
		API:    *api,
		Token:  os.Getenv("IOBRIDGE_API_TOKEN"),
		Logger: slog.Default(),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

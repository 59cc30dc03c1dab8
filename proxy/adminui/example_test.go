package adminui_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"golang.org/x/crypto/bcrypt"

	"github.com/iobridge/iobridge/proxy/adapter"
	"github.com/iobridge/iobridge/proxy/adminui"
	"github.com/iobridge/iobridge/proxy/socketio"
)

// Instrument a server before serving it: the UI then logs in to its
// "/admin" namespace with the username and the password whose bcrypt
// hash is given.
func ExampleInstrument() {
	srv := socketio.NewServer(socketio.Config{Adapter: adapter.New, Logger: slog.New(slog.DiscardHandler)})
	hash, _ := bcrypt.GenerateFromPassword([]byte("change me"), bcrypt.MinCost)
	stop, err := adminui.Instrument(context.Background(), srv, adminui.Config{
		Username:     "admin",
		PasswordHash: string(hash),
		Mode:         adminui.ModeProduction, // stats only
		ServerID:     "node-1",
		Logger:       slog.New(slog.DiscardHandler),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stop()
	_, ok := srv.Namespace(adminui.DefaultNamespace)
	fmt.Println("admin namespace:", ok)
	// Output:
	// admin namespace: true
}

// The password must be a bcrypt hash, as the Node package requires.
func ExampleInstrument_plainPassword() {
	srv := socketio.NewServer(socketio.Config{Adapter: adapter.New, Logger: slog.New(slog.DiscardHandler)})
	_, err := adminui.Instrument(context.Background(), srv, adminui.Config{Username: "admin", PasswordHash: "admin"})
	fmt.Println(errors.Is(err, adminui.ErrConfig))
	// Output:
	// true
}

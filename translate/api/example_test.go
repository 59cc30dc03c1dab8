package api_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/iobridge/iobridge/proxy/adapter"
	"github.com/iobridge/iobridge/proxy/socketio"
	"github.com/iobridge/iobridge/translate"
	"github.com/iobridge/iobridge/translate/api"
)

// A backend emits to a room through the control API.
func ExampleNew() {
	srv := socketio.NewServer(socketio.Config{Adapter: adapter.New, Logger: slog.New(slog.DiscardHandler)})
	defer srv.Shutdown(context.Background())
	a, err := api.New(api.Config{
		Token:    "change-me",
		Server:   srv,
		Executor: translate.NewExecutor(srv),
		Logger:   slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	ts := httptest.NewServer(a.Handler())
	defer ts.Close()

	for _, token := range []string{"change-me", "wrong"} {
		req, _ := http.NewRequest("POST", ts.URL+"/v1/emit",
			strings.NewReader(`{"namespace":"/","to":["user:42"],"event":"file.progress","args":[{"percent":50}]}`))
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		fmt.Print(res.StatusCode, " ", string(body))
	}
	// Output:
	// 202 {"recipients":0}
	// 401 {"error":{"code":"unauthorized","message":"missing or invalid bearer token"}}
}

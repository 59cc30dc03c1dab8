package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/iobridge/iobridge/proxy/socketio"
	"github.com/iobridge/iobridge/translate"
)

// Error codes: the "code" of an error answer {"error":{"code","message"}}.
const (
	CodeInvalidJSON      = "invalid_json"       // 400: the body is not the JSON the route takes
	CodeInvalidRequest   = "invalid_request"    // 400: well-formed, but not meaningful (no event, no rooms)
	CodeUnauthorized     = "unauthorized"       // 401: missing or wrong bearer token
	CodeNotFound         = "not_found"          // 404: no such route
	CodeUnknownNamespace = "unknown_namespace"  // 404: no such namespace
	CodeMethodNotAllowed = "method_not_allowed" // 405
	CodeBodyTooLarge     = "body_too_large"     // 413: over Config.MaxBodyBytes
	CodeUnavailable      = "unavailable"        // 503: shutting down, or a query the cluster did not answer
	CodeInternal         = "internal"           // 500
)

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// abort answers an error and stops the handler chain.
func abort(c *gin.Context, status int, code, message string) {
	c.Abort()
	writeJSON(c, status, errorBody{errorDetail{code, message}})
}

// writeJSON answers v as JSON. Unlike gin's c.JSON it leaves <, > and &
// alone: args travel as the client sent them, not HTML-escaped.
func writeJSON(c *gin.Context, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error":{"code":"internal","message":"internal error"}}` + "\n")
	}
	c.Data(status, "application/json; charset=utf-8", buf.Bytes())
}

// fail answers err, mapped to the wire in this one place.
func (a *API) fail(c *gin.Context, err error) {
	status, code := http.StatusInternalServerError, CodeInternal
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		status, code = http.StatusRequestEntityTooLarge, CodeBodyTooLarge
	case errors.Is(err, errInvalidJSON):
		status, code = http.StatusBadRequest, CodeInvalidJSON
	case errors.Is(err, translate.ErrUnknownNamespace):
		status, code = http.StatusNotFound, CodeUnknownNamespace
	case errors.Is(err, translate.ErrInvalidInstruction), errors.Is(err, errInvalidRequest):
		status, code = http.StatusBadRequest, CodeInvalidRequest
	case errors.Is(err, translate.ErrClosed), errors.Is(err, context.DeadlineExceeded), errors.Is(err, socketio.ErrRemoteTimeout):
		status, code = http.StatusServiceUnavailable, CodeUnavailable
	}
	msg := err.Error()
	if status == http.StatusInternalServerError {
		a.log.Error("api: request failed", "method", c.Request.Method, "path", c.Request.URL.Path, "err", err)
		msg = "internal error"
	}
	abort(c, status, code, msg)
}

var (
	errInvalidJSON    = errors.New("invalid JSON")
	errInvalidRequest = errors.New("invalid request")
)

// decode reads the request's JSON body into v. Unknown fields are
// refused: a misspelt "to" must not turn an emit to a room into an emit to
// everyone.
func decode(c *gin.Context, v any) error {
	dec := json.NewDecoder(c.Request.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		if errors.Is(err, io.EOF) {
			return wrap(errInvalidJSON, "empty body: want a JSON object")
		}
		return wrap(errInvalidJSON, err.Error())
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return wrap(errInvalidJSON, "unexpected data after the JSON object")
	}
	return nil
}

// msgError is a sentinel with its own message.
type msgError struct {
	kind error
	msg  string
}

func (e *msgError) Error() string { return e.msg }
func (e *msgError) Unwrap() error { return e.kind }

func wrap(kind error, msg string) error { return &msgError{kind, msg} }

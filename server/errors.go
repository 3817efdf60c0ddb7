package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"zhizhi/agent/wire"
)

// HTTPError is an error a handler returns to answer with Code and a wire.Error{Msg, Field} body. Err, the
// cause, is logged and never sent.
type HTTPError struct {
	Code  int
	Msg   string
	Field string
	Err   error

	challenge  string        // WWW-Authenticate of a 401
	expired    bool          // a 401 for a session cookie that no longer works
	retryAfter time.Duration // Retry-After of a 429
}

// Error implements error.
func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("%d %s", e.Code, e.Msg)
	if e.Field != "" {
		msg += " (" + e.Field + ")"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause.
func (e *HTTPError) Unwrap() error { return e.Err }

func httpErr(code int, msg string, cause error) *HTTPError {
	return &HTTPError{Code: code, Msg: msg, Err: cause}
}

func badField(field, msg string) *HTTPError {
	return &HTTPError{Code: http.StatusBadRequest, Msg: msg, Field: field}
}

// writeError answers with err: an *HTTPError as it says, anything else as a 500 whose cause is only logged.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error, attrs ...any) {
	var he *HTTPError
	if !errors.As(err, &he) {
		he = httpErr(http.StatusInternalServerError, "internal error", err)
	}
	level := slog.LevelInfo
	if he.Code >= 500 {
		level = slog.LevelError
	}
	attrs = append(attrs, "method", r.Method, "path", r.URL.Path, "code", he.Code, "msg", he.Msg)
	if he.Field != "" {
		attrs = append(attrs, "field", he.Field)
	}
	if he.Err != nil {
		attrs = append(attrs, "err", he.Err)
	}
	s.log.Log(r.Context(), level, "request failed", attrs...)
	switch he.Code {
	case http.StatusUnauthorized:
		challenge := he.challenge
		if challenge == "" {
			challenge = `Basic realm="zhizhi", charset="UTF-8"`
		}
		w.Header().Set("WWW-Authenticate", challenge)
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "5")
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", retryAfter(he.retryAfter))
	}
	writeJSON(w, he.Code, wire.Error{Error: he.Msg, Field: he.Field})
}

// retryAfter formats d as whole seconds, rounded up, at least 1.
func retryAfter(d time.Duration) string {
	return strconv.FormatInt(max(1, int64((d+time.Second-1)/time.Second)), 10)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the client went away: nothing left to tell it
}

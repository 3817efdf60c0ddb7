package server

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"time"

	"zhizhi/collector/ingest"
)

// ingestTimeout bounds the store's commit of one batch; the client going away does not cut it short, so an
// acknowledged batch and a stored batch never differ.
const ingestTimeout = 30 * time.Second

func (s *Server) handleIngest(w http.ResponseWriter, r *http.Request, c caller) error {
	received := s.clock()
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return httpErr(http.StatusUnsupportedMediaType, fmt.Sprintf("unsupported content type %q (use application/json)", ct), err)
		}
	}
	if r.ContentLength > s.lim.MaxBodyBytes {
		return httpErr(http.StatusRequestEntityTooLarge,
			fmt.Sprintf("request body too large: %d bytes, at most %d; send fewer samples per batch", r.ContentLength, s.lim.MaxBodyBytes), nil)
	}
	body := http.MaxBytesReader(w, r.Body, s.lim.MaxBodyBytes+1) // Decode enforces the limit itself
	b, err := ingest.Decode(body, r.Header.Get("Content-Encoding"), s.lim)
	if err != nil {
		return ingestError(err)
	}
	if err := ingest.Validate(b, c.Agent.ID, received, s.lim); err != nil {
		return ingestError(err)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), ingestTimeout)
	defer cancel()
	ack, err := s.store.Ingest(ctx, *c.Agent, b, received)
	switch {
	case errors.Is(err, ErrRevoked):
		return httpErr(http.StatusForbidden, "agent token revoked", err)
	case errors.Is(err, ErrBusy):
		// Backpressure: answered at once (Retry-After is set for every 503) instead of queueing without bound.
		return httpErr(http.StatusServiceUnavailable, "server busy, retry later", err)
	case err != nil:
		return httpErr(http.StatusServiceUnavailable, "batch not stored, retry later", err)
	}
	s.m.samples.Add(float64(ack.Accepted))
	s.m.duplicates.Add(float64(ack.Duplicates))
	writeJSON(w, http.StatusOK, ack)
	return nil
}

// ingestError maps a Decode or Validate error to its HTTP answer.
func ingestError(err error) error {
	var fe *ingest.FieldError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &fe):
		return &HTTPError{Code: http.StatusBadRequest, Msg: fe.Msg, Field: fe.Field}
	case errors.Is(err, ingest.ErrTooLarge), errors.As(err, &mbe):
		return httpErr(http.StatusRequestEntityTooLarge, "request body too large; send fewer samples per batch", err)
	case errors.Is(err, ingest.ErrUnsupportedEncoding):
		return httpErr(http.StatusUnsupportedMediaType, err.Error(), err)
	}
	return httpErr(http.StatusBadRequest, "could not read the request body", err)
}

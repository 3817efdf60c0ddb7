package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// agentJSON is an agent as the API shows it.
type agentJSON struct {
	ID         string     `json:"id"`
	SystemID   int64      `json:"system_id"`
	System     string     `json:"system"`
	Department string     `json:"department"`
	CreatedAt  time.Time  `json:"created_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	LastSeen   *time.Time `json:"last_seen"`
	LastSeq    uint64     `json:"last_seq"`
	ClockSkewS float64    `json:"clock_skew_s"`
	Dropped    uint64     `json:"dropped"`
	HostID     int64      `json:"host_id,omitempty"`
	Hostname   string     `json:"hostname,omitempty"`
}

func agentView(a Agent) agentJSON {
	return agentJSON{
		ID: a.ID, SystemID: a.SystemID, System: a.System, Department: a.Department, CreatedAt: a.CreatedAt,
		RevokedAt: a.RevokedAt, LastSeen: a.LastSeen, LastSeq: a.LastSeq, ClockSkewS: a.ClockSkew.Seconds(),
		Dropped: a.Dropped, HostID: a.HostID, Hostname: a.Hostname,
	}
}

// EnrollRequest is the body of POST /api/v1/agents.
type EnrollRequest struct {
	System     string `json:"system"`
	Department string `json:"department"`
}

// maxNameBytes bounds system and department names.
const maxNameBytes = 200

func checkName(field, v string) error {
	switch {
	case strings.TrimSpace(v) == "":
		return badField(field, "required")
	case len(v) > maxNameBytes:
		return badField(field, fmt.Sprintf("%d bytes, at most %d", len(v), maxNameBytes))
	case !utf8.ValidString(v):
		return badField(field, "not valid UTF-8")
	}
	return nil
}

// decodeBody decodes a small JSON request body strictly into v.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var ute *json.UnmarshalTypeError
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &ute):
			return badField(ute.Field, "expected "+ute.Type.Kind().String()+", got "+ute.Value)
		case errors.As(err, &mbe):
			return httpErr(http.StatusRequestEntityTooLarge, "request body too large", err)
		}
		return httpErr(http.StatusBadRequest, "invalid JSON body: "+strings.TrimPrefix(err.Error(), "json: "), err)
	}
	return nil
}

func (s *Server) handleEnrollAgent(w http.ResponseWriter, r *http.Request, c caller) error {
	var req EnrollRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	req.System, req.Department = strings.TrimSpace(req.System), strings.TrimSpace(req.Department)
	if err := checkName("system", req.System); err != nil {
		return err
	}
	if err := checkName("department", req.Department); err != nil {
		return err
	}
	a, token, err := s.store.EnrollAgent(r.Context(), req.System, req.Department)
	if err != nil {
		return fmt.Errorf("enroll agent: %w", err)
	}
	s.log.Info("agent enrolled", "agent", a.ID, "system", a.System, "department", a.Department, "by", c.User.Name)
	writeJSON(w, http.StatusCreated, struct {
		Agent agentJSON `json:"agent"`
		Token string    `json:"token"`
	}{agentView(a), token})
	return nil
}

func (s *Server) handleListAgents(w http.ResponseWriter, r *http.Request, _ caller) error {
	agents, err := s.store.ListAgents(r.Context())
	if err != nil {
		return fmt.Errorf("list agents: %w", err)
	}
	out := make([]agentJSON, len(agents))
	for i, a := range agents {
		out[i] = agentView(a)
	}
	writeJSON(w, http.StatusOK, struct {
		Agents []agentJSON `json:"agents"`
	}{out})
	return nil
}

func (s *Server) handleRevokeAgent(w http.ResponseWriter, r *http.Request, c caller) error {
	id := r.PathValue("id")
	err := s.store.RevokeAgent(r.Context(), id)
	switch {
	case errors.Is(err, ErrNotFound):
		return &HTTPError{Code: http.StatusNotFound, Msg: "no agent " + id, Field: "id", Err: err}
	case errors.Is(err, ErrRevoked): // revoking twice is fine
	case err != nil:
		return fmt.Errorf("revoke agent: %w", err)
	}
	s.log.Info("agent revoked", "agent", id, "by", c.User.Name)
	writeJSON(w, http.StatusOK, struct {
		ID      string `json:"id"`
		Revoked bool   `json:"revoked"`
	}{id, true})
	return nil
}

package server

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"zhizhi/agent/wire"
	"zhizhi/server/auth"
)

// caller is who made a request: an agent, a user, or nobody on anonymous routes.
type caller struct {
	Agent *Agent
	User  *auth.User
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, c caller) error

// route is one entry of the route table: every endpoint of the server and the roles it admits.
type route struct {
	method, pattern string
	roles           []auth.Role // empty: anonymous
	handler         handlerFunc
	// observe, when set, receives the status and duration of every request (ingest metrics).
	observe func(code int, d time.Duration)
}

// RouteInfo describes a route for documentation and tests.
type RouteInfo struct {
	Method, Pattern string
	Roles           []auth.Role // empty: anonymous
}

// Routes lists every route of the server in table order.
func (s *Server) Routes() []RouteInfo {
	out := make([]RouteInfo, len(s.routes))
	for i, rt := range s.routes {
		out[i] = RouteInfo{rt.method, rt.pattern, slices.Clone(rt.roles)}
	}
	return out
}

var (
	adminOnly = []auth.Role{auth.RoleAdmin}
	readers   = []auth.Role{auth.RoleAdmin, auth.RoleAnalyst}
)

// routeTable declares every route of the server: add new endpoints here and nowhere else.
func (s *Server) routeTable() []route {
	return []route{
		{method: "POST", pattern: "/api/v1/ingest", roles: []auth.Role{auth.RoleAgent}, handler: s.handleIngest, observe: s.m.observeIngest},

		{method: "POST", pattern: "/api/v1/agents", roles: adminOnly, handler: s.handleEnrollAgent},
		{method: "GET", pattern: "/api/v1/agents", roles: adminOnly, handler: s.handleListAgents},
		{method: "POST", pattern: "/api/v1/agents/{id}/revoke", roles: adminOnly, handler: s.handleRevokeAgent},

		{method: "GET", pattern: "/api/v1/systems", roles: readers, handler: s.handleSystems},
		{method: "GET", pattern: "/api/v1/hosts", roles: readers, handler: s.handleHosts},
		{method: "GET", pattern: "/api/v1/hosts/{id}", roles: readers, handler: s.handleHost},
		{method: "GET", pattern: "/api/v1/hosts/{id}/series", roles: readers, handler: s.handleSeries},

		{method: "GET", pattern: "/healthz", handler: s.handleHealthz},
		{method: "GET", pattern: "/metrics", roles: s.opts.MetricsRoles, handler: s.handleMetrics},
	}
}

func (s *Server) buildMux() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range s.routes {
		mux.Handle(rt.method+" "+rt.pattern, s.wrap(rt))
	}
	// Unknown paths and methods answer in JSON like everything else.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		rec := &statusRecorder{ResponseWriter: discardBody{w}}
		h.ServeHTTP(rec, r) // sets Allow on 405
		code := rec.code
		if code == 0 || code == http.StatusOK {
			code = http.StatusNotFound
		}
		writeJSON(w, code, wire.Error{Error: strings.ToLower(http.StatusText(code))})
	})
}

func (s *Server) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		var rec *statusRecorder
		if rt.observe != nil {
			rec = &statusRecorder{ResponseWriter: w}
			w = rec
		}
		c, err := s.authenticate(r, rt.roles)
		if err == nil {
			err = rt.handler(w, r, c)
		}
		if err != nil {
			attrs := []any{}
			if c.Agent != nil {
				attrs = append(attrs, "agent", c.Agent.ID)
			}
			if c.User != nil {
				attrs = append(attrs, "user", c.User.Name)
			}
			s.writeError(w, r, err, attrs...)
		}
		if rec != nil {
			rt.observe(rec.status(), time.Since(start))
		}
	})
}

// authenticate admits a request to a route allowing roles: an agent by bearer token, a user by HTTP Basic.
// Missing or wrong credentials get 401; genuine credentials of a role the route does not admit get 403.
func (s *Server) authenticate(r *http.Request, roles []auth.Role) (caller, error) {
	if len(roles) == 0 {
		return caller{}, nil
	}
	agentRoute := slices.Contains(roles, auth.RoleAgent)
	scheme, cred, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	var c caller
	var role auth.Role
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		token := strings.TrimSpace(cred)
		if token == "" {
			return caller{}, unauthorized(agentRoute, "missing agent token", nil)
		}
		a, err := s.store.AuthenticateAgent(r.Context(), token)
		switch {
		case errors.Is(err, ErrRevoked):
			return caller{}, httpErr(http.StatusForbidden, "agent token revoked", err)
		case errors.Is(err, ErrUnauthorized), errors.Is(err, ErrNotFound):
			return caller{}, unauthorized(agentRoute, "unknown agent token", err)
		case err != nil:
			return caller{}, httpErr(http.StatusInternalServerError, "internal error", err)
		}
		c, role = caller{Agent: &a}, auth.RoleAgent
	case strings.EqualFold(scheme, "Basic"):
		name, password, ok := r.BasicAuth()
		if !ok {
			return caller{}, unauthorized(agentRoute, "malformed basic credentials", nil)
		}
		u, err := s.users.Authenticate(r.Context(), name, password)
		switch {
		case errors.Is(err, auth.ErrBadCredentials):
			return caller{}, unauthorized(agentRoute, "bad user name or password", err)
		case err != nil:
			return caller{}, httpErr(http.StatusInternalServerError, "internal error", err)
		}
		c, role = caller{User: &u}, u.Role
	case agentRoute:
		return caller{}, unauthorized(true, "missing agent token (Authorization: Bearer ...)", nil)
	default:
		return caller{}, unauthorized(false, "authentication required", nil)
	}
	if !slices.Contains(roles, role) {
		return c, httpErr(http.StatusForbidden, "role "+string(role)+" may not use this endpoint", nil)
	}
	return c, nil
}

func unauthorized(agent bool, msg string, cause error) *HTTPError {
	challenge := `Basic realm="zhizhi", charset="UTF-8"`
	if agent {
		challenge = `Bearer realm="zhizhi"`
	}
	return &HTTPError{Code: http.StatusUnauthorized, Msg: msg, Err: cause, challenge: challenge}
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(p []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusRecorder) status() int {
	if s.code == 0 {
		return http.StatusOK
	}
	return s.code
}

// discardBody keeps headers and status but drops the body (the mux's plain-text 404 and 405 pages).
type discardBody struct{ http.ResponseWriter }

func (d discardBody) Write(p []byte) (int, error) { return len(p), nil }
func (d discardBody) WriteHeader(int)             {}

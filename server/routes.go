package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"zhizhi/agent/wire"
	"zhizhi/server/auth"
	"zhizhi/server/console"
)

// caller is who made a request: an agent, a user (with the session when signed in through the console), or
// nobody on anonymous routes.
type caller struct {
	Agent   *Agent
	User    *auth.User
	Session *auth.Session
}

type callerKey struct{}

// callerFrom returns the caller the route wrapper stored in the request context.
func callerFrom(r *http.Request) caller {
	c, _ := r.Context().Value(callerKey{}).(caller)
	return c
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, c caller) error

// routeKind decides how a refused request is answered.
type routeKind string

const (
	// kindAPI routes (/api/v1, health, metrics) answer JSON; 401 challenges for Basic or Bearer credentials.
	kindAPI routeKind = "api"
	// kindPage routes are console pages: an anonymous GET is redirected to the login page and back, a wrong
	// role gets the console's 403 page.
	kindPage routeKind = "page"
	// kindJSON routes are the console's own JSON: 401 and 403 in JSON, without a Basic challenge (a browser
	// would pop up its password dialog).
	kindJSON routeKind = "json"
)

// route is one entry of the route table: every endpoint of the server and the roles it admits.
type route struct {
	method, pattern string
	roles           []auth.Role // empty: anonymous
	kind            routeKind
	handler         handlerFunc
	// observe, when set, receives the status and duration of every request (ingest metrics).
	observe func(code int, d time.Duration)
}

// RouteInfo describes a route for documentation and tests.
type RouteInfo struct {
	Method, Pattern string
	Roles           []auth.Role // empty: anonymous
	// Kind is "api", "page" (console HTML) or "json" (console JSON).
	Kind string
}

// Routes lists every route of the server in table order.
func (s *Server) Routes() []RouteInfo {
	out := make([]RouteInfo, len(s.routes))
	for i, rt := range s.routes {
		out[i] = RouteInfo{rt.method, rt.pattern, slices.Clone(rt.roles), string(rt.kind)}
	}
	return out
}

var (
	adminOnly = []auth.Role{auth.RoleAdmin}
	// readers may read everything through /api/v1. The department role is refused there: the API is not
	// scoped by department; a department's officer reads through the console, whose Data is scoped.
	readers = []auth.Role{auth.RoleAdmin, auth.RoleAnalyst}
	// people are every user role: the console's pages and JSON, scoped by console.Scope.
	people = []auth.Role{auth.RoleAdmin, auth.RoleAnalyst, auth.RoleDepartment}
)

// routeTable declares every route of the server: add new endpoints here and nowhere else.
func (s *Server) routeTable() []route {
	routes := []route{
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
	for i := range routes {
		routes[i].kind = kindAPI
	}
	if s.console == nil {
		return routes
	}
	routes = append(routes,
		route{method: "GET", pattern: loginPath, kind: kindPage, handler: s.handleLoginPage},
		route{method: "POST", pattern: loginPath, kind: kindPage, handler: s.handleLogin},
		route{method: "POST", pattern: console.LogoutPath, roles: people, kind: kindPage, handler: s.handleLogout},
	)
	for _, cr := range s.console.Routes() {
		rt := route{method: cr.Method, pattern: cr.Pattern, roles: people, kind: kindPage, handler: serveHandler(cr.Handler)}
		switch {
		case cr.Public:
			rt.roles = nil
		case len(cr.Roles) > 0:
			rt.roles = nil
			for _, name := range cr.Roles {
				role, err := auth.ParseRole(name)
				if err != nil {
					panic(fmt.Sprintf("server: console route %s %s: %v", cr.Method, cr.Pattern, err))
				}
				rt.roles = append(rt.roles, role)
			}
		}
		if cr.JSON {
			rt.kind = kindJSON
		}
		routes = append(routes, rt)
	}
	return routes
}

func serveHandler(h http.Handler) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, _ caller) error {
		h.ServeHTTP(w, r)
		return nil
	}
}

func (s *Server) buildMux() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range s.routes {
		mux.Handle(rt.method+" "+rt.pattern, s.wrap(rt))
	}
	// Unknown paths and methods answer in JSON like everything else, except unknown console pages.
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
		if s.console != nil && code == http.StatusNotFound && (r.Method == "GET" || r.Method == "HEAD") &&
			!strings.HasPrefix(r.URL.Path, "/api/") {
			s.console.NotFound(w, r)
			return
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
		c, err := s.authenticate(r, rt)
		r = r.WithContext(context.WithValue(r.Context(), callerKey{}, c))
		if err == nil {
			err = s.checkCSRF(w, r, c)
		}
		if err == nil {
			err = rt.handler(w, r, c)
		}
		if err != nil {
			s.refuse(w, r, rt, c, err)
		}
		if rec != nil {
			rt.observe(rec.status(), time.Since(start))
		}
	})
}

// refuse answers a failed request as its route kind wants: console pages redirect anonymous callers to the
// login page (and back afterwards) and show a 403 page; everything else answers JSON.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, rt route, c caller, err error) {
	var he *HTTPError
	errors.As(err, &he)
	if rt.kind == kindPage && s.console != nil && he != nil {
		switch he.Code {
		case http.StatusUnauthorized:
			s.log.Info("sign-in required", "method", r.Method, "path", r.URL.Path, "msg", he.Msg)
			target := loginPath
			if r.Method == "GET" || r.Method == "HEAD" {
				q := url.Values{"next": {r.URL.RequestURI()}}
				if he.expired {
					q.Set("expired", "1")
				}
				target += "?" + q.Encode()
			}
			if he.expired {
				clearCookie(w, r, auth.SessionCookie, "/")
			}
			w.Header().Set("Cache-Control", "no-store")
			http.Redirect(w, r, target, http.StatusSeeOther)
			return
		case http.StatusForbidden:
			s.log.Info("request refused", "method", r.Method, "path", r.URL.Path, "code", he.Code, "msg", he.Msg,
				"user", userName(c))
			s.console.Forbidden(w, r)
			return
		}
	}
	if he != nil && he.Code == http.StatusUnauthorized && rt.kind != kindAPI {
		he.challenge = sessionChallenge
	}
	attrs := []any{}
	if c.Agent != nil {
		attrs = append(attrs, "agent", c.Agent.ID)
	}
	if c.User != nil {
		attrs = append(attrs, "user", c.User.Name)
	}
	s.writeError(w, r, err, attrs...)
}

func userName(c caller) string {
	if c.User != nil {
		return c.User.Name
	}
	return ""
}

// sessionChallenge is the WWW-Authenticate of a 401 on console routes: not Basic, so that a browser does not
// pop up its password dialog for the console's own JSON.
const sessionChallenge = `Session realm="zhizhi", form="/login"`

// authenticate admits a request to rt: an agent by bearer token, a user by HTTP Basic or by the console's
// session cookie. Missing, wrong or expired credentials get 401; genuine credentials of a role the route does
// not admit get 403; HTTP Basic under a sign-in lockout gets 429.
func (s *Server) authenticate(r *http.Request, rt route) (caller, error) {
	roles := rt.roles
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
		u, err := s.checkPassword(r, name, password)
		if err != nil {
			var he *HTTPError
			if errors.As(err, &he) && he.Code == http.StatusUnauthorized {
				return caller{}, unauthorized(agentRoute, he.Msg, err)
			}
			return caller{}, err
		}
		c, role = caller{User: &u}, u.Role
	case scheme != "":
		return caller{}, unauthorized(agentRoute, "unsupported authorization scheme", nil)
	default:
		ck, err := r.Cookie(auth.SessionCookie)
		if err != nil || ck.Value == "" {
			if agentRoute {
				return caller{}, unauthorized(true, "missing agent token (Authorization: Bearer ...)", nil)
			}
			return caller{}, unauthorized(false, "authentication required", nil)
		}
		sess, err := s.sessions.Lookup(r.Context(), ck.Value)
		switch {
		case errors.Is(err, auth.ErrNoSession):
			he := unauthorized(agentRoute, "session expired or signed out", nil)
			he.expired = true
			return caller{}, he
		case err != nil:
			return caller{}, httpErr(http.StatusInternalServerError, "internal error", err)
		}
		c, role = caller{User: &sess.User, Session: &sess}, sess.User.Role
	}
	if !slices.Contains(roles, role) {
		return c, httpErr(http.StatusForbidden, "role "+string(role)+" may not use this endpoint", nil)
	}
	return c, nil
}

// checkPassword checks a user's password under the sign-in throttle: 429 while the name or the client address
// is locked out, 401 for a wrong pair (one message whether the name exists or not).
func (s *Server) checkPassword(r *http.Request, name, password string) (auth.User, error) {
	ip := clientIP(r)
	if wait := s.throttle.Wait(name, ip); wait > 0 {
		return auth.User{}, &HTTPError{Code: http.StatusTooManyRequests, Msg: "too many failed sign-ins; try again later",
			retryAfter: wait}
	}
	u, err := s.users.Authenticate(r.Context(), name, password)
	switch {
	case errors.Is(err, auth.ErrBadCredentials):
		s.throttle.Fail(name, ip)
		s.log.Info("sign-in failed", "user", name, "ip", ip)
		return auth.User{}, &HTTPError{Code: http.StatusUnauthorized, Msg: "bad user name or password", Err: err}
	case err != nil:
		return auth.User{}, httpErr(http.StatusInternalServerError, "internal error", err)
	}
	s.throttle.Succeed(name, ip)
	return u, nil
}

// clientIP is the address the request came from. Forwarding headers are not trusted: behind a reverse proxy
// every client shares the proxy's address (and its IP throttle).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// checkCSRF refuses a state-changing request authenticated by the session cookie unless it carries the
// session's CSRF token in the X-CSRF-Token header or the console.CSRFField form field. Bearer and Basic
// callers are not cookie-based and need none.
func (s *Server) checkCSRF(w http.ResponseWriter, r *http.Request, c caller) error {
	if c.Session == nil {
		return nil
	}
	switch r.Method {
	case "GET", "HEAD", "OPTIONS", "TRACE":
		return nil
	}
	got := r.Header.Get(csrfHeader)
	if got == "" && isForm(r) {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		got = r.PostFormValue(console.CSRFField)
	}
	if !auth.TokensEqual(got, c.Session.CSRF) {
		return httpErr(http.StatusForbidden, "missing or wrong CSRF token", nil)
	}
	return nil
}

// csrfHeader carries the CSRF token of script requests.
const csrfHeader = "X-CSRF-Token"

const maxFormBytes = 16 << 10

func isForm(r *http.Request) bool {
	ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
	ct = strings.ToLower(strings.TrimSpace(ct))
	return ct == "application/x-www-form-urlencoded" || ct == "multipart/form-data"
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

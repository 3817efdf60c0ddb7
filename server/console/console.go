// Package console is zhizhi's web console: server-rendered pages, the annual heatmaps and their JSON, and the
// embedded front-end assets.
package console

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"zhizhi/server/console/i18n"
)

// CSRFField is the name of the hidden form field that carries PageContext.CSRF in every POST form.
const CSRFField = "csrf_token"

// LogoutPath is where the header's logout form posts.
const LogoutPath = "/logout"

// User is the signed-in person shown in the header.
type User struct {
	Name       string
	Role       string
	Department string
}

// PageContext is what the caller knows about a request: who asks, what they may see, the CSRF token for forms.
type PageContext struct {
	User  User
	Scope Scope
	CSRF  string
	// Lang is "zh-CN" or "en"; empty means the console decides from the lang cookie and Accept-Language.
	Lang string
	// Path is the requested path with its query, for the language switch to come back to; empty: r.URL.
	Path string
}

// Route is one console endpoint for the server's route table.
type Route struct {
	Method, Pattern string
	Handler         http.Handler
	// Public routes (static assets, language switch) need no signed-in user.
	Public bool
	// JSON routes answer JSON; an unauthenticated call should get 401, not a redirect to the login page.
	JSON bool
	// Roles, when set, are the only user roles ("admin", "analyst", "department") the server admits to the
	// route; empty admits every user role. Ignored for Public routes.
	Roles []string
}

// Console serves the console's pages, JSON and assets.
type Console struct {
	data   Data
	pc     func(*http.Request) PageContext
	log    *slog.Logger
	now    func() time.Time
	pages  map[string]*template.Template
	static *assets
	// findings serves the findings pages (findings.go); nil: Data, when it implements FindingsData.
	findings FindingsData
}

// New returns a console reading from data; pc tells who makes each request. It panics if the embedded
// templates do not parse (a build defect).
func New(data Data, pc func(*http.Request) PageContext, logger *slog.Logger) *Console {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &Console{data: data, pc: pc, log: logger.With("component", "console"), now: time.Now}
	c.static = loadAssets()
	pages, err := parsePages()
	if err != nil {
		panic(fmt.Sprintf("console: %v", err))
	}
	c.pages = pages
	return c
}

// WithClock makes the console read the time from now (default time.Now) and returns it.
func (c *Console) WithClock(now func() time.Time) *Console {
	c.now = now
	return c
}

// Routes lists every console endpoint.
func (c *Console) Routes() []Route {
	page := func(method, pattern string, h handlerFunc) Route {
		return Route{Method: method, Pattern: pattern, Handler: c.pageHandler(h)}
	}
	api := func(pattern string, h handlerFunc) Route {
		return Route{Method: "GET", Pattern: pattern, Handler: c.jsonHandler(h), JSON: true}
	}
	return append([]Route{
		page("GET", "/{$}", c.handleOverview),
		page("GET", "/systems", c.handleSystems),
		page("GET", "/systems/{id}", c.handleSystem),
		page("GET", "/hosts/{id}", c.handleHost),
		page("GET", "/heatmap", c.handleHeatmap),
		api("/console/api/matrix", c.handleMatrix),
		api("/console/api/hosts/{id}/series", c.handleSeries),
		{Method: "GET", Pattern: "/lang", Handler: http.HandlerFunc(c.handleLang), Public: true},
		{Method: "GET", Pattern: "/static/{path...}", Handler: c.static, Public: true},
	}, c.findingsRoutes()...)
}

// NotFound answers with the console's 404 page; the server may use it for unknown paths outside /api/.
func (c *Console) NotFound(w http.ResponseWriter, r *http.Request) {
	c.renderError(w, r, &HTTPError{Code: http.StatusNotFound})
}

// Forbidden answers with the console's 403 page (no data): the caller is signed in but its role may not use
// the page.
func (c *Console) Forbidden(w http.ResponseWriter, r *http.Request) {
	c.renderError(w, r, &HTTPError{Code: http.StatusForbidden})
}

// LoginPage is the data of the sign-in page.
type LoginPage struct {
	// Next is the local path to return to after signing in.
	Next string
	// Username refills the form after a failure.
	Username string
	// Error is the catalog key of the message to show ("login.failed", "login.throttled", "login.expired",
	// "login.form_stale"); empty shows none.
	Error string
	// FormToken is the anti-CSRF token of the form, posted back in the CSRFField field.
	FormToken string
}

// RenderLogin answers with the sign-in page and status code; the page posts to /login.
func (c *Console) RenderLogin(w http.ResponseWriter, r *http.Request, code int, lp LoginPage) {
	c.render(w, r, c.context(r), code, "login", page{Title: "login.title", Body: lp})
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, pc PageContext) error

// HTTPError is an error a handler returns to answer with Code; Param names the offending query parameter of
// a 400, Msg says what is wrong with it (in English, for logs and JSON). Err, the cause, is only logged.
type HTTPError struct {
	Code  int
	Param string
	Msg   string
	Err   error
}

// Error implements error.
func (e *HTTPError) Error() string {
	s := fmt.Sprintf("%d", e.Code)
	if e.Param != "" {
		s += " " + e.Param
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *HTTPError) Unwrap() error { return e.Err }

func badParam(param, msg string) *HTTPError {
	return &HTTPError{Code: http.StatusBadRequest, Param: param, Msg: msg}
}

// asHTTPError maps err to the answer: an *HTTPError as it is, ErrNotFound to 404, anything else to 500.
func asHTTPError(err error) *HTTPError {
	var he *HTTPError
	switch {
	case errors.As(err, &he):
		return he
	case errors.Is(err, ErrNotFound):
		return &HTTPError{Code: http.StatusNotFound, Err: err}
	}
	return &HTTPError{Code: http.StatusInternalServerError, Err: err}
}

func (c *Console) context(r *http.Request) PageContext {
	pc := c.pc(r)
	if pc.Lang == "" {
		pc.Lang = LangFromRequest(r)
	} else {
		pc.Lang = i18n.Normalize(pc.Lang)
	}
	if pc.Path == "" {
		pc.Path = r.URL.RequestURI()
	}
	return pc
}

func (c *Console) logErr(r *http.Request, he *HTTPError) {
	level := slog.LevelInfo
	if he.Code >= 500 {
		level = slog.LevelError
	}
	attrs := []any{"method", r.Method, "path", r.URL.Path, "code", he.Code}
	if he.Param != "" {
		attrs = append(attrs, "param", he.Param, "msg", he.Msg)
	}
	if he.Err != nil {
		attrs = append(attrs, "err", he.Err)
	}
	c.log.Log(r.Context(), level, "console request failed", attrs...)
}

func (c *Console) pageHandler(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r, c.context(r)); err != nil {
			c.renderError(w, r, err)
		}
	})
}

func (c *Console) jsonHandler(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r, c.context(r)); err != nil {
			he := asHTTPError(err)
			c.logErr(r, he)
			msg := he.Msg
			if msg == "" {
				msg = http.StatusText(he.Code)
			}
			writeJSON(w, r, he.Code, struct {
				Error string `json:"error"`
				Field string `json:"field,omitempty"`
			}{msg, he.Param})
		}
	})
}

// page is what every template receives.
type page struct {
	PageContext
	L        i18n.Lang
	Demo     bool
	Nav      string // the active nav item
	Title    string // catalog key of the page title
	TitleArg string
	Static   func(string) string
	Body     any // the page's own data
	JS       any // page data for console.js, JSON-encoded into the page
}

func (c *Console) render(w http.ResponseWriter, r *http.Request, pc PageContext, code int, name string, p page) {
	p.PageContext = pc
	p.L = i18n.Lang(pc.Lang)
	p.Demo = c.data.IsDemo(r.Context())
	p.Static = c.static.url
	t := c.pages[name]
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		c.log.Error("render", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	h.Set("Content-Language", pc.Lang)
	w.WriteHeader(code)
	w.Write(buf.Bytes())
}

// errorBody is the data of the error page.
type errorBody struct {
	Code  int
	Param string
}

func (c *Console) renderError(w http.ResponseWriter, r *http.Request, err error) {
	he := asHTTPError(err)
	c.logErr(r, he)
	title := "error.title"
	switch he.Code {
	case http.StatusNotFound:
		title = "error.404.title"
	case http.StatusBadRequest:
		title = "error.400.title"
	case http.StatusForbidden:
		title = "error.403.title"
	}
	c.render(w, r, c.context(r), he.Code, "error", page{Title: title, Body: errorBody{Code: he.Code, Param: he.Param}})
}

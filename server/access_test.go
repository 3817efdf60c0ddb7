package server

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"zhizhi/server/auth"
	"zhizhi/server/console"
	"zhizhi/server/console/consoletest"
)

// cenv is an env with the console over a fake district of 3 departments × 2 systems × 2 hosts: department
// n holds systems 2n-1 and 2n and hosts 4n-3 … 4n. The user dora is the officer of department 1.
type cenv struct {
	*env
	fake *consoletest.Fake
}

func newConsoleEnv(t *testing.T, opts Options, tls bool) *cenv {
	t.Helper()
	fake := consoletest.District(3, 2, 2, testNow)
	opts.Console = fake
	if opts.Throttle.NameFailures == 0 {
		// The walks below send many wrong passwords; TestLoginThrottle covers the defaults.
		opts.Throttle = auth.ThrottleOptions{NameFailures: 1 << 20, IPFailures: 1 << 20}
	}
	return &cenv{env: newEnvTLS(t, opts, tls), fake: fake}
}

// raw sends a request without following redirects.
func (e *env) raw(method, path string, body io.Reader, creds ...cred) (*http.Response, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.ts.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, c := range creds {
		c(req)
	}
	client := &http.Client{Transport: e.ts.Client().Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, string(data)
}

func cookie(name, value string) cred {
	return func(r *http.Request) { r.AddCookie(&http.Cookie{Name: name, Value: value}) }
}
func session(tok string) cred { return cookie(auth.SessionCookie, tok) }
func form(v url.Values) (io.Reader, cred) {
	return strings.NewReader(v.Encode()), header("Content-Type", "application/x-www-form-urlencoded")
}

var (
	formTokenRE = regexp.MustCompile(`name="` + console.CSRFField + `" value="([^"]*)"`)
)

func respCookie(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// loginForm fetches the sign-in form and returns its form cookie and token.
func (e *cenv) loginForm() (string, string) {
	e.t.Helper()
	resp, body := e.raw("GET", "/login", nil)
	m := formTokenRE.FindStringSubmatch(body)
	ck := respCookie(resp, loginCookie)
	if resp.StatusCode != 200 || m == nil || ck == nil || ck.Value != m[1] {
		e.t.Fatalf("login form: %d cookie %v\n%s", resp.StatusCode, ck, body)
	}
	return ck.Value, m[1]
}

// postLogin submits the sign-in form.
func (e *cenv) postLogin(name, pw, next string) (*http.Response, string) {
	e.t.Helper()
	ck, tok := e.loginForm()
	body, ct := form(url.Values{"username": {name}, "password": {pw}, "next": {next}, console.CSRFField: {tok}})
	return e.raw("POST", "/login", body, ct, cookie(loginCookie, ck))
}

// login signs in through the form and returns the session token and the session's CSRF token (read from the
// logout form of a page, as a browser would).
func (e *cenv) login(name, pw string) (string, string) {
	e.t.Helper()
	resp, body := e.postLogin(name, pw, "/")
	ck := respCookie(resp, auth.SessionCookie)
	if resp.StatusCode != http.StatusSeeOther || ck == nil || ck.Value == "" {
		e.t.Fatalf("login %s: %d %v\n%s", name, resp.StatusCode, ck, body)
	}
	resp, body = e.raw("GET", "/", nil, session(ck.Value))
	m := formTokenRE.FindStringSubmatch(body)
	if resp.StatusCode != 200 || m == nil || m[1] == "" {
		e.t.Fatalf("overview after login: %d\n%s", resp.StatusCode, body)
	}
	return ck.Value, m[1]
}

// coreConsolePages answer 200 to every user role in the fake district.
var coreConsolePages = map[string]bool{"/{$}": true, "/systems": true, "/systems/{id}": true, "/hosts/{id}": true, "/heatmap": true}

// coreConsoleJSON are the heatmap and chart JSON of every user role.
var coreConsoleJSON = map[string]bool{"/console/api/matrix": true, "/console/api/hosts/{id}/series": true}

// sentinels are names from the fake data: no refused request may show any of them.
var sentinels = []string{"System 001", "System 004", "host-0001", "host-0009", "Dept 01", "Dept 02", "不动产登记",
	"自然资源局", "web-01", "kylin"}

func noData(t *testing.T, name, body string, only ...string) {
	t.Helper()
	list := sentinels
	if len(only) > 0 {
		list = only
	}
	for _, s := range list {
		if strings.Contains(body, s) {
			t.Errorf("%s: refused, but the body shows %q:\n%.300s", name, s, body)
		}
	}
}

// TestEveryRouteRefusesAnonymousAndWrongRoles walks the whole route table with every kind of caller: API
// routes, console pages and JSON, login and logout, static files, health and metrics.
func TestEveryRouteRefusesAnonymousAndWrongRoles(t *testing.T) {
	e := newConsoleEnv(t, Options{}, false)
	e.store.hosts = []HostSummary{{ID: 1, AgentID: e.agentID, Hostname: "web-01", System: "不动产登记", Department: "自然资源局", LastSeen: testNow}}
	adminTok, adminCSRF := e.login("admin", "admin-pw")
	annTok, annCSRF := e.login("ann", "ann-pw")
	doraTok, doraCSRF := e.login("dora", "dora-pw")
	expiredTok, _ := e.login("ann", "ann-pw")
	e.srv.sessions.Delete(t.Context(), expiredTok) // a cookie whose session is gone

	type who struct {
		name   string
		creds  []cred
		role   auth.Role // "" for none
		valid  bool      // credentials are genuine
		logout bool      // signing out ends this session: run it last
	}
	csrf := func(tok string) cred { return header(csrfHeader, tok) }
	callers := []who{
		{"anonymous", nil, "", false, false},
		{"bad password", []cred{basic("admin", "nope")}, "", false, false},
		{"unknown user", []cred{basic("eve", "x")}, "", false, false},
		{"malformed basic", []cred{header("Authorization", "Basic !!!")}, "", false, false},
		{"unknown scheme", []cred{header("Authorization", "Digest x")}, "", false, false},
		{"forged cookie", []cred{session("forged")}, "", false, false},
		{"expired cookie", []cred{session(expiredTok)}, "", false, false},
		{"unknown token", []cred{bearer("forged")}, "", false, false},
		{"empty token", []cred{header("Authorization", "Bearer ")}, "", false, false},
		{"revoked token", []cred{bearer(e.revoked)}, auth.RoleAgent, false, false},
		{"agent", []cred{e.agent()}, auth.RoleAgent, true, false},
		{"analyst basic", []cred{e.analyst()}, auth.RoleAnalyst, true, false},
		{"department basic", []cred{basic("dora", "dora-pw")}, auth.RoleDepartment, true, false},
		{"admin basic", []cred{e.admin()}, auth.RoleAdmin, true, false},
		{"analyst cookie", []cred{session(annTok), csrf(annCSRF)}, auth.RoleAnalyst, true, true},
		{"department cookie", []cred{session(doraTok), csrf(doraCSRF)}, auth.RoleDepartment, true, true},
		{"admin cookie", []cred{session(adminTok), csrf(adminCSRF)}, auth.RoleAdmin, true, true},
	}
	routes := e.srv.Routes()
	kinds := map[string]int{}
	for _, rt := range routes {
		kinds[rt.Kind]++
	}
	if len(routes) < 22 || kinds["api"] < 10 || kinds["page"] < 8 || kinds["json"] < 2 {
		t.Fatalf("route table has %d routes %v: the console is missing", len(routes), kinds)
	}
	// Logout ends the caller's session: walk it after everything else.
	slices.SortStableFunc(routes, func(a, b RouteInfo) int {
		switch {
		case a.Pattern == console.LogoutPath && b.Pattern != console.LogoutPath:
			return 1
		case b.Pattern == console.LogoutPath && a.Pattern != console.LogoutPath:
			return -1
		}
		return 0
	})
	paths := map[string]string{
		"/api/v1/agents/{id}/revoke": "/api/v1/agents/ag999/revoke", // never revoke the live agent mid-walk
		"/static/{path...}":          "/static/console.css",
		"/lang":                      "/lang?to=en&back=/",
		"/{$}":                       "/",
	}
	for _, rt := range routes {
		path, ok := paths[rt.Pattern]
		if !ok {
			path = strings.ReplaceAll(rt.Pattern, "{id}", "1")
		}
		for _, c := range callers {
			var body io.Reader
			if rt.Method == "POST" {
				body = strings.NewReader(`{}`)
			}
			resp, data := e.raw(rt.Method, path, body, c.creds...)
			code := resp.StatusCode
			allowed := len(rt.Roles) == 0 || (c.valid && slices.Contains(rt.Roles, c.role))
			name := rt.Method + " " + path + " as " + c.name
			loc := resp.Header.Get("Location")
			switch {
			case rt.Method == "POST" && rt.Pattern == loginPath:
				// Public, but a post without the sign-in form's token is refused, whoever sends it.
				if code != http.StatusForbidden || !strings.Contains(data, "登录页面已过期") || respCookie(resp, auth.SessionCookie) != nil {
					t.Errorf("%s: %d, want the stale-form page", name, code)
				}
				continue
			case allowed:
				// A console handler may refuse more than its table entry does (safe, but the table should say
				// so: console.Route.Roles); the server itself must admit.
				// The core pages, their JSON and logout are held to the table exactly.
				handlerRefusal := code == http.StatusForbidden && rt.Kind != "api" && !coreConsolePages[rt.Pattern] &&
					!coreConsoleJSON[rt.Pattern] && rt.Pattern != console.LogoutPath &&
					!strings.Contains(data, "may not use this endpoint") && !strings.Contains(data, "CSRF")
				if code == http.StatusUnauthorized || (code == http.StatusForbidden && !handlerRefusal) || strings.HasPrefix(loc, "/login?") {
					t.Errorf("%s: %d %s %.200s, want admitted", name, code, loc, data)
				}
				if rt.Method == "GET" && coreConsolePages[rt.Pattern] && code != http.StatusOK {
					t.Errorf("%s: %d, want the page", name, code)
				}
				continue
			case len(rt.Roles) > 0 && (c.valid || c.name == "revoked token"):
				if code != http.StatusForbidden {
					t.Errorf("%s: %d, want 403 (role %s not admitted)", name, code, c.role)
				}
				if rt.Kind == "page" && !strings.Contains(data, "<!DOCTYPE html>") {
					t.Errorf("%s: 403 of a page is not the console's page: %s", name, data)
				}
			case rt.Kind == "page":
				want := "/login"
				if rt.Method == "GET" {
					want = "/login?next=" + url.QueryEscape(path)
					if strings.HasSuffix(c.name, " cookie") { // a session cookie that does not work (any more)
						want = "/login?expired=1&next=" + url.QueryEscape(path)
					}
				}
				if code != http.StatusSeeOther || loc != want {
					t.Errorf("%s: %d to %q, want 303 to %q", name, code, loc, want)
				}
			default:
				if code != http.StatusUnauthorized {
					t.Errorf("%s: %d, want 401", name, code)
				}
				chal := resp.Header.Get("WWW-Authenticate")
				switch {
				case chal == "":
					t.Errorf("%s: 401 without WWW-Authenticate", name)
				case rt.Kind == "json" && strings.HasPrefix(chal, "Basic"):
					t.Errorf("%s: console JSON challenges Basic (the browser would prompt)", name)
				}
			}
			if c.role == auth.RoleDepartment { // the 403 page's header names the caller's own department
				noData(t, name, data, slices.DeleteFunc(slices.Clone(sentinels), func(s string) bool { return s == "Dept 01" })...)
			} else {
				noData(t, name, data)
			}
			if rt.Kind != "page" {
				var we struct{ Error string }
				if json.Unmarshal([]byte(data), &we) != nil || we.Error == "" {
					t.Errorf("%s: refusal %q is not a JSON error", name, data)
				}
			}
		}
	}
	// The department officer is refused on every /api/v1 read route (the API is not scoped).
	for _, p := range []string{"/api/v1/systems", "/api/v1/hosts", "/api/v1/hosts/1", "/api/v1/hosts/1/series"} {
		if resp, data := e.raw("GET", p, nil, basic("dora", "dora-pw")); resp.StatusCode != 403 {
			t.Errorf("department on %s: %d %s", p, resp.StatusCode, data)
		}
	}
}

func TestRouteTableRolesAsSpecified(t *testing.T) {
	e := newConsoleEnv(t, Options{}, false)
	people := []auth.Role{auth.RoleAdmin, auth.RoleAnalyst, auth.RoleDepartment}
	want := map[string][]auth.Role{
		"POST /api/v1/ingest":                {auth.RoleAgent},
		"POST /api/v1/agents":                {auth.RoleAdmin},
		"GET /api/v1/agents":                 {auth.RoleAdmin},
		"POST /api/v1/agents/{id}/revoke":    {auth.RoleAdmin},
		"GET /api/v1/systems":                {auth.RoleAdmin, auth.RoleAnalyst},
		"GET /api/v1/hosts":                  {auth.RoleAdmin, auth.RoleAnalyst},
		"GET /api/v1/hosts/{id}":             {auth.RoleAdmin, auth.RoleAnalyst},
		"GET /api/v1/hosts/{id}/series":      {auth.RoleAdmin, auth.RoleAnalyst},
		"GET /healthz":                       nil,
		"GET /metrics":                       nil,
		"GET /login":                         nil,
		"POST /login":                        nil,
		"POST /logout":                       people,
		"GET /{$}":                           people,
		"GET /systems":                       people,
		"GET /systems/{id}":                  people,
		"GET /hosts/{id}":                    people,
		"GET /heatmap":                       people,
		"GET /console/api/matrix":            people,
		"GET /console/api/hosts/{id}/series": people,
		"GET /lang":                          nil,
		"GET /static/{path...}":              nil,
	}
	// Console routes beyond these (added by the console later) keep what the console declares.
	for _, cr := range e.srv.console.Routes() {
		key := cr.Method + " " + cr.Pattern
		if _, ok := want[key]; ok {
			continue
		}
		switch {
		case cr.Public:
			want[key] = nil
		case len(cr.Roles) > 0:
			want[key] = nil
			for _, r := range cr.Roles {
				want[key] = append(want[key], auth.Role(r))
			}
		default:
			want[key] = people
		}
	}
	for _, rt := range e.srv.Routes() {
		key := rt.Method + " " + rt.Pattern
		roles, ok := want[key]
		if !ok {
			t.Errorf("route %s is not in the expected table", key)
			continue
		}
		if !slices.Equal(rt.Roles, roles) {
			t.Errorf("%s admits %v, want %v", key, rt.Roles, roles)
		}
		delete(want, key)
	}
	for key := range want {
		t.Errorf("route %s missing", key)
	}
	// Without a console the server is the API alone.
	if n := len(newEnv(t, Options{}).srv.Routes()); n != 10 {
		t.Errorf("API-only server has %d routes", n)
	}
	// /metrics can be closed to anonymous scrapers.
	closed := newEnv(t, Options{MetricsRoles: []auth.Role{auth.RoleAdmin}})
	if code, _, _ := closed.do("GET", "/metrics", nil); code != http.StatusUnauthorized {
		t.Errorf("closed /metrics anonymous: %d", code)
	}
	if code, _, _ := closed.do("GET", "/metrics", nil, closed.admin()); code != http.StatusOK {
		t.Errorf("closed /metrics as admin: %d", code)
	}
}

func TestCSRF(t *testing.T) {
	e := newConsoleEnv(t, Options{}, false)
	tok, csrf := e.login("admin", "admin-pw")
	enroll := func(creds ...cred) (int, string) {
		resp, data := e.raw("POST", "/api/v1/agents", strings.NewReader(`{"system":"低保","department":"民政局"}`), creds...)
		return resp.StatusCode, data
	}
	for _, c := range []struct {
		name  string
		creds []cred
		want  int
	}{
		{"cookie without token", []cred{session(tok)}, 403},
		{"cookie with a wrong token", []cred{session(tok), header(csrfHeader, csrf+"x")}, 403},
		{"cookie with another session's token", []cred{session(tok), header(csrfHeader, "AAAA")}, 403},
		{"cookie with the token", []cred{session(tok), header(csrfHeader, csrf)}, 201},
		{"basic needs no token", []cred{e.admin()}, 201},
	} {
		if code, data := enroll(c.creds...); code != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, code, data, c.want)
		} else if code == 403 && !strings.Contains(data, "CSRF") {
			t.Errorf("%s: %s", c.name, data)
		}
	}
	// Logout is a form post: without the field or with a wrong one it is refused and the session lives on.
	for _, v := range []url.Values{{}, {console.CSRFField: {"wrong"}}} {
		body, ct := form(v)
		resp, data := e.raw("POST", "/logout", body, ct, session(tok))
		if resp.StatusCode != 403 || !strings.Contains(data, "<!DOCTYPE html>") {
			t.Errorf("logout with %v: %d", v, resp.StatusCode)
		}
	}
	if resp, _ := e.raw("GET", "/", nil, session(tok)); resp.StatusCode != 200 {
		t.Fatalf("session ended by a refused logout: %d", resp.StatusCode)
	}
	body, ct := form(url.Values{console.CSRFField: {csrf}})
	resp, _ := e.raw("POST", "/logout", body, ct, session(tok))
	if ck := respCookie(resp, auth.SessionCookie); resp.StatusCode != 303 || resp.Header.Get("Location") != "/login" ||
		ck == nil || ck.MaxAge >= 0 {
		t.Fatalf("logout: %d %q cookie %v", resp.StatusCode, resp.Header.Get("Location"), ck)
	}
	if resp, _ := e.raw("GET", "/heatmap", nil, session(tok)); resp.StatusCode != 303 ||
		!strings.HasPrefix(resp.Header.Get("Location"), "/login?") || !strings.Contains(resp.Header.Get("Location"), "next=%2Fheatmap") {
		t.Fatalf("after logout: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// The sign-in form itself carries a token bound to a cookie.
	body, ct = form(url.Values{"username": {"admin"}, "password": {"admin-pw"}})
	resp, data := e.raw("POST", "/login", body, ct)
	if resp.StatusCode != 403 || respCookie(resp, auth.SessionCookie) != nil || !strings.Contains(data, "登录页面已过期") {
		t.Fatalf("login without the form token: %d", resp.StatusCode)
	}
	ck, _ := e.loginForm()
	body, ct = form(url.Values{"username": {"admin"}, "password": {"admin-pw"}, console.CSRFField: {"forged"}})
	if resp, _ := e.raw("POST", "/login", body, ct, cookie(loginCookie, ck)); resp.StatusCode != 403 {
		t.Fatalf("login with a wrong form token: %d", resp.StatusCode)
	}
}

func TestSessionExpiryReturnsToThePageAskedFor(t *testing.T) {
	e := newConsoleEnv(t, Options{Session: auth.SessionOptions{Idle: 12 * time.Hour, Absolute: 7 * 24 * time.Hour}}, false)
	tok, _ := e.login("ann", "ann-pw")
	const page = "/heatmap?year=2025&metric=mem"
	if resp, _ := e.raw("GET", page, nil, session(tok)); resp.StatusCode != 200 {
		t.Fatalf("page: %d", resp.StatusCode)
	}
	// Activity slides the idle timeout: 11 h later the session still works.
	e.setNow(testNow.Add(11 * time.Hour))
	if resp, _ := e.raw("GET", page, nil, session(tok)); resp.StatusCode != 200 {
		t.Fatalf("page 11 h later: %d", resp.StatusCode)
	}
	// 12 h of silence end it: back to the login page, which says so and returns to the page.
	e.setNow(testNow.Add(23*time.Hour + time.Second))
	resp, data := e.raw("GET", page, nil, session(tok))
	loc := resp.Header.Get("Location")
	if resp.StatusCode != 303 || loc != "/login?expired=1&next="+url.QueryEscape(page) {
		t.Fatalf("expired session: %d %q", resp.StatusCode, loc)
	}
	noData(t, "expired redirect", data)
	if ck := respCookie(resp, auth.SessionCookie); ck == nil || ck.MaxAge >= 0 {
		t.Errorf("the dead cookie is not cleared: %v", ck)
	}
	resp, data = e.raw("GET", loc, nil, session(tok))
	if resp.StatusCode != 200 || !strings.Contains(data, "会话已过期") || !strings.Contains(data, `name="next" value="`+strings.ReplaceAll(page, "&", "&amp;")+`"`) {
		t.Fatalf("login page after expiry: %d\n%s", resp.StatusCode, data)
	}
	resp, _ = e.postLogin("ann", "ann-pw", page)
	if resp.StatusCode != 303 || resp.Header.Get("Location") != page {
		t.Fatalf("login with next: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	tok = respCookie(resp, auth.SessionCookie).Value
	if resp, _ := e.raw("GET", page, nil, session(tok)); resp.StatusCode != 200 {
		t.Fatalf("page after signing in again: %d", resp.StatusCode)
	}
	// The console JSON answers 401 for an expired session (the script cannot follow a login redirect).
	e.setNow(testNow.Add(48 * time.Hour))
	if resp, _ := e.raw("GET", "/console/api/matrix", nil, session(tok)); resp.StatusCode != 401 {
		t.Fatalf("console JSON with an expired session: %d", resp.StatusCode)
	}
	// The absolute limit ends even a busy session.
	e.setNow(testNow)
	tok, _ = e.login("ann", "ann-pw")
	ended := 0
	for h := 10; h <= 30*24 && ended == 0; h += 10 {
		e.setNow(testNow.Add(time.Duration(h) * time.Hour))
		if resp, _ := e.raw("GET", "/", nil, session(tok)); resp.StatusCode != 200 {
			ended = h
		}
	}
	if ended != 170 { // the first request past 7 days
		t.Fatalf("a session used every 10 h ended after %d h, want at the 7-day limit", ended)
	}
}

func TestLoginRedirectsOnlyToLocalPaths(t *testing.T) {
	e := newConsoleEnv(t, Options{}, false)
	for next, want := range map[string]string{
		"/systems/1?range=7d": "/systems/1?range=7d",
		"//evil.example/x":    "/",
		`/\evil.example`:      "/",
		"http://evil.example": "/",
		"evil":                "/",
		"/login":              "/",
		"":                    "/",
		"/x\r\nSet-Cookie: a": "/",
	} {
		resp, _ := e.postLogin("ann", "ann-pw", next)
		if resp.StatusCode != 303 || resp.Header.Get("Location") != want {
			t.Errorf("next %q: %d %q, want %q", next, resp.StatusCode, resp.Header.Get("Location"), want)
		}
	}
	// Signed in already, the login page goes straight to next.
	tok, _ := e.login("ann", "ann-pw")
	if resp, _ := e.raw("GET", "/login?next=/heatmap", nil, session(tok)); resp.StatusCode != 303 ||
		resp.Header.Get("Location") != "/heatmap" {
		t.Errorf("login page when signed in: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestLoginFailuresAndThrottle(t *testing.T) {
	e := newConsoleEnv(t, Options{Throttle: auth.ThrottleOptions{NameFailures: 5, IPFailures: 20}}, false)
	// One answer whether the name exists or not.
	r1, unknown := e.postLogin("nobody", "x", "/")
	r2, wrong := e.postLogin("ann", "x", "/")
	unknown = formTokenRE.ReplaceAllString(strings.ReplaceAll(unknown, "nobody", "ann"), "")
	if r1.StatusCode != 401 || r2.StatusCode != 401 || !strings.Contains(unknown, "用户名或密码错误") ||
		unknown != formTokenRE.ReplaceAllString(wrong, "") {
		t.Fatalf("unknown user %d vs wrong password %d: the answers differ", r1.StatusCode, r2.StatusCode)
	}
	if respCookie(r1, auth.SessionCookie) != nil || respCookie(r2, auth.SessionCookie) != nil {
		t.Fatal("failed login set a session cookie")
	}
	// A disabled user gets the same answer, with the right password.
	e.users.Disable(t.Context(), "dora")
	if resp, data := e.postLogin("dora", "dora-pw", "/"); resp.StatusCode != 401 || !strings.Contains(data, "用户名或密码错误") {
		t.Fatalf("disabled user: %d", resp.StatusCode)
	}
	// Four more failures for ann make five: the right password is now refused too.
	for range 4 {
		e.postLogin("ann", "x", "/")
	}
	resp, data := e.postLogin("ann", "ann-pw", "/")
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "60" || !strings.Contains(data, "登录失败次数过多") ||
		respCookie(resp, auth.SessionCookie) != nil {
		t.Fatalf("locked out: %d %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// HTTP Basic shares the lock.
	if resp, data := e.raw("GET", "/api/v1/systems", nil, e.analyst()); resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("basic while locked: %d %s", resp.StatusCode, data)
	}
	// Another user from the same address is not locked (the address has 7 failures of 20).
	e.login("admin", "admin-pw")
	// A minute later the right password works and clears the count.
	e.setNow(testNow.Add(61 * time.Second))
	e.login("ann", "ann-pw")
	resp, _ = e.postLogin("ann", "x", "/")
	if resp.StatusCode != 401 {
		t.Fatalf("after success, one failure: %d", resp.StatusCode)
	}
	// Basic failures count too: five wrong passwords lock bob's… admin's name for a minute, then two.
	for range 5 {
		e.raw("GET", "/api/v1/agents", nil, basic("admin", "guess"))
	}
	if resp, _ := e.raw("GET", "/api/v1/agents", nil, e.admin()); resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "60" {
		t.Fatalf("basic lockout: %d %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	e.raw("GET", "/api/v1/agents", nil, basic("admin", "guess")) // refused without even checking, still counted? no
	e.setNow(testNow.Add(61*time.Second + time.Minute + time.Second))
	if resp, _ := e.raw("GET", "/api/v1/agents", nil, e.admin()); resp.StatusCode != 200 {
		t.Fatalf("after the lockout: %d", resp.StatusCode)
	}
}

func TestCookieFlags(t *testing.T) {
	for _, tls := range []bool{false, true} {
		e := newConsoleEnv(t, Options{}, tls)
		resp, _ := e.postLogin("ann", "ann-pw", "/")
		ck := respCookie(resp, auth.SessionCookie)
		if ck == nil {
			t.Fatalf("tls=%v: no session cookie", tls)
		}
		if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Secure != tls || len(ck.Value) != 43 {
			t.Errorf("tls=%v: session cookie %+v", tls, ck)
		}
		raw := strings.Join(resp.Header.Values("Set-Cookie"), "\n")
		if !strings.Contains(raw, "HttpOnly") || !strings.Contains(raw, "SameSite=Lax") || strings.Contains(raw, "Secure") != tls {
			t.Errorf("tls=%v: Set-Cookie %s", tls, raw)
		}
	}
}

func TestDepartmentScope(t *testing.T) {
	e := newConsoleEnv(t, Options{}, false)
	tok, _ := e.login("dora", "dora-pw")
	e.fake.Scopes()
	for _, c := range []struct {
		path string
		want int
	}{
		{"/systems/1", 200}, {"/systems/2", 200}, {"/systems/3", 404}, {"/systems/6", 404},
		{"/hosts/1", 200}, {"/hosts/4", 200}, {"/hosts/5", 404}, {"/hosts/12", 404},
		{"/console/api/hosts/2/series?metric=cpu", 200}, {"/console/api/hosts/9/series?metric=cpu", 404},
		{"/heatmap?system=1", 200},
	} {
		resp, data := e.raw("GET", c.path, nil, session(tok))
		if resp.StatusCode != c.want {
			t.Errorf("dora %s: %d, want %d", c.path, resp.StatusCode, c.want)
		}
		if c.want == 404 { // dora's own department shows in the header; nothing of the others may show
			noData(t, "dora "+c.path, data, "System 003", "System 006", "host-0005", "host-0009", "host-0012", "Dept 02", "Dept 03")
		}
	}
	_, overview := e.raw("GET", "/", nil, session(tok))
	_, matrix := e.raw("GET", "/console/api/matrix?year=2025", nil, session(tok))
	for _, body := range []string{overview, matrix} {
		if !strings.Contains(body, "System 001") || strings.Contains(body, "System 003") || strings.Contains(body, "Dept 02") {
			t.Errorf("department view shows other departments or misses its own:\n%.400s", body)
		}
	}
	if !strings.Contains(overview, "部门数据专员") || !strings.Contains(overview, "dora") {
		t.Error("the header does not show the department officer")
	}
	for _, s := range e.fake.Scopes() {
		if s != (console.Scope{DepartmentID: 1}) {
			t.Fatalf("console asked with scope %+v for dora", s)
		}
	}
	// Bureau users see every department.
	tok, _ = e.login("ann", "ann-pw")
	e.fake.Scopes()
	if resp, _ := e.raw("GET", "/systems/6", nil, session(tok)); resp.StatusCode != 200 {
		t.Fatalf("analyst /systems/6: %d", resp.StatusCode)
	}
	for _, s := range e.fake.Scopes() {
		if s != (console.Scope{All: true}) {
			t.Fatalf("analyst scope %+v", s)
		}
	}
}

func TestUnknownPaths(t *testing.T) {
	e := newConsoleEnv(t, Options{}, false)
	resp, data := e.raw("GET", "/nope", nil)
	if resp.StatusCode != 404 || !strings.Contains(data, "<!DOCTYPE html>") {
		t.Errorf("unknown console path: %d", resp.StatusCode)
	}
	resp, data = e.raw("GET", "/api/v1/nope", nil)
	if resp.StatusCode != 404 || decodeErr(t, []byte(data)).Error != "not found" {
		t.Errorf("unknown API path: %d %s", resp.StatusCode, data)
	}
}

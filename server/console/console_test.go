package console_test

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"zhizhi/collector/calendar"
	"zhizhi/server/console"
	"zhizhi/server/console/consoletest"
)

var testNow = time.Date(2026, 3, 10, 9, 30, 0, 0, calendar.Shanghai)

// env is a console over a fake district served on loopback.
type env struct {
	t    *testing.T
	fake *consoletest.Fake
	srv  *httptest.Server
	pc   console.PageContext
}

func newEnv(t *testing.T, depts, systems, hosts int) *env {
	t.Helper()
	e := &env{t: t, fake: consoletest.District(depts, systems, hosts, testNow),
		pc: console.PageContext{User: console.User{Name: "zhangsan", Role: "analyst"}, Scope: console.Scope{All: true}, CSRF: "tok-123"}}
	c := console.New(e.fake, func(*http.Request) console.PageContext { return e.pc }, slog.New(slog.DiscardHandler)).
		WithClock(func() time.Time { return testNow })
	mux := http.NewServeMux()
	for _, rt := range c.Routes() {
		mux.Handle(rt.Method+" "+rt.Pattern, rt.Handler)
	}
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

// get fetches path with optional header pairs and returns the status, the body and the response.
func (e *env) get(path string, headers ...string) (int, string, *http.Response) {
	e.t.Helper()
	req, err := http.NewRequest("GET", e.srv.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var r io.Reader = resp.Body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			e.t.Fatal(err)
		}
		r = zr
	}
	body, err := io.ReadAll(r)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, string(body), resp
}

var hostLinkRE = regexp.MustCompile(`href="/hosts/(\d+)">(host-\d+)<`)

func hostsIn(body string) []string {
	var out []string
	for _, m := range hostLinkRE.FindAllStringSubmatch(body, -1) {
		out = append(out, m[2])
	}
	return out
}

func TestOverview(t *testing.T) {
	e := newEnv(t, 3, 2, 3) // 18 hosts
	f := func(query string, want func(hosts []string) string) {
		t.Helper()
		code, body, _ := e.get("/" + query)
		if code != 200 {
			t.Fatalf("%s: status %d", query, code)
		}
		if msg := want(hostsIn(body)); msg != "" {
			t.Errorf("%s: %s; hosts %v", query, msg, hostsIn(body))
		}
	}
	f("", func(h []string) string {
		if len(h) != 18 {
			return "want all 18 hosts"
		}
		return ""
	})
	f("?status=offline", func(h []string) string {
		// hosts 5 and 12 are offline (id % 7 == 5)
		if !slices.Equal(h, []string{"host-0005", "host-0012"}) && !slices.Equal(h, []string{"host-0012", "host-0005"}) {
			return "want the offline hosts 5 and 12"
		}
		return ""
	})
	f("?q=HOST-0007", func(h []string) string {
		if !slices.Equal(h, []string{"host-0007"}) {
			return "want only host-0007 (case-insensitive search)"
		}
		return ""
	})
	f("?q=Dept+02", func(h []string) string {
		if len(h) != 6 {
			return "a department name match keeps its 6 hosts"
		}
		return ""
	})
	f("?dept=3&status=online", func(h []string) string {
		for _, name := range h {
			if name < "host-0013" {
				return "host outside department 3"
			}
		}
		if len(h) == 0 {
			return "want department 3's online hosts"
		}
		return ""
	})
	// Worst first: an offline host leads; within a system the highest load comes before lower ones.
	_, body, _ := e.get("/")
	if h := hostsIn(body); h[0] != "host-0005" && h[0] != "host-0012" {
		t.Errorf("first host %s, want an offline one", h[0])
	}
}

func TestApplyFilterSort(t *testing.T) {
	p := func(v float64) *float64 { return &v }
	depts := []console.DeptRow{
		{ID: 1, Name: "A", Systems: []console.SystemRow{{ID: 1, Name: "calm", Hosts: []console.HostRow{
			{ID: 1, Hostname: "a1", Status: console.StatusOnline, CPU: p(10)},
			{ID: 2, Hostname: "a2", Status: console.StatusOnline, CPU: p(20), Disk: p(95)},
		}}}},
		{ID: 2, Name: "B", Systems: []console.SystemRow{
			{ID: 2, Name: "ok", Hosts: []console.HostRow{{ID: 3, Hostname: "b1", Status: console.StatusOnline, CPU: p(50)}}},
			{ID: 3, Name: "down", Hosts: []console.HostRow{
				{ID: 4, Hostname: "b2", Status: console.StatusOnline},
				{ID: 5, Hostname: "b3", Status: console.StatusStale, CPU: p(1)},
			}},
			{ID: 4, Name: "empty"},
		}},
	}
	got := console.ApplyFilter(depts, console.Filter{})
	var order []string
	for _, d := range got {
		for _, s := range d.Systems {
			for _, h := range s.Hosts {
				order = append(order, d.Name+"/"+s.Name+"/"+h.Hostname)
			}
			if len(s.Hosts) == 0 {
				order = append(order, d.Name+"/"+s.Name)
			}
		}
	}
	want := []string{"B/down/b3", "B/down/b2", "B/ok/b1", "B/empty", "A/calm/a2", "A/calm/a1"}
	if !slices.Equal(order, want) {
		t.Errorf("order %v, want %v", order, want)
	}
	if len(depts[0].Systems[0].Hosts) != 2 || depts[0].Systems[0].Hosts[0].Hostname != "a1" {
		t.Error("ApplyFilter modified its input")
	}
	if got := console.ApplyFilter(depts, console.Filter{Status: console.StatusStale}); len(got) != 1 || len(got[0].Systems) != 1 {
		t.Errorf("status filter kept %+v", got)
	}
}

func TestNotFound(t *testing.T) {
	e := newEnv(t, 2, 2, 1)
	for _, path := range []string{"/systems/999", "/hosts/999", "/hosts/abc", "/systems/0", "/console/api/hosts/999/series?metric=cpu"} {
		code, body, _ := e.get(path)
		if code != 404 {
			t.Errorf("%s: status %d, want 404", path, code)
		}
		if !strings.HasPrefix(path, "/console/api/") && !strings.Contains(body, "页面不存在") {
			t.Errorf("%s: not the 404 page: %.300s", path, body)
		}
	}
	// A department officer gets 404 for another department's system and host (both exist).
	e.pc.Scope = console.Scope{DepartmentID: 2}
	for _, path := range []string{"/systems/1", "/hosts/1", "/console/api/hosts/1/series?metric=cpu"} {
		if code, body, _ := e.get(path); code != 404 || strings.Contains(body, "host-0001") || strings.Contains(body, "System 001") {
			t.Errorf("%s out of scope: status %d, body leaks: %v", path, code, strings.Contains(body, "001"))
		}
	}
	if code, _, _ := e.get("/systems/3"); code != 200 {
		t.Errorf("own department's system: status %d", code)
	}
}

func TestBadParams(t *testing.T) {
	e := newEnv(t, 1, 2, 1)
	f := func(path, param string) {
		t.Helper()
		code, body, resp := e.get(path)
		if code != 400 {
			t.Errorf("%s: status %d, want 400", path, code)
			return
		}
		if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			var doc struct{ Error, Field string }
			if err := json.Unmarshal([]byte(body), &doc); err != nil || doc.Field != param || doc.Error == "" {
				t.Errorf("%s: JSON %s, want field %q", path, body, param)
			}
			return
		}
		if !strings.Contains(body, `<code class="param">`+param+`</code>`) || !strings.Contains(body, "请求参数有误") {
			t.Errorf("%s: page does not name %q: %.400s", path, param, body)
		}
	}
	f("/?status=bogus", "status")
	f("/?dept=x", "dept")
	f("/?dept=-4", "dept")
	f("/?q="+strings.Repeat("x", 101), "q")
	f("/systems?dept=1.5", "dept")
	f("/heatmap?year=1990", "year")
	f("/heatmap?year=abc", "year")
	f("/heatmap?metric=gpu", "metric")
	f("/heatmap?stat=p99", "stat")
	f("/systems/1?range=2w", "range")
	f("/systems/1?year=3000", "year")
	f("/hosts/1?day=2026-13-01", "day")
	f("/console/api/matrix?stat=max", "stat")
	f("/console/api/matrix?metric=conn", "metric")
	f("/console/api/hosts/1/series?metric=zzz", "metric")
	f("/console/api/hosts/1/series?metric=cpu&range=5m", "range")
	f("/lang?to=fr", "to")
}

func TestDemoBanner(t *testing.T) {
	e := newEnv(t, 1, 1, 1)
	pages := []string{"/", "/systems", "/systems/1", "/hosts/1", "/heatmap", "/systems/999", "/?status=x"}
	for _, demo := range []bool{false, true} {
		e.fake.Demo = demo
		for _, p := range pages {
			_, body, _ := e.get(p)
			if got := strings.Contains(body, `class="demo-banner"`) && strings.Contains(body, "演示数据"); got != demo {
				t.Errorf("%s demo=%v: banner shown %v", p, demo, got)
			}
		}
	}
	e.get("/", "Cookie", "lang=en")
	if _, body, _ := e.get("/", "Cookie", "lang=en"); !strings.Contains(body, "Demo data") {
		t.Error("English demo banner missing")
	}
}

func TestLanguage(t *testing.T) {
	e := newEnv(t, 1, 1, 1)
	f := func(wantEN bool, headers ...string) {
		t.Helper()
		_, body, _ := e.get("/", headers...)
		en := strings.Contains(body, ">Overview</a>") && strings.Contains(body, `<html lang="en">`) && !strings.Contains(body, "概览")
		zh := strings.Contains(body, ">概览</a>") && strings.Contains(body, `<html lang="zh-CN">`)
		if en != wantEN || zh == wantEN {
			t.Errorf("headers %v: english %v chinese %v, want english %v", headers, en, zh, wantEN)
		}
	}
	f(false)
	f(true, "Cookie", "lang=en")
	f(false, "Cookie", "lang=zh-CN", "Accept-Language", "en")
	f(true, "Accept-Language", "en-US,en;q=0.9")
	f(false, "Accept-Language", "en;q=0.5,zh-CN;q=0.8")
	f(false, "Accept-Language", "fr")
	f(false, "Cookie", "lang=fr")

	// The switch sets the cookie and goes back, never to another site.
	for back, want := range map[string]string{"/heatmap?year=2025": "/heatmap?year=2025", "//evil.example/": "/",
		"https://evil.example/": "/", "": "/", `/\evil`: "/"} {
		code, _, resp := e.get("/lang?to=en&back=" + strings.ReplaceAll(back, "?", "%3F"))
		var cookie *http.Cookie
		for _, c := range resp.Cookies() {
			if c.Name == console.LangCookie {
				cookie = c
			}
		}
		if code != http.StatusSeeOther || resp.Header.Get("Location") != want || cookie == nil || cookie.Value != "en" || !cookie.HttpOnly {
			t.Errorf("back %q: %d Location %q cookie %v", back, code, resp.Header.Get("Location"), cookie)
		}
	}
	// The English page offers the way back to Chinese, with the page as back.
	_, body, _ := e.get("/systems?q=x", "Cookie", "lang=en")
	if !strings.Contains(body, `href="/lang?to=zh-CN&amp;back=%2fsystems%3fq%3dx"`) {
		t.Errorf("no switch back to Chinese in %.600s", body)
	}
}

var formRE = regexp.MustCompile(`(?s)<form\b([^>]*)>(.*?)</form>`)

func TestFormsCarryCSRF(t *testing.T) {
	e := newEnv(t, 1, 1, 1)
	posts := 0
	for _, p := range []string{"/", "/systems", "/systems/1", "/hosts/1", "/heatmap", "/systems/404"} {
		_, body, _ := e.get(p)
		for _, m := range formRE.FindAllStringSubmatch(body, -1) {
			if !strings.Contains(m[1], `method="post"`) {
				continue
			}
			posts++
			if !strings.Contains(m[2], `name="`+console.CSRFField+`" value="tok-123"`) {
				t.Errorf("%s: POST form without CSRF token: %s", p, m[0])
			}
		}
	}
	if posts == 0 {
		t.Error("no POST form (logout) found")
	}
}

// matrixDoc is the JSON of /console/api/matrix.
type matrixDoc struct {
	Year     int               `json:"year"`
	Metric   string            `json:"metric"`
	Stat     string            `json:"stat"`
	Days     []string          `json:"days"`
	Kinds    []int             `json:"kinds"`
	Holidays map[string]string `json:"holidays"`
	Rows     []struct {
		ID         int64  `json:"id"`
		System     string `json:"system"`
		Department string `json:"department"`
	} `json:"rows"`
	Values [][]*float64 `json:"values"`
}

func TestMatrixJSON(t *testing.T) {
	e := newEnv(t, 2, 3, 1)
	e.pc.Scope = console.Scope{DepartmentID: 2} // systems 4, 5, 6
	code, body, resp := e.get("/console/api/matrix?year=2025&metric=mem&stat=avg", "Accept-Encoding", "gzip")
	if code != 200 || resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("status %d encoding %q: %.200s", code, resp.Header.Get("Content-Encoding"), body)
	}
	var doc matrixDoc
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Year != 2025 || doc.Metric != "mem" || doc.Stat != "avg" || len(doc.Days) != 365 || len(doc.Kinds) != 365 {
		t.Fatalf("head: year %d metric %s stat %s days %d kinds %d", doc.Year, doc.Metric, doc.Stat, len(doc.Days), len(doc.Kinds))
	}
	if doc.Days[0] != "2025-01-01" || doc.Days[364] != "2025-12-31" || doc.Kinds[0] != 2 || doc.Holidays["0"] != "元旦" {
		t.Errorf("first day %s kind %d holiday %q", doc.Days[0], doc.Kinds[0], doc.Holidays["0"])
	}
	// 2025-01-04 is a Saturday, 2025-01-26 an adjusted working Sunday, 2025-01-02 a Thursday.
	if doc.Kinds[3] != 1 || doc.Kinds[25] != 3 || doc.Kinds[1] != 0 {
		t.Errorf("kinds of Jan 4, 26, 2: %d %d %d", doc.Kinds[3], doc.Kinds[25], doc.Kinds[1])
	}
	if len(doc.Rows) != 3 || len(doc.Values) != 3 {
		t.Fatalf("%d rows, %d value rows; want 3 (scope department 2)", len(doc.Rows), len(doc.Values))
	}
	for i, r := range doc.Rows {
		if r.ID != int64(4+i) || r.Department != "Dept 02" || len(doc.Values[i]) != 365 {
			t.Errorf("row %d: %+v with %d values", i, r, len(doc.Values[i]))
		}
	}
	// System 4 has a gap on days 100–120 (null), system 5 month-end peaks, system 6 (steady) 35 + yd%7.
	if g := doc.Values[0]; g[99] != nil || g[119] != nil || g[98] == nil || *g[98] != 40 || g[120] == nil {
		t.Errorf("gap of system 4: days 99, 100, 120, 121: %v %v %v %v", g[98], g[99], g[119], g[120])
	}
	if v := doc.Values[2][0]; v == nil || *v != 36 {
		t.Errorf("system 6 on Jan 1: %v, want 36", v)
	}
	for _, s := range e.fake.Scopes() {
		if s != (console.Scope{DepartmentID: 2}) {
			t.Errorf("Data got scope %+v", s)
		}
	}
}

func TestAppendMatrixJSONRounds(t *testing.T) {
	days := consoletest.YearDays(2026)[:3]
	m := console.Matrix{Days: days, Rows: []console.MatrixRow{{SystemID: 9, System: `a "quoted" <b>`, Department: "D",
		Values: []float64{1.25, 88.449, nan()}}}}
	b, err := console.AppendMatrixJSON(nil, "en", 2026, "cpu", "p95", m)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(b), `"values":[[1.3,88.4,null]]}`) || !json.Valid(b) {
		t.Errorf("got %s", b)
	}
	if !strings.Contains(string(b), `"holidays":{"0":"New Year's Day","1":"New Year's Day","2":"New Year's Day"}`) {
		t.Errorf("English holiday names missing: %s", b)
	}
	m.Rows[0].Values = m.Rows[0].Values[:2]
	if _, err := console.AppendMatrixJSON(nil, "en", 2026, "cpu", "p95", m); err == nil {
		t.Error("short row accepted")
	}
}

func nan() float64 { var z float64; return z / z }

func TestScopePassedThrough(t *testing.T) {
	e := newEnv(t, 3, 2, 1)
	scope := console.Scope{DepartmentID: 3}
	e.pc.Scope = scope
	_, body, _ := e.get("/")
	if strings.Contains(body, "Dept 01") || strings.Contains(body, "Dept 02") || !strings.Contains(body, "Dept 03") {
		t.Error("overview shows other departments")
	}
	for _, p := range []string{"/systems", "/systems/5", "/hosts/5", "/heatmap", "/console/api/matrix", "/console/api/hosts/5/series?metric=disk"} {
		if code, _, _ := e.get(p); code != 200 {
			t.Errorf("%s: status %d", p, code)
		}
	}
	scopes := e.fake.Scopes()
	if len(scopes) < 6 {
		t.Fatalf("only %d Data calls recorded", len(scopes))
	}
	for _, s := range scopes {
		if s != scope {
			t.Errorf("Data got scope %+v, want %+v", s, scope)
		}
	}
	// The zero Scope sees nothing.
	e.pc.Scope = console.Scope{}
	if _, body, _ := e.get("/"); len(hostsIn(body)) != 0 {
		t.Error("zero scope sees hosts")
	}
}

func TestSeriesJSON(t *testing.T) {
	e := newEnv(t, 1, 1, 1)
	// points: the buckets of the range; the fake adds the bucket holding from when from is not on a boundary.
	f := func(query, res string, points int) {
		t.Helper()
		code, body, _ := e.get("/console/api/hosts/1/series?" + query)
		var doc struct {
			HostID     int64  `json:"host_id"`
			Metric     string `json:"metric"`
			Resolution string `json:"resolution"`
			From, To   time.Time
			Points     []struct {
				TS                 time.Time `json:"ts"`
				N                  int64     `json:"n"`
				Min, Avg, Max, P95 *float64
			} `json:"points"`
		}
		if code != 200 || json.Unmarshal([]byte(body), &doc) != nil {
			t.Fatalf("%s: %d %.200s", query, code, body)
		}
		if doc.HostID != 1 || doc.Resolution != res || (len(doc.Points) != points && len(doc.Points) != points+1) || doc.Points[0].P95 == nil || doc.Points[0].Avg == nil {
			t.Errorf("%s: host %d metric %s res %s points %d", query, doc.HostID, doc.Metric, doc.Resolution, len(doc.Points))
		}
	}
	f("metric=cpu", "1m", 24*60)
	f("metric=mem&range=7d", "1h", 7*24)
	f("metric=disk&range=1y", "1d", 365)
	f("metric=conn&day=2026-03-01&range=30d", "1m", 24*60)
}

func TestPagesRender(t *testing.T) {
	e := newEnv(t, 2, 2, 2)
	for _, p := range []string{"/", "/systems", "/systems/2?range=7d", "/systems/2?day=2026-01-01&year=2025&metric=disk&stat=avg",
		"/hosts/3", "/hosts/3?range=1y", "/heatmap?year=2025&metric=mem"} {
		for _, lang := range []string{"zh-CN", "en"} {
			code, body, resp := e.get(p, "Cookie", "lang="+lang)
			if code != 200 || !strings.Contains(body, "</html>") || strings.Contains(body, "!") && regexp.MustCompile(`![a-z_.0-9]+!`).MatchString(body) {
				t.Errorf("%s %s: status %d, missing catalog keys %v", p, lang, code, regexp.MustCompile(`![a-z_.0-9]+!`).FindAllString(body, 3))
			}
			if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
				t.Errorf("%s: no CSP", p)
			}
			if strings.Contains(body, "http://") || strings.Contains(body, "https://") {
				t.Errorf("%s: external URL in page", p)
			}
		}
	}
	_, body, _ := e.get("/systems/2?day=2026-01-01")
	for _, want := range []string{`"system_id":2`, `"day":"2026-01-01"`, `"calendar":{"year":2026`, "vendor/echarts.min.js?v="} {
		if !strings.Contains(body, want) {
			t.Errorf("system page lacks %s", want)
		}
	}
	_, body, _ = e.get("/hosts/3")
	for _, want := range []string{"kylin V10", "x86_64", "kvm guest", "16.0 GiB", "12.0 KiB", "host-0003"} {
		if !strings.Contains(body, want) {
			t.Errorf("host page lacks %q", want)
		}
	}
}

func TestStatic(t *testing.T) {
	e := newEnv(t, 1, 1, 1)
	_, page, _ := e.get("/heatmap")
	urls := regexp.MustCompile(`/static/[a-z./]+\?v=[0-9a-f]+`).FindAllString(page, -1)
	if len(urls) != 3 {
		t.Fatalf("asset URLs %v, want css, echarts and console.js", urls)
	}
	for _, u := range urls {
		code, body, resp := e.get(u, "Accept-Encoding", "gzip")
		if code != 200 || len(body) < 100 || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
			t.Errorf("%s: %d, %d bytes, cache %q", u, code, len(body), resp.Header.Get("Cache-Control"))
		}
	}
	code, body, resp := e.get("/static/vendor/echarts.min.js", "Accept-Encoding", "gzip")
	if code != 200 || resp.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(body, "Apache") ||
		resp.Header.Get("Cache-Control") != "no-cache" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") {
		t.Errorf("echarts: %d %q %q %q", code, resp.Header.Get("Content-Encoding"), resp.Header.Get("Cache-Control"), resp.Header.Get("Content-Type"))
	}
	if code, _, _ := e.get("/static/nope.js"); code != 404 {
		t.Errorf("unknown asset: %d", code)
	}
}

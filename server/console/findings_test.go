package console_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"zhizhi/analyzer/detect"
	"zhizhi/analyzer/report"
	"zhizhi/analyzer/report/reporttest"
	"zhizhi/server/console"
	"zhizhi/server/console/consoletest"
)

// findingsEnv is a console whose findings come from a real engine over the six-case store.
type findingsEnv struct {
	*env
	fx  reporttest.Fixture
	eng *report.Engine
}

func newFindingsEnv(t *testing.T) *findingsEnv {
	t.Helper()
	fx := reporttest.Seed(t)
	eng, err := report.New(fx.Store, report.Options{Clock: func() time.Time { return reporttest.Now }})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, fake: consoletest.District(1, 1, 1, reporttest.Now),
		pc: console.PageContext{User: console.User{Name: "admin", Role: "admin"}, Scope: console.Scope{All: true}, CSRF: "tok-123", Lang: "zh-CN"}}
	c := console.New(e.fake, func(*http.Request) console.PageContext { return e.pc }, slog.New(slog.DiscardHandler)).
		WithClock(func() time.Time { return reporttest.Now }).WithFindings(eng)
	mux := http.NewServeMux()
	for _, rt := range c.Routes() {
		mux.Handle(rt.Method+" "+rt.Pattern, rt.Handler)
	}
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	return &findingsEnv{env: e, fx: fx, eng: eng}
}

func (e *findingsEnv) deptID(name string) int64 {
	e.t.Helper()
	snap, err := e.eng.Evaluate(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return snap.DepartmentIDs[name]
}

func (e *findingsEnv) do(method, path, ctype, body string, headers ...string) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
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
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

type findingsJSON struct {
	Findings []struct {
		System       string  `json:"system"`
		DepartmentID int64   `json:"department_id"`
		Kind         string  `json:"kind"`
		Excepted     bool    `json:"excepted"`
		IdleDays30   int     `json:"idle_days_30"`
		Coverage30   float64 `json:"coverage_30"`
		DiskFullDate string  `json:"disk_full_date"`
	} `json:"findings"`
}

func TestFindingsScope(t *testing.T) {
	e := newFindingsEnv(t)
	over := e.deptID(reporttest.OverDept)
	list := func(pc console.PageContext, query string) findingsJSON {
		t.Helper()
		e.pc = pc
		code, body, _ := e.get("/console/api/findings" + query)
		if code != http.StatusOK {
			t.Fatalf("findings%s: %d %s", query, code, body)
		}
		var out findingsJSON
		if err := json.Unmarshal([]byte(body), &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	admin := console.PageContext{User: console.User{Role: "admin"}, Scope: console.Scope{All: true}}
	all := list(admin, "")
	systems := map[string]bool{}
	for _, f := range all.Findings {
		systems[f.System] = true
	}
	if len(systems) != 6 {
		t.Errorf("bureau scope sees %d systems, want all 6: %v", len(systems), systems)
	}
	officer := console.PageContext{User: console.User{Role: "department"}, Scope: console.Scope{DepartmentID: over}}
	mine := list(officer, "")
	if len(mine.Findings) == 0 {
		t.Fatalf("department officer sees nothing")
	}
	for _, f := range mine.Findings {
		if f.DepartmentID != over || f.System != reporttest.OverSystem {
			t.Errorf("department officer sees %+v", f)
		}
	}
	if mine.Findings[0].Kind != "overloaded" || mine.Findings[0].DiskFullDate == "" {
		t.Errorf("overload finding %+v lacks its projected full date", mine.Findings[0])
	}
	// A filter for another department gives the officer nothing; no scope sees nothing.
	if got := list(officer, "?dept="+itoa(e.deptID(reporttest.IdleDept))); len(got.Findings) != 0 {
		t.Errorf("officer filtered to another department sees %+v", got.Findings)
	}
	if got := list(console.PageContext{}, ""); len(got.Findings) != 0 {
		t.Errorf("empty scope sees %d findings", len(got.Findings))
	}
	zombies := list(admin, "?kind=comatose")
	for _, f := range zombies.Findings {
		if f.Kind != "comatose" {
			t.Errorf("kind filter let %s through", f.Kind)
		}
	}
	if len(zombies.Findings) != 2 {
		t.Errorf("%d comatose findings, want 2 (idle server and standby)", len(zombies.Findings))
	}
	e.pc = admin
	if code, _, _ := e.get("/console/api/findings?kind=bogus"); code != http.StatusBadRequest {
		t.Errorf("bogus kind: %d", code)
	}

	// The page: kinds in Chinese, evidence, the officer's page holds only their system.
	e.pc = officer
	code, body, _ := e.get("/findings")
	if code != http.StatusOK || !strings.Contains(body, "高负载") || !strings.Contains(body, reporttest.OverSystem) ||
		strings.Contains(body, reporttest.IdleSystem) || !strings.Contains(body, "预计写满") {
		t.Errorf("officer page: %d\n%s", code, body)
	}
	if strings.Contains(body, "exc.title") || strings.Contains(body, `action="/findings/exceptions"`) {
		t.Errorf("officer page offers exception management")
	}
	e.pc = admin
	e.pc.Lang = "en"
	code, body, _ = e.get("/findings?kind=comatose")
	if code != http.StatusOK || !strings.Contains(body, "Comatose") || !strings.Contains(body, reporttest.IdleSystem) ||
		strings.Contains(body, reporttest.OverSystem) || !strings.Contains(body, `action="/findings/exceptions"`) {
		t.Errorf("admin page: %d\n%s", code, body)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestFindingsReportDownload(t *testing.T) {
	e := newFindingsEnv(t)
	over, idle := e.deptID(reporttest.OverDept), e.deptID(reporttest.IdleDept)
	e.pc = console.PageContext{User: console.User{Role: "analyst"}, Scope: console.Scope{All: true}, Lang: "zh-CN"}
	code, body, resp := e.get("/findings/report?month=2026-11&format=md")
	if code != http.StatusOK || !strings.HasPrefix(body, "# 全区2026年11月") || !strings.Contains(resp.Header.Get("Content-Disposition"), "2026-11.md") {
		t.Fatalf("district md: %d %q\n%s", code, resp.Header.Get("Content-Disposition"), body)
	}
	code, body, _ = e.get("/findings/report?month=2026-11&format=html&lang=en&dept=" + itoa(over))
	if code != http.StatusOK || !strings.Contains(body, "<h1>"+reporttest.OverDept+": monthly report") || strings.Contains(body, reporttest.IdleSystem) {
		t.Errorf("department html: %d\n%s", code, body)
	}
	// A department officer gets only their own department's report.
	e.pc = console.PageContext{User: console.User{Role: "department"}, Scope: console.Scope{DepartmentID: over}}
	if code, body, _ = e.get("/findings/report?month=2026-11&format=md"); code != http.StatusOK || !strings.HasPrefix(body, "# "+reporttest.OverDept) {
		t.Errorf("officer default report: %d %.80s", code, body)
	}
	if code, _, _ = e.get("/findings/report?month=2026-11&format=md&dept=" + itoa(idle)); code != http.StatusNotFound {
		t.Errorf("officer asking for another department: %d, want 404", code)
	}
	for _, q := range []string{"month=2026-13&format=md", "month=2026-11&format=pdf", "month=2027-05&format=md"} {
		e.pc = console.PageContext{User: console.User{Role: "admin"}, Scope: console.Scope{All: true}}
		if code, _, _ = e.get("/findings/report?" + q); code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", q, code)
		}
	}
}

func TestExceptionsAPI(t *testing.T) {
	e := newFindingsEnv(t)
	host := e.fx.Hosts[reporttest.IdleSystem]
	body := `{"type":"dr-standby","host_id":` + itoa(host) + `,"owner":"王五","reason":"灾备，电话13812345678","expires":"2027-05-01"}`

	e.pc = console.PageContext{User: console.User{Role: "analyst"}, Scope: console.Scope{All: true}, CSRF: "tok"}
	if code, _ := e.do("POST", "/console/api/exceptions", "application/json", body, "X-CSRF-Token", "tok"); code != http.StatusForbidden {
		t.Errorf("analyst create: %d, want 403", code)
	}
	e.pc.User.Role = "admin"
	if code, _ := e.do("POST", "/console/api/exceptions", "application/json", body); code != http.StatusForbidden {
		t.Errorf("create without CSRF token: %d, want 403", code)
	}
	tooLong := strings.Replace(body, "2027-05-01", "2028-01-01", 1)
	code, resp := e.do("POST", "/console/api/exceptions", "application/json", tooLong, "X-CSRF-Token", "tok")
	if code != http.StatusBadRequest || !strings.Contains(resp, `"field":"expires"`) {
		t.Errorf("expiry over 12 months: %d %s, want 400 naming expires", code, resp)
	}
	code, resp = e.do("POST", "/console/api/exceptions", "application/json", body, "X-CSRF-Token", "tok")
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, resp)
	}
	var created struct {
		ID     int64  `json:"id"`
		Reason string `json:"reason"`
		Live   bool   `json:"live"`
	}
	json.Unmarshal([]byte(resp), &created)
	if created.ID == 0 || !created.Live || strings.Contains(created.Reason, "13812345678") {
		t.Errorf("created %+v: want a live exception with the phone number masked", created)
	}
	// Form post from the page, with the CSRF field.
	form := "csrf_token=tok&type=seasonal&system=" + reporttest.AnnualSystem + "&owner=x&reason=y&months=3,4&expires=2027-03-01"
	if code, _ := e.do("POST", "/findings/exceptions", "application/x-www-form-urlencoded", form); code != http.StatusSeeOther {
		t.Errorf("form create: %d, want 303", code)
	}

	// The finding is excepted now; analysts may read the list, officers may not.
	e.pc = console.PageContext{User: console.User{Role: "analyst"}, Scope: console.Scope{All: true}}
	code, list, _ := e.get("/console/api/exceptions")
	if code != http.StatusOK || strings.Count(list, `"id":`) != 2 {
		t.Errorf("analyst list: %d %s", code, list)
	}
	_, page, _ := e.get("/findings?kind=comatose")
	if strings.Count(page, `class="badge" data-exception=`) != 1 {
		t.Errorf("comatose idle server not shown as excepted:\n%s", page)
	}
	e.pc = console.PageContext{User: console.User{Role: "department"}, Scope: console.Scope{DepartmentID: 1}}
	if code, _, _ := e.get("/console/api/exceptions"); code != http.StatusForbidden {
		t.Errorf("officer list: %d, want 403", code)
	}

	e.pc = console.PageContext{User: console.User{Role: "admin"}, Scope: console.Scope{All: true}, CSRF: "tok"}
	path := "/console/api/exceptions/" + itoa(created.ID)
	if code, _ := e.do("DELETE", path, "", "", "X-CSRF-Token", "tok"); code != http.StatusNoContent {
		t.Errorf("delete: %d", code)
	}
	if code, _ := e.do("DELETE", path, "", "", "X-CSRF-Token", "tok"); code != http.StatusNotFound {
		t.Errorf("delete again: %d, want 404", code)
	}
	xs, _ := e.eng.Exceptions(context.Background())
	if len(xs) != 1 || xs[0].Type != detect.ExceptSeasonal || len(xs[0].Months) != 2 {
		t.Errorf("stored exceptions after delete: %+v", xs)
	}
}

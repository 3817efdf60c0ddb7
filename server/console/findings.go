package console

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"zhizhi/analyzer/detect"
	"zhizhi/analyzer/mask"
	"zhizhi/analyzer/narrative"
	"zhizhi/analyzer/report"
	"zhizhi/collector/store"
)

// FindingsData is what the findings pages read and write; *report.Engine implements it. It is separate from
// Data so that Data implementations need not change: the console uses the one given to WithFindings, or
// else its Data when that also implements FindingsData; with neither, the findings pages answer 404.
type FindingsData interface {
	// Evaluate judges every host now; the console filters the rows by the caller's Scope.
	Evaluate(ctx context.Context) (report.Snapshot, error)
	// Generate writes a monthly report.
	Generate(ctx context.Context, req report.Request) (report.Document, error)
	Exceptions(ctx context.Context) ([]detect.Exception, error)
	// AddException validates (errors are *detect.FieldError naming the field) and stores an exception.
	AddException(ctx context.Context, x detect.Exception) (detect.Exception, error)
	// DeleteException removes one; the error wraps store.ErrNotFound (or ErrNotFound) when there is none.
	DeleteException(ctx context.Context, id int64) error
}

// Roles of PageContext.User.Role that the findings pages distinguish.
const (
	RoleAdmin   = "admin"
	RoleAnalyst = "analyst"
)

// WithFindings sets the findings source and returns c.
func (c *Console) WithFindings(f FindingsData) *Console {
	c.findings = f
	return c
}

func (c *Console) findingsData() (FindingsData, error) {
	if c.findings != nil {
		return c.findings, nil
	}
	if f, ok := c.data.(FindingsData); ok {
		return f, nil
	}
	return nil, &HTTPError{Code: http.StatusNotFound, Msg: "findings are not available"}
}

func init() { pageNames = append(pageNames, "findings") }

// findingsRoutes are the findings page, the report download, and the findings and exceptions JSON API.
func (c *Console) findingsRoutes() []Route {
	page := func(method, pattern string, h handlerFunc) Route {
		return Route{Method: method, Pattern: pattern, Handler: c.pageHandler(h)}
	}
	api := func(method, pattern string, h handlerFunc) Route {
		return Route{Method: method, Pattern: pattern, Handler: c.jsonHandler(h), JSON: true}
	}
	return []Route{
		page("GET", "/findings", c.handleFindings),
		page("GET", "/findings/report", c.handleReport),
		onlyRoles(page("POST", "/findings/exceptions", c.handleExceptionForm), RoleAdmin),
		onlyRoles(page("POST", "/findings/exceptions/{id}/delete", c.handleExceptionDeleteForm), RoleAdmin),
		api("GET", "/console/api/findings", c.handleFindingsJSON),
		onlyRoles(api("GET", "/console/api/exceptions", c.handleExceptionsJSON), RoleAdmin, RoleAnalyst),
		onlyRoles(api("POST", "/console/api/exceptions", c.handleExceptionCreateJSON), RoleAdmin),
		onlyRoles(api("DELETE", "/console/api/exceptions/{id}", c.handleExceptionDeleteJSON), RoleAdmin),
	}
}

// onlyRoles restricts rt to the given user roles at the server; the handlers check them again.
func onlyRoles(rt Route, rs ...string) Route {
	rt.Roles = rs
	return rt
}

// inScope reports whether a row of department deptID is visible to s.
func inScope(s Scope, deptID int64) bool {
	return s.All || s.DepartmentID != 0 && s.DepartmentID == deptID
}

func canReadExceptions(pc PageContext) bool {
	return pc.User.Role == RoleAdmin || pc.User.Role == RoleAnalyst
}

func requireAdmin(pc PageContext) error {
	if pc.User.Role != RoleAdmin {
		return &HTTPError{Code: http.StatusForbidden, Msg: "administrators only"}
	}
	return nil
}

// checkCSRF compares the request's token (form field or X-CSRF-Token header) with pc.CSRF when the caller
// has one.
func checkCSRF(r *http.Request, pc PageContext) error {
	if pc.CSRF == "" {
		return nil
	}
	tok := r.Header.Get("X-CSRF-Token")
	if tok == "" {
		tok = r.PostFormValue(CSRFField)
	}
	if subtle.ConstantTimeCompare([]byte(tok), []byte(pc.CSRF)) != 1 {
		return &HTTPError{Code: http.StatusForbidden, Param: CSRFField, Msg: "missing or wrong CSRF token"}
	}
	return nil
}

// findingFilter is the page's query.
type findingFilter struct {
	Kind string
	Dept int64
}

func parseFindingFilter(r *http.Request) (findingFilter, error) {
	q := r.URL.Query()
	f := findingFilter{Kind: q.Get("kind")}
	if f.Kind != "" && !slices.Contains(report.Kinds, detect.Kind(f.Kind)) {
		return f, badParam("kind", "unknown finding kind")
	}
	if d := q.Get("dept"); d != "" {
		id, err := strconv.ParseInt(d, 10, 64)
		if err != nil || id <= 0 {
			return f, badParam("dept", "want a department id")
		}
		f.Dept = id
	}
	return f, nil
}

// findingView is one row of the page and of the JSON API, with its numbers formatted.
type findingView struct {
	HostID       int64    `json:"host_id"`
	Host         string   `json:"host"`
	System       string   `json:"system"`
	Department   string   `json:"department"`
	DepartmentID int64    `json:"department_id"`
	Kind         string   `json:"kind"`
	KindKey      string   `json:"-"`
	Status       string   `json:"status"`
	Excepted     bool     `json:"excepted"`
	Confidence   string   `json:"confidence"`
	Reasons      []string `json:"reasons"`
	Evidence     []string `json:"-"`
	Frees        string   `json:"-"`
	Needs        string   `json:"-"`
	// Numbers for API clients.
	IdleDays30     int       `json:"idle_days_30"`
	IdleDays14     int       `json:"idle_days_14"`
	CurrentRunDays int       `json:"current_run_days"`
	Coverage30     float64   `json:"coverage_30"`
	CPUP95         float64   `json:"cpu_p95"`
	MemP99         float64   `json:"mem_p99"`
	LastActiveDay  string    `json:"last_active_day,omitempty"`
	DiskUsedPct    float64   `json:"disk_used_pct"`
	DiskFullDate   string    `json:"disk_full_date,omitempty"`
	FreesRes       *res      `json:"frees,omitempty"`
	NeedsRes       *res      `json:"needs,omitempty"`
	Exception      *excView  `json:"exception,omitempty"`
	EvaluatedAt    time.Time `json:"-"`
}

type res struct {
	VCPU      float64 `json:"vcpu"`
	MemGiB    float64 `json:"mem_gib"`
	StorageTB float64 `json:"storage_tb"`
}

// excView is an exception as pages and the API show it.
type excView struct {
	ID       int64  `json:"id"`
	Type     string `json:"type"`
	TypeName string `json:"-"`
	HostID   int64  `json:"host_id,omitempty"`
	System   string `json:"system,omitempty"`
	Owner    string `json:"owner"`
	Reason   string `json:"reason"`
	Schedule string `json:"schedule,omitempty"`
	Months   []int  `json:"months,omitempty"`
	Created  string `json:"created"`
	Expires  string `json:"expires"`
	Live     bool   `json:"live"`
}

func narrLang(lang string) narrative.Lang {
	if lang == "en" {
		return narrative.EN
	}
	return narrative.ZH
}

func day(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(detect.Location).Format(time.DateOnly)
}

// partial keeps a short prefix and suffix of ID and phone numbers in exception texts shown on pages.
var partial = mask.New(mask.Partial)

func newExcView(lang string, x detect.Exception, now time.Time) *excView {
	v := &excView{ID: x.ID, Type: string(x.Type), TypeName: report.ExceptionName(narrLang(lang), x.Type), HostID: x.HostID,
		System: x.System, Owner: partial.Text(x.Owner), Reason: partial.Text(x.Reason), Schedule: x.Schedule,
		Created: day(x.Created), Expires: day(x.Expires), Live: x.Live(now)}
	for _, m := range x.Months {
		v.Months = append(v.Months, int(m))
	}
	return v
}

func pct(v float64) string { return strconv.FormatFloat(math.Round(v*10)/10, 'f', 1, 64) + "%" }

func resString(lang string, r *detect.Resources) string {
	if r == nil || r.VCPU == 0 && r.MemGiB == 0 && r.StorageTB == 0 {
		return ""
	}
	return fmt.Sprintf("%g vCPU · %.1f GiB · %.2f TB", r.VCPU, r.MemGiB, r.StorageTB)
}

func resOf(r *detect.Resources) *res {
	if r == nil {
		return nil
	}
	return &res{VCPU: r.VCPU, MemGiB: r.MemGiB, StorageTB: r.StorageTB}
}

func newFindingView(lang string, row report.Row, at time.Time) findingView {
	f, ev := row.Finding, row.Finding.Evidence
	l := narrLang(lang)
	v := findingView{
		HostID: row.HostID, Host: row.Host, System: row.System, Department: row.Department, DepartmentID: row.DepartmentID,
		Kind: string(f.Kind), KindKey: "kind." + string(f.Kind), Status: string(f.Status), Excepted: f.Status == detect.StatusExcepted,
		Confidence: report.ConfidenceName(l, f.Confidence),
		IdleDays30: ev.IdleDays30, IdleDays14: ev.IdleDays14, CurrentRunDays: ev.CurrentRun.IdleDays, Coverage30: ev.Coverage30,
		CPUP95: ev.WindowCPUP95, MemP99: ev.WindowMemP99, LastActiveDay: day(ev.LastActiveDay), DiskUsedPct: ev.DiskUsedPct,
		FreesRes: resOf(f.Frees), NeedsRes: resOf(f.Needs), Frees: resString(lang, f.Frees), Needs: resString(lang, f.Needs),
		EvaluatedAt: at,
	}
	for _, r := range f.Reasons {
		v.Reasons = append(v.Reasons, string(r))
	}
	if t := ev.DiskTrend; t != nil {
		v.DiskFullDate = day(t.ProjectedFull)
	}
	if f.Exception != nil {
		v.Exception = newExcView(lang, *f.Exception, at)
	}
	// Evidence lines, labelled in the page's language.
	lbl := evidenceLabels[l]
	add := func(k, val string) { v.Evidence = append(v.Evidence, lbl[k]+" "+val) }
	if f.Kind.IsIdle() || f.Kind == detect.KindInsufficientData {
		add("idle30", strconv.Itoa(ev.IdleDays30))
		add("idle14", strconv.Itoa(ev.IdleDays14))
		if ev.CurrentRun.IdleDays > 0 {
			add("run", strconv.Itoa(ev.CurrentRun.IdleDays))
		}
		if !ev.LastActiveDay.IsZero() {
			add("last", day(ev.LastActiveDay))
		}
	}
	add("cpu", pct(ev.WindowCPUP95))
	add("mem", pct(ev.WindowMemP99))
	add("cov", pct(100*ev.Coverage30))
	if f.Kind == detect.KindOverloaded {
		if ev.HotDays > 0 {
			add("hot", strconv.Itoa(ev.HotDays))
		}
		if ev.DiskUsedPct > 0 {
			add("disk", pct(ev.DiskUsedPct))
		}
		if t := ev.DiskTrend; t != nil && !t.ProjectedFull.IsZero() {
			add("full", day(t.ProjectedFull))
			add("trend", fmt.Sprintf("%.1f GB/d", t.SlopeBytesPerDay/1e9))
		}
	}
	return v
}

var evidenceLabels = map[narrative.Lang]map[string]string{
	narrative.ZH: {"idle30": "近30天空闲天数", "idle14": "近14天空闲天数", "run": "连续空闲天数", "last": "最近活跃日",
		"cpu": "CPU P95", "mem": "内存 P99", "cov": "覆盖率", "hot": "高负载天数", "disk": "最满磁盘", "full": "预计写满",
		"trend": "磁盘增长"},
	narrative.EN: {"idle30": "idle days (30)", "idle14": "idle days (14)", "run": "idle run (days)", "last": "last active",
		"cpu": "CPU P95", "mem": "memory P99", "cov": "coverage", "hot": "hot days", "disk": "fullest disk", "full": "full by",
		"trend": "disk growth"},
}

// scopedFindings evaluates and returns the rows the caller may see, filtered.
func (c *Console) scopedFindings(r *http.Request, pc PageContext, f findingFilter) (report.Snapshot, []findingView, error) {
	fd, err := c.findingsData()
	if err != nil {
		return report.Snapshot{}, nil, err
	}
	snap, err := fd.Evaluate(r.Context())
	if err != nil {
		return report.Snapshot{}, nil, err
	}
	var rows []findingView
	for _, row := range snap.Rows {
		if !inScope(pc.Scope, row.DepartmentID) || f.Kind != "" && string(row.Finding.Kind) != f.Kind ||
			f.Dept != 0 && row.DepartmentID != f.Dept {
			continue
		}
		rows = append(rows, newFindingView(pc.Lang, row, snap.At))
	}
	return snap, rows, nil
}

func scopedDepts(pc PageContext, snap report.Snapshot) []deptOption {
	var out []deptOption
	for name, id := range snap.DepartmentIDs {
		if inScope(pc.Scope, id) {
			out = append(out, deptOption{id, name})
		}
	}
	slices.SortFunc(out, func(a, b deptOption) int { return strings.Compare(a.Name, b.Name) })
	return out
}

type findingsBody struct {
	findingFilter
	Kinds       []string
	DeptOptions []deptOption
	Rows        []findingView
	At          string
	Month       string
	District    bool // the caller may download the district report
	CanRead     bool // exceptions are listed
	CanEdit     bool // exceptions can be added and deleted
	Exceptions  []*excView
	Types       []string
}

func (c *Console) handleFindings(w http.ResponseWriter, r *http.Request, pc PageContext) error {
	f, err := parseFindingFilter(r)
	if err != nil {
		return err
	}
	snap, rows, err := c.scopedFindings(r, pc, f)
	if err != nil {
		return err
	}
	b := findingsBody{findingFilter: f, DeptOptions: scopedDepts(pc, snap), Rows: rows, At: formatTS(snap.At),
		Month: snap.At.In(detect.Location).Format("2006-01"), District: pc.Scope.All,
		CanRead: canReadExceptions(pc), CanEdit: pc.User.Role == RoleAdmin,
		Types: []string{string(detect.ExceptDRStandby), string(detect.ExceptScheduledBatch), string(detect.ExceptSeasonal)}}
	for _, k := range report.Kinds {
		b.Kinds = append(b.Kinds, string(k))
	}
	if b.CanRead {
		fd, _ := c.findingsData()
		xs, err := fd.Exceptions(r.Context())
		if err != nil {
			return err
		}
		for _, x := range xs {
			b.Exceptions = append(b.Exceptions, newExcView(pc.Lang, x, snap.At))
		}
	}
	c.render(w, r, pc, http.StatusOK, "findings", page{Nav: "findings", Title: "findings.title", Body: b})
	return nil
}

func (c *Console) handleFindingsJSON(w http.ResponseWriter, r *http.Request, pc PageContext) error {
	f, err := parseFindingFilter(r)
	if err != nil {
		return err
	}
	snap, rows, err := c.scopedFindings(r, pc, f)
	if err != nil {
		return err
	}
	if rows == nil {
		rows = []findingView{}
	}
	writeJSON(w, r, http.StatusOK, struct {
		EvaluatedAt time.Time     `json:"evaluated_at"`
		Findings    []findingView `json:"findings"`
	}{snap.At, rows})
	return nil
}

// handleReport downloads the monthly report: ?month=YYYY-MM&dept=ID&format=html|md. Department users get
// their own department's report; the district report (no dept) needs a bureau-wide scope.
func (c *Console) handleReport(w http.ResponseWriter, r *http.Request, pc PageContext) error {
	fd, err := c.findingsData()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	month, err := time.ParseInLocation("2006-01", q.Get("month"), detect.Location)
	if err != nil {
		return badParam("month", "want YYYY-MM")
	}
	format := q.Get("format")
	if format == "" {
		format = report.FormatHTML
	}
	if format != report.FormatHTML && format != report.FormatMarkdown {
		return badParam("format", "want html or md")
	}
	var deptID int64
	if d := q.Get("dept"); d != "" {
		if deptID, err = strconv.ParseInt(d, 10, 64); err != nil || deptID <= 0 {
			return badParam("dept", "want a department id")
		}
	}
	if deptID == 0 && !pc.Scope.All {
		deptID = pc.Scope.DepartmentID
	}
	if !pc.Scope.All && (deptID == 0 || deptID != pc.Scope.DepartmentID) {
		return &HTTPError{Code: http.StatusNotFound, Err: ErrNotFound}
	}
	req := report.Request{Month: month, Lang: narrLang(pc.Lang), Demo: c.data.IsDemo(r.Context())}
	if q.Get("lang") != "" {
		req.Lang = narrLang(q.Get("lang"))
	}
	if deptID != 0 {
		snap, err := fd.Evaluate(r.Context())
		if err != nil {
			return err
		}
		for name, id := range snap.DepartmentIDs {
			if id == deptID {
				req.Department = name
			}
		}
		if req.Department == "" {
			return &HTTPError{Code: http.StatusNotFound, Err: ErrNotFound}
		}
	}
	doc, err := fd.Generate(r.Context(), req)
	if err != nil {
		return &HTTPError{Code: http.StatusBadRequest, Param: "month", Msg: err.Error(), Err: err}
	}
	body, err := report.Render(doc, format)
	if err != nil {
		return err
	}
	ctype, ext := "text/html; charset=utf-8", "html"
	if format == report.FormatMarkdown {
		ctype, ext = "text/markdown; charset=utf-8", "md"
	}
	name := "zhizhi-report-" + month.Format("2006-01")
	if deptID != 0 {
		name += "-dept" + strconv.FormatInt(deptID, 10)
	}
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name + "." + ext}))
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	writeRaw(w, r, http.StatusOK, ctype, body)
	return nil
}

func (c *Console) handleExceptionsJSON(w http.ResponseWriter, r *http.Request, pc PageContext) error {
	if !canReadExceptions(pc) {
		return &HTTPError{Code: http.StatusForbidden, Msg: "administrators and analysts only"}
	}
	fd, err := c.findingsData()
	if err != nil {
		return err
	}
	xs, err := fd.Exceptions(r.Context())
	if err != nil {
		return err
	}
	out := []*excView{}
	now := c.now()
	for _, x := range xs {
		out = append(out, newExcView(pc.Lang, x, now))
	}
	writeJSON(w, r, http.StatusOK, struct {
		Exceptions []*excView `json:"exceptions"`
	}{out})
	return nil
}

// exceptionInput is the body of a create request, as JSON or as form fields of the same names.
type exceptionInput struct {
	Type     string `json:"type"`
	HostID   int64  `json:"host_id"`
	System   string `json:"system"`
	Owner    string `json:"owner"`
	Reason   string `json:"reason"`
	Schedule string `json:"schedule"`
	Months   []int  `json:"months"`
	Expires  string `json:"expires"` // YYYY-MM-DD (exclusive end, Asia/Shanghai)
}

func parseExceptionInput(r *http.Request) (exceptionInput, error) {
	var in exceptionInput
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	r.Body = http.MaxBytesReader(nil, r.Body, 64<<10)
	if ct == "application/json" {
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			return in, badParam("body", "invalid JSON: "+err.Error())
		}
		return in, nil
	}
	if err := r.ParseForm(); err != nil {
		return in, badParam("body", "invalid form")
	}
	in.Type, in.System = r.PostFormValue("type"), strings.TrimSpace(r.PostFormValue("system"))
	in.Owner, in.Reason = strings.TrimSpace(r.PostFormValue("owner")), strings.TrimSpace(r.PostFormValue("reason"))
	in.Schedule, in.Expires = strings.TrimSpace(r.PostFormValue("schedule")), r.PostFormValue("expires")
	if h := r.PostFormValue("host_id"); h != "" {
		id, err := strconv.ParseInt(h, 10, 64)
		if err != nil {
			return in, badParam("host_id", "want a host id")
		}
		in.HostID = id
	}
	for _, f := range strings.FieldsFunc(r.PostFormValue("months"), func(r rune) bool { return r == ',' || r == ' ' || r == '，' }) {
		m, err := strconv.Atoi(f)
		if err != nil {
			return in, badParam("months", "want month numbers 1..12 separated by commas")
		}
		in.Months = append(in.Months, m)
	}
	return in, nil
}

func (c *Console) createException(r *http.Request, pc PageContext) (detect.Exception, error) {
	if err := requireAdmin(pc); err != nil {
		return detect.Exception{}, err
	}
	if err := checkCSRF(r, pc); err != nil {
		return detect.Exception{}, err
	}
	fd, err := c.findingsData()
	if err != nil {
		return detect.Exception{}, err
	}
	in, err := parseExceptionInput(r)
	if err != nil {
		return detect.Exception{}, err
	}
	expires, err := time.ParseInLocation(time.DateOnly, in.Expires, detect.Location)
	if err != nil {
		return detect.Exception{}, badParam("expires", "want YYYY-MM-DD")
	}
	x := detect.Exception{Type: detect.ExceptionType(in.Type), HostID: in.HostID, System: in.System, Owner: in.Owner,
		Reason: in.Reason, Schedule: in.Schedule, Created: c.now(), Expires: expires}
	for _, m := range in.Months {
		x.Months = append(x.Months, time.Month(m))
	}
	x, err = fd.AddException(r.Context(), x)
	if fe, ok := report.IsFieldError(err); ok {
		return detect.Exception{}, &HTTPError{Code: http.StatusBadRequest, Param: strings.ToLower(fe.Field), Msg: err.Error(), Err: err}
	}
	return x, err
}

func (c *Console) handleExceptionCreateJSON(w http.ResponseWriter, r *http.Request, pc PageContext) error {
	x, err := c.createException(r, pc)
	if err != nil {
		return err
	}
	writeJSON(w, r, http.StatusCreated, newExcView(pc.Lang, x, c.now()))
	return nil
}

func (c *Console) handleExceptionForm(w http.ResponseWriter, r *http.Request, pc PageContext) error {
	if _, err := c.createException(r, pc); err != nil {
		return err
	}
	http.Redirect(w, r, "/findings", http.StatusSeeOther)
	return nil
}

func (c *Console) deleteException(r *http.Request, pc PageContext) error {
	if err := requireAdmin(pc); err != nil {
		return err
	}
	if err := checkCSRF(r, pc); err != nil {
		return err
	}
	fd, err := c.findingsData()
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return &HTTPError{Code: http.StatusNotFound, Err: ErrNotFound}
	}
	err = fd.DeleteException(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return &HTTPError{Code: http.StatusNotFound, Err: fmt.Errorf("%w: %w", ErrNotFound, err)}
	}
	return err
}

func (c *Console) handleExceptionDeleteJSON(w http.ResponseWriter, r *http.Request, pc PageContext) error {
	if err := c.deleteException(r, pc); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (c *Console) handleExceptionDeleteForm(w http.ResponseWriter, r *http.Request, pc PageContext) error {
	if err := c.deleteException(r, pc); err != nil {
		return err
	}
	http.Redirect(w, r, "/findings", http.StatusSeeOther)
	return nil
}

// DataWithFindings joins a Data and a FindingsData into one Data that the console type-asserts to
// FindingsData: a server that takes only a Data serves the findings pages too.
func DataWithFindings(d Data, f FindingsData) Data { return dataWithFindings{d, f} }

type dataWithFindings struct {
	Data
	FindingsData
}

package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"zhizhi/agent/wire"
	"zhizhi/collector/ingest"
	"zhizhi/server/auth"
)

var testNow = time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)

type env struct {
	t       testing.TB
	srv     *Server
	ts      *httptest.Server
	store   *fakeStore
	token   string // a live agent's token
	agentID string
	revoked string // a revoked agent's token
	users   *auth.MemoryUserStore
	now     time.Time
	tls     bool
	mu      sync.Mutex
}

func newEnv(t testing.TB, opts Options) *env { return newEnvTLS(t, opts, false) }

// newEnvTLS is newEnv served over TLS when tls is set.
func newEnvTLS(t testing.TB, opts Options, tls bool) *env {
	t.Helper()
	e := &env{t: t, store: newFakeStore(), now: testNow, tls: tls}
	ctx := context.Background()
	us := &auth.MemoryUserStore{Departments: map[string]int64{"Dept 01": 1, "Dept 02": 2, "Dept 03": 3}, Clock: e.clock}
	e.users = us
	for _, u := range []struct {
		name, pw string
		role     auth.Role
		dept     string
	}{{"admin", "admin-pw", auth.RoleAdmin, ""}, {"ann", "ann-pw", auth.RoleAnalyst, ""},
		{"dora", "dora-pw", auth.RoleDepartment, "Dept 01"}} {
		h, err := auth.HashPassword(u.pw, bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		if err := us.CreateUser(ctx, auth.User{Name: u.name, Role: u.role, Department: u.dept}, h); err != nil {
			t.Fatal(err)
		}
	}
	a, tok, _ := e.store.EnrollAgent(ctx, "不动产登记", "自然资源局")
	e.token, e.agentID = tok, a.ID
	r, rtok, _ := e.store.EnrollAgent(ctx, "old", "gone")
	_ = e.store.RevokeAgent(ctx, r.ID)
	e.revoked = rtok
	opts.Clock = e.clock
	e.srv = New(e.store, auth.NewAuthenticator(us), opts)
	if e.tls {
		e.ts = httptest.NewTLSServer(e.srv.Handler())
	} else {
		e.ts = httptest.NewServer(e.srv.Handler())
	}
	t.Cleanup(e.ts.Close)
	return e
}

func (e *env) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *env) setNow(t time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = t
}

type cred func(r *http.Request)

func basic(name, pw string) cred { return func(r *http.Request) { r.SetBasicAuth(name, pw) } }
func bearer(tok string) cred {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}
func header(k, v string) cred  { return func(r *http.Request) { r.Header.Set(k, v) } }
func anonymous() cred          { return func(*http.Request) {} }
func (e *env) admin() cred     { return basic("admin", "admin-pw") }
func (e *env) analyst() cred   { return basic("ann", "ann-pw") }
func (e *env) agent() cred     { return bearer(e.token) }
func jsonBody(v any) io.Reader { b, _ := json.Marshal(v); return bytes.NewReader(b) }
func gzBody(v any) io.Reader   { return bytes.NewReader(gzBytes(mustMarshal(v))) }
func mustMarshal(v any) []byte { b, _ := json.Marshal(v); return b }

func gzBytes(data []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(data)
	zw.Close()
	return buf.Bytes()
}

// do sends a request and returns the status and body.
func (e *env) do(method, path string, body io.Reader, creds ...cred) (int, []byte, http.Header) {
	e.t.Helper()
	resp, data := e.raw(method, path, body, creds...)
	return resp.StatusCode, []byte(data), resp.Header
}

func decodeErr(t testing.TB, data []byte) wire.Error {
	t.Helper()
	var we wire.Error
	if err := json.Unmarshal(data, &we); err != nil || we.Error == "" {
		t.Fatalf("body %q is not a wire.Error: %v", data, err)
	}
	return we
}

func (e *env) batch(seqs ...uint64) *wire.Batch {
	b := &wire.Batch{Version: wire.SchemaVersion, AgentID: e.agentID, SentAt: e.now.Add(2 * time.Second), Dropped: 7,
		Host: &wire.HostFacts{Hostname: "web-01", OS: "linux"}}
	for i, s := range seqs {
		b.Samples = append(b.Samples, wire.Sample{Seq: s, Time: e.now.Add(time.Duration(i-len(seqs)) * time.Minute),
			IntervalSeconds: 60, CPU: &wire.CPU{BusyPct: 10}, Memory: &wire.Memory{UsedPct: 50},
			FS: []wire.Filesystem{{Mount: "/", UsedPct: 40}}})
	}
	return b
}

func TestIngestAcknowledgesAndCountsDuplicates(t *testing.T) {
	e := newEnv(t, Options{})
	code, data, _ := e.do("POST", wire.IngestPath, gzBody(e.batch(1, 2, 3)), e.agent(), header("Content-Encoding", "gzip"),
		header("Content-Type", "application/json"))
	var ack wire.Ack
	if code != http.StatusOK || json.Unmarshal(data, &ack) != nil || ack != (wire.Ack{Accepted: 3, MaxSeq: 3}) {
		t.Fatalf("first batch: %d %s", code, data)
	}
	// The agent did not get the answer and sends 2..4 again with one new sample.
	code, data, _ = e.do("POST", wire.IngestPath, jsonBody(e.batch(2, 3, 4)), e.agent())
	if code != http.StatusOK || json.Unmarshal(data, &ack) != nil || ack != (wire.Ack{Accepted: 1, Duplicates: 2, MaxSeq: 4}) {
		t.Fatalf("retried batch: %d %s", code, data)
	}
	if len(e.store.batches) != 2 {
		t.Fatalf("store got %d batches", len(e.store.batches))
	}
	a := e.store.agents[e.agentID]
	if a.ClockSkew != 2*time.Second || a.Dropped != 7 {
		t.Errorf("skew %v dropped %d not recorded", a.ClockSkew, a.Dropped)
	}
	_, metrics, _ := e.do("GET", "/metrics", nil)
	for _, want := range []string{
		`zhizhi_ingest_requests_total{code="200"} 2`,
		`zhizhi_ingest_samples_total 4`,
		`zhizhi_ingest_duplicate_samples_total 2`,
		`zhizhi_ingest_duration_seconds_count 2`,
		`zhizhi_agents{state="revoked"} 1`,
		`zhizhi_agents{state="online"} 1`,
		`zhizhi_agents_dropped_samples 7`,
	} {
		if !strings.Contains(string(metrics), want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestIngestRejectsBadInput(t *testing.T) {
	e := newEnv(t, Options{Limits: ingest.Limits{MaxBodyBytes: 64 << 10, MaxDecodedBytes: 256 << 10}})
	good := func() map[string]any {
		var m map[string]any
		json.Unmarshal(mustMarshal(e.batch(1, 2, 3)), &m)
		return m
	}
	sample := func(m map[string]any, i int) map[string]any { return m["samples"].([]any)[i].(map[string]any) }
	edit := func(fn func(m map[string]any)) []byte { m := good(); fn(m); return mustMarshal(m) }
	editBatch := func(fn func(b *wire.Batch)) []byte { b := e.batch(1, 2, 3); fn(b); return mustMarshal(b) }
	bomb := gzBytes(bytes.Repeat([]byte("{"), 1<<20)) // 1 MiB of '{' is ~1 KiB gzipped

	f := func(name string, body []byte, creds []cred, wantCode int, wantField, wantMsg string) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			before := len(e.store.batches)
			code, data, _ := e.do("POST", wire.IngestPath, bytes.NewReader(body), append([]cred{e.agent()}, creds...)...)
			if code != wantCode {
				t.Fatalf("status %d %s, want %d", code, data, wantCode)
			}
			we := decodeErr(t, data)
			if we.Field != wantField || !strings.Contains(we.Error, wantMsg) {
				t.Fatalf("got %+v, want field %q and message containing %q", we, wantField, wantMsg)
			}
			if len(e.store.batches) != before {
				t.Fatal("a rejected batch reached the store")
			}
		})
	}
	gzipped := []cred{header("Content-Encoding", "gzip")}
	f("bad JSON", []byte(`{"version":1,"samples":[`), nil, 400, "samples", "unexpected end")
	f("wrong type", edit(func(m map[string]any) { sample(m, 2)["cpu"].(map[string]any)["busy_pct"] = "x" }), nil,
		400, "samples[2].cpu.busy_pct", "expected number, got string")
	f("unknown field", edit(func(m map[string]any) { sample(m, 0)["temperature"] = 41 }), nil, 400, "samples[0].temperature", "unknown field")
	f("oversize", bytes.Repeat([]byte(" "), 65<<10), nil, 413, "", "too large")
	f("gzip bomb", bomb, gzipped, 413, "", "too large")
	f("over-deep", []byte(`{"samples":[`+strings.Repeat("[", 20)+strings.Repeat("]", 20)+`]}`), nil, 400, "", "nested deeper than 16")
	f("future timestamp", editBatch(func(b *wire.Batch) { b.Samples[1].Time = e.now.Add(time.Hour) }), nil, 400, "samples[1].ts", "in the future")
	f("past timestamp", editBatch(func(b *wire.Batch) { b.Samples[0].Time = e.now.AddDate(0, 0, -8) }), nil, 400, "samples[0].ts", "older than")
	f("percent out of range", editBatch(func(b *wire.Batch) { b.Samples[2].FS[0].UsedPct = 140 }), nil, 400, "samples[2].fs[0].used_pct", "outside 0..100")
	f("non-monotonic seq", editBatch(func(b *wire.Batch) { b.Samples[2].Seq = 1 }), nil, 400, "samples[2].seq", "increase strictly")
	f("agent_id mismatch", editBatch(func(b *wire.Batch) { b.AgentID = "ag2" }), nil, 400, "agent_id", "does not match")
	f("unsupported encoding", mustMarshal(e.batch(1)), []cred{header("Content-Encoding", "br")}, 415, "", "unsupported content encoding")
	f("unsupported content type", mustMarshal(e.batch(1)), []cred{header("Content-Type", "text/plain")}, 415, "", "content type")
	f("not gzip", mustMarshal(e.batch(1)), gzipped, 400, "", "invalid gzip body")
}

func TestIngestStreamedOversize(t *testing.T) {
	e := newEnv(t, Options{Limits: ingest.Limits{MaxBodyBytes: 1 << 10}})
	// No Content-Length: the limit is enforced while reading.
	pr, pw := io.Pipe()
	go func() {
		pw.Write(bytes.Repeat([]byte(" "), 4<<10))
		pw.Close()
	}()
	code, data, _ := e.do("POST", wire.IngestPath, pr, e.agent())
	if code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d %s", code, data)
	}
}

func TestAgentsAPI(t *testing.T) {
	e := newEnv(t, Options{})
	code, data, _ := e.do("POST", "/api/v1/agents", jsonBody(EnrollRequest{System: " 社保系统 ", Department: "人社局"}), e.admin())
	var enrolled struct {
		Agent agentJSON `json:"agent"`
		Token string    `json:"token"`
	}
	if code != http.StatusCreated || json.Unmarshal(data, &enrolled) != nil || enrolled.Token == "" || enrolled.Agent.System != "社保系统" {
		t.Fatalf("enroll: %d %s", code, data)
	}
	// The new token works at once.
	if code, data, _ := e.do("POST", wire.IngestPath, jsonBody(func() *wire.Batch {
		b := e.batch(1)
		b.AgentID = enrolled.Agent.ID
		return b
	}()), bearer(enrolled.Token)); code != http.StatusOK {
		t.Fatalf("ingest with the new token: %d %s", code, data)
	}
	f := func(body string, field, msg string) {
		t.Helper()
		code, data, _ := e.do("POST", "/api/v1/agents", strings.NewReader(body), e.admin())
		we := decodeErr(t, data)
		if code != http.StatusBadRequest || we.Field != field || !strings.Contains(we.Error, msg) {
			t.Errorf("enroll %s: %d %+v, want 400 on %q containing %q", body, code, we, field, msg)
		}
	}
	f(`{"department":"x"}`, "system", "required")
	f(`{"system":"x","department":"  "}`, "department", "required")
	f(`{"system":"`+strings.Repeat("长", 100)+`","department":"x"}`, "system", "at most 200")
	f(`{"system":1,"department":"x"}`, "system", "expected string")
	f(`{"system":"x","department":"y","role":"root"}`, "", "unknown field")
	f(`not json`, "", "invalid JSON")

	code, data, _ = e.do("GET", "/api/v1/agents", nil, e.admin())
	var list struct{ Agents []agentJSON }
	if code != 200 || json.Unmarshal(data, &list) != nil || len(list.Agents) != 3 {
		t.Fatalf("list: %d %s", code, data)
	}
	if strings.Contains(string(data), enrolled.Token) || strings.Contains(string(data), "token") {
		t.Fatal("agent list shows tokens")
	}
	if list.Agents[0].ClockSkewS != 0 || list.Agents[1].RevokedAt == nil {
		t.Errorf("list: %+v", list.Agents)
	}

	code, data, _ = e.do("POST", "/api/v1/agents/"+enrolled.Agent.ID+"/revoke", nil, e.admin())
	if code != 200 || !strings.Contains(string(data), `"revoked":true`) {
		t.Fatalf("revoke: %d %s", code, data)
	}
	if code, _, _ := e.do("POST", "/api/v1/agents/"+enrolled.Agent.ID+"/revoke", nil, e.admin()); code != 200 {
		t.Errorf("revoking twice: %d", code)
	}
	if code, _, _ := e.do("POST", wire.IngestPath, jsonBody(e.batch(9)), bearer(enrolled.Token)); code != http.StatusForbidden {
		t.Errorf("revoked token ingest: %d", code)
	}
	code, data, _ = e.do("POST", "/api/v1/agents/nope/revoke", nil, e.admin())
	if we := decodeErr(t, data); code != 404 || we.Field != "id" {
		t.Errorf("revoke unknown: %d %+v", code, we)
	}
}

func TestQueryAPI(t *testing.T) {
	e := newEnv(t, Options{})
	p95 := 9.5
	latest := func(interval float64) *wire.Sample {
		return &wire.Sample{Seq: 9, Time: testNow, IntervalSeconds: interval, CPU: &wire.CPU{BusyPct: 12},
			Memory: &wire.Memory{UsedPct: 55}, FS: []wire.Filesystem{{Mount: "/", UsedPct: 40}, {Mount: "/data", UsedPct: 91}, {Mount: "/boot", UsedPct: 20}}}
	}
	e.store.hosts = []HostSummary{
		{ID: 1, AgentID: "ag1", Hostname: "online", LastSeen: testNow.Add(-2 * time.Minute), Latest: latest(60), Facts: &wire.HostFacts{Hostname: "online", CPUCores: 4}},
		{ID: 2, AgentID: "ag2", Hostname: "stale", LastSeen: testNow.Add(-4 * time.Minute), Latest: latest(60)},
		{ID: 3, AgentID: "ag3", Hostname: "offline", LastSeen: testNow.Add(-16 * time.Minute)},
		{ID: 4, AgentID: "ag4", Hostname: "slow", LastSeen: testNow.Add(-25 * time.Minute), Latest: latest(600)},
	}
	e.store.series = Series{Resolution: "1m", Points: []Point{{TS: testNow.Add(-time.Minute), N: 6, Min: 1, Avg: 2, Max: 3, P95: &p95}}}

	code, data, _ := e.do("GET", "/api/v1/hosts", nil, e.analyst())
	var hosts struct{ Hosts []hostJSON }
	if code != 200 || json.Unmarshal(data, &hosts) != nil || len(hosts.Hosts) != 4 {
		t.Fatalf("hosts: %d %s", code, data)
	}
	for _, h := range hosts.Hosts {
		want := h.Hostname
		if want == "slow" {
			want = StatusOnline // 25 min is within 3 intervals of 10 min
		}
		if h.Status != want {
			t.Errorf("host %s: status %s", h.Hostname, h.Status)
		}
	}
	h := hosts.Hosts[0]
	if *h.CPUBusyPct != 12 || *h.MemUsedPct != 55 || *h.FSMaxUsedPct != 91 || h.FSMaxMount != "/data" {
		t.Errorf("host headline values: %s", data)
	}
	if hosts.Hosts[2].CPUBusyPct != nil || !strings.Contains(string(data), `"cpu_busy_pct":null`) {
		t.Errorf("a host without samples must show null values: %s", data)
	}

	code, data, _ = e.do("GET", "/api/v1/hosts/1", nil, e.admin())
	var detail struct {
		ID     int64
		Facts  *wire.HostFacts
		Latest *wire.Sample
	}
	if code != 200 || json.Unmarshal(data, &detail) != nil || detail.ID != 1 || detail.Facts.CPUCores != 4 || len(detail.Latest.FS) != 3 {
		t.Fatalf("host detail: %d %s", code, data)
	}

	code, data, _ = e.do("GET", "/api/v1/systems", nil, e.analyst())
	if code != 200 || !strings.Contains(string(data), `"name":"不动产登记"`) {
		t.Fatalf("systems: %d %s", code, data)
	}

	code, data, _ = e.do("GET", "/api/v1/hosts/1/series?metric=cpu.busy_pct", nil, e.analyst())
	var series seriesJSON
	if code != 200 || json.Unmarshal(data, &series) != nil || series.Resolution != "1m" || len(series.Points) != 1 || *series.Points[0].P95 != 9.5 {
		t.Fatalf("series: %d %s", code, data)
	}
	if !e.store.seriesTo.Equal(testNow) || !e.store.seriesFrom.Equal(testNow.Add(-24*time.Hour)) {
		t.Errorf("default range %v..%v, want the last 24 h", e.store.seriesFrom, e.store.seriesTo)
	}
	code, _, _ = e.do("GET", "/api/v1/hosts/1/series?metric=fs.used_pct:/data&from=2026-11-29T00:00:00%2B08:00&to=2026-11-30T00:00:00Z", nil, e.analyst())
	if code != 200 || !e.store.seriesFrom.Equal(time.Date(2026, 11, 28, 16, 0, 0, 0, time.UTC)) {
		t.Errorf("explicit range: %d %v", code, e.store.seriesFrom)
	}

	f := func(path string, wantCode int, wantField string) {
		t.Helper()
		code, data, _ := e.do("GET", path, nil, e.analyst())
		if we := decodeErr(t, data); code != wantCode || we.Field != wantField {
			t.Errorf("GET %s: %d %+v, want %d on %q", path, code, we, wantCode, wantField)
		}
	}
	f("/api/v1/hosts/99", 404, "id")
	f("/api/v1/hosts/abc", 400, "id")
	f("/api/v1/hosts/99/series?metric=cpu.busy_pct", 404, "id")
	f("/api/v1/hosts/1/series", 400, "metric")
	f("/api/v1/hosts/1/series?metric=cpu.temperature", 400, "metric")
	f("/api/v1/hosts/1/series?metric=fs.used_pct:", 400, "metric")
	f("/api/v1/hosts/1/series?metric=cpu.busy_pct&from=yesterday", 400, "from")
	f("/api/v1/hosts/1/series?metric=cpu.busy_pct&to=2026-13-01T00:00:00Z", 400, "to")
	f("/api/v1/hosts/1/series?metric=cpu.busy_pct&from=2026-11-30T00:00:00Z&to=2026-11-29T00:00:00Z", 400, "from")
}

func TestFreshnessStatus(t *testing.T) {
	f := Freshness{}
	for _, c := range []struct {
		age      time.Duration
		interval time.Duration
		want     string
	}{
		{0, 0, StatusOnline},
		{3 * time.Minute, 0, StatusOnline},
		{3*time.Minute + time.Second, 0, StatusStale},
		{15 * time.Minute, 0, StatusStale},
		{15*time.Minute + time.Second, 0, StatusOffline},
		{30 * time.Second, 10 * time.Second, StatusOnline},
		{31 * time.Second, 10 * time.Second, StatusStale},
		{29 * time.Minute, 10 * time.Minute, StatusOnline},
		{31 * time.Minute, 10 * time.Minute, StatusOffline},
	} {
		if got := f.Status(testNow.Add(-c.age), testNow, c.interval); got != c.want {
			t.Errorf("age %v interval %v: %s, want %s", c.age, c.interval, got, c.want)
		}
	}
	if got := f.Status(time.Time{}, testNow, 0); got != StatusOffline {
		t.Errorf("never seen: %s", got)
	}
	custom := Freshness{Intervals: 2, DefaultInterval: 10 * time.Second, OfflineAfter: time.Minute}
	if got := custom.Status(testNow.Add(-30*time.Second), testNow, 0); got != StatusStale {
		t.Errorf("custom thresholds: %s", got)
	}
}

func TestHealthzAndUnknownRoutes(t *testing.T) {
	e := newEnv(t, Options{})
	if code, data, _ := e.do("GET", "/healthz", nil); code != 200 || !strings.Contains(string(data), `"ok"`) {
		t.Fatalf("healthz: %d %s", code, data)
	}
	e.store.pingErr = errors.New("database is locked")
	code, data, hdr := e.do("GET", "/healthz", nil)
	if code != 503 || strings.Contains(string(data), "locked") || hdr.Get("Retry-After") == "" {
		t.Fatalf("healthz with a failing store: %d %s (the cause must stay in the log)", code, data)
	}
	code, data, _ = e.do("GET", "/nope", nil)
	if code != 404 || decodeErr(t, data).Error != "not found" {
		t.Errorf("unknown path: %d %s", code, data)
	}
	code, data, hdr = e.do("GET", wire.IngestPath, nil, e.agent())
	if code != 405 || decodeErr(t, data).Error == "" || !strings.Contains(hdr.Get("Allow"), "POST") {
		t.Errorf("wrong method: %d %s allow %q", code, data, hdr.Get("Allow"))
	}
}

func TestServeShutsDownGracefully(t *testing.T) {
	e := newEnv(t, Options{ShutdownTimeout: 5 * time.Second})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.srv.Serve(ctx, ln) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz over a real listener: %v %v", resp, err)
	}
	resp.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/healthz"); err == nil {
		t.Fatal("server still answers after shutdown")
	}
}

func BenchmarkIngestHandler(b *testing.B) {
	e := newEnv(b, Options{})
	batch := e.batch()
	for i := range 100 {
		batch.Samples = append(batch.Samples, wire.Sample{Seq: uint64(i + 1), Time: testNow.Add(-time.Duration(100-i) * time.Second),
			IntervalSeconds: 10, CPU: &wire.CPU{BusyPct: 10}, Memory: &wire.Memory{UsedPct: 50}, Load: &wire.Load{Load1: 1},
			FS: []wire.Filesystem{{Mount: "/", UsedPct: 40}, {Mount: "/data", UsedPct: 70}}, Net: []wire.NetIO{{Interface: "eth0"}},
			Disks: []wire.DiskIO{{Device: "sda"}}, Conns: &wire.Conns{Established: 5}})
	}
	body := gzBytes(mustMarshal(batch))
	h := e.srv.Handler()
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		req := httptest.NewRequest("POST", wire.IngestPath, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+e.token)
		req.Header.Set("Content-Encoding", "gzip")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d %s", rec.Code, rec.Body)
		}
	}
}

package forward

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"zhizhi/agent/backoff"

	"github.com/prometheus/client_golang/prometheus"

	"zhizhi/agent/wire"
	"zhizhi/collector/store"
)

// running is a forwarder running in the background.
type running struct {
	f    *Forwarder
	stop func()
}

func startForwarder(t testing.TB, q Queue, opts Options) *running {
	t.Helper()
	f, err := New(q, opts)
	if err != nil {
		t.Fatalf("new forwarder: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := f.Run(ctx); err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	var once sync.Once
	r := &running{f: f, stop: func() {
		once.Do(func() {
			cancel()
			<-done
			f.Close()
		})
	}}
	t.Cleanup(r.stop)
	return r
}

// waitFor polls cond until it holds or 30 s passed.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func fastOpts(url string) Options {
	return Options{
		URL: url, Org: "zhizhi", Bucket: "zhizhi", Token: "secret-token",
		Timeout: 2 * time.Second, MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
		PollInterval: 10 * time.Millisecond,
	}
}

func TestAppendRow(t *testing.T) {
	f := func(name string, r store.ForwardRow, want string) {
		t.Helper()
		if got := string(AppendRow(nil, &r)); got != want {
			t.Errorf("%s:\ngot  %q\nwant %q", name, got, want)
		}
	}
	sessions := 2
	f("host and filesystems", store.ForwardRow{
		TS: 1700000000123, Hostname: "db 01", AgentID: "ag-abc", System: "OA,x=1", Department: `数据局\`,
		Sample: wire.Sample{
			IntervalSeconds: 15,
			CPU:             &wire.CPU{BusyPct: 12.5, IOWaitPct: 0.25},
			FS:              []wire.Filesystem{{Mount: `C:\`, UsedPct: 50, UsedBytes: 5e9, TotalBytes: 1e10}},
			Sessions:        &sessions,
		},
	}, `zhizhi_host,agent_id=ag-abc,department=数据局\\,host=db\ 01,system=OA\,x\=1 `+
		`cpu_busy_pct=12.5,cpu_iowait_pct=0.25,fs_max_used_pct=50,fs_used_bytes=5e+09,fs_total_bytes=1e+10,sessions=2 1700000000123`+"\n"+
		`zhizhi_fs,agent_id=ag-abc,department=数据局\\,host=db\ 01,mount=C:\\,system=OA\,x\=1 `+
		`used_pct=50,used_bytes=5e+09,total_bytes=1e+10 1700000000123`+"\n")
	f("empty labels left out, deltas need an interval", store.ForwardRow{
		TS: 5, AgentID: "ag-x",
		Sample: wire.Sample{Disks: []wire.DiskIO{{ReadBytes: 1}}, Load: &wire.Load{Load1: 0.5}},
	}, "zhizhi_host,agent_id=ag-x load_1=0.5 5\n")
	f("no numeric field, no line", store.ForwardRow{TS: 5, AgentID: "ag-x"}, "")
	nan := 0.0
	nan /= nan
	f("NaN left out", store.ForwardRow{
		TS: 7, AgentID: "ag-x",
		Sample: wire.Sample{CPU: &wire.CPU{BusyPct: nan, IOWaitPct: 1}, FS: []wire.Filesystem{{Mount: "/", UsedPct: nan}}},
	}, "zhizhi_host,agent_id=ag-x cpu_iowait_pct=1,fs_used_bytes=0,fs_total_bytes=0 7\n"+
		"zhizhi_fs,agent_id=ag-x,mount=/ used_bytes=0,total_bytes=0 7\n")
	f("line break in a label", store.ForwardRow{TS: 1, AgentID: "ag-x", Hostname: "a\nb", Sample: wire.Sample{Load: &wire.Load{}}},
		"zhizhi_host,agent_id=ag-x,host=a\\ b load_1=0 1\n")
}

// TestForwardToVictoriaMetrics forwards samples of two hosts (labels and mounts needing escapes) to a real
// VictoriaMetrics and reads every point back through /api/v1/export.
func TestForwardToVictoriaMetrics(t *testing.T) {
	vm := startVictoria(t)
	fl := newFleet(t, store.Options{})
	n := fl.ingest(30)
	r := startForwarder(t, fl.st, fastOpts(vm.url()))
	waitFor(t, "all samples sent", func() bool { s := r.f.Stats(); return s.Sent == int64(n) && s.Backlog == 0 })
	vm.waitExport(t, fl.want)
	// The set of names is exactly what deploy/grafana queries.
	got, err := vm.export()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, e := range got {
		names[e.Metric["__name__"]] = true
	}
	for _, f := range hostFieldNames {
		if !names["zhizhi_host_"+f] {
			t.Errorf("missing metric zhizhi_host_%s", f)
		}
	}
	for _, f := range []string{"used_pct", "used_bytes", "total_bytes"} {
		if !names["zhizhi_fs_"+f] {
			t.Errorf("missing metric zhizhi_fs_%s", f)
		}
	}
	if len(names) != len(hostFieldNames)+3 {
		t.Errorf("metric names: %d, want %d: %v", len(names), len(hostFieldNames)+3, names)
	}
	// Samples ingested while running follow.
	n += fl.ingest(5)
	waitFor(t, "new samples sent", func() bool { return r.f.Stats().Sent == int64(n) })
	vm.waitExport(t, fl.want)
	if s := r.f.Stats(); s.Dropped != 0 || s.Errors != 0 || s.LastSuccess.IsZero() {
		t.Errorf("stats %+v: want no drops, no errors, a last success", s)
	}
}

// TestForwardOutageRestartResume kills VictoriaMetrics (SIGKILL) while ingest goes on, restarts the forwarder
// (store reopened) in the middle of the backlog, brings VictoriaMetrics back on the same data, and checks that
// every sample from before, during and after the outage arrived exactly once.
func TestForwardOutageRestartResume(t *testing.T) {
	vm := startVictoria(t)
	fl := newFleet(t, store.Options{})
	total := fl.ingest(20)
	r := startForwarder(t, fl.st, fastOpts(vm.url()))
	waitFor(t, "first samples sent", func() bool { return r.f.Stats().Sent == int64(total) })
	vm.waitExport(t, fl.want)
	vm.persist()

	vm.kill()
	for range 3 {
		total += fl.ingest(10) // ingest is not held up by the dead engine
	}
	waitFor(t, "backlog of the outage", func() bool {
		s := r.f.Stats()
		return s.Backlog == 60 && s.Errors >= 2 && s.Sent == 40
	})

	// Restart the server side: forwarder stopped, store closed and reopened; the queue is in the store.
	r.stop()
	fl.reopen()
	st, err := fl.st.ForwardStatus(context.Background(), DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	if st.Backlog != 60 || st.Sent != 40 || st.Dropped != 0 {
		t.Fatalf("after reopen: %+v, want backlog 60, sent 40", st)
	}
	vm.restart()

	// A forwarder with small batches sends part of the backlog, then "crashes" (stops) mid-backlog.
	opts := fastOpts(vm.url())
	opts.BatchSize = 7
	f2, err := New(fl.st, opts)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if n, err := f2.Step(context.Background()); err != nil || n != 7 {
			t.Fatalf("step: %d, %v; want 7 samples", n, err)
		}
	}
	f2.Close()
	fl.reopen()
	if st, _ := fl.st.ForwardStatus(context.Background(), DefaultName); st.Backlog != 39 || st.Sent != 61 {
		t.Fatalf("mid-backlog: %+v, want backlog 39, sent 61", st)
	}

	r3 := startForwarder(t, fl.st, fastOpts(vm.url()))
	total += fl.ingest(10) // after the outage
	waitFor(t, "everything sent", func() bool { s := r3.f.Stats(); return s.Sent == int64(total) && s.Backlog == 0 })
	vm.waitExport(t, fl.want) // exactly once: check fails on duplicate timestamps
	if s := r3.f.Stats(); s.Dropped != 0 {
		t.Errorf("dropped %d, want 0", s.Dropped)
	}
}

// TestForwardBoundDropsOldest fills the queue beyond a tiny bound while VictoriaMetrics is down: the oldest
// samples are dropped and counted, the newest are delivered once it is back.
func TestForwardBoundDropsOldest(t *testing.T) {
	vm := startVictoria(t)
	vm.kill()
	fl := newFleet(t, store.Options{})
	opts := fastOpts(vm.url())
	opts.MaxRows = 5
	f, err := New(fl.st, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fl.ingest(10) // 20 samples: host 0 ids 1..10, host 1 ids 11..20
	if _, err := f.Step(context.Background()); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("step with the engine down: %v, want connection refused", err)
	}
	s := f.Stats()
	if s.Dropped != 15 || s.Backlog != 5 || s.Sent != 0 || s.Errors != 1 {
		t.Fatalf("stats %+v: want 15 dropped, 5 queued, 1 error", s)
	}
	vm.restart()
	if n, err := f.Step(context.Background()); err != nil || n != 5 {
		t.Fatalf("step: %d, %v; want the 5 newest", n, err)
	}
	if s := f.Stats(); s.Dropped != 15 || s.Sent != 5 || s.Backlog != 0 {
		t.Fatalf("stats %+v", s)
	}
	// Only host 1's seqs 6..10 survived.
	want := expectation{}
	h := fl.hosts[1]
	for seq := uint64(6); seq <= 10; seq++ {
		smp := testSample(seq, fl.base.Add(time.Duration(seq)*15*time.Second), 1)
		want.add(t, h, &smp)
	}
	vm.waitExport(t, want)
}

// TestForwardAgeBound drops samples ingested longer ago than MaxAge (by ingest time, server clock).
func TestForwardAgeBound(t *testing.T) {
	clk := &clock{t: time.Now()}
	fl := newFleet(t, store.Options{Clock: clk.Now})
	eng := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusBadGateway)
	}))
	defer eng.Close()
	opts := fastOpts(eng.URL)
	opts.MaxAge = 90 * time.Second
	f, err := New(fl.st, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fl.ingest(5) // 10 samples at t0
	f.Step(context.Background())
	clk.add(2 * time.Minute)
	fl.ingest(2) // 4 samples at t0+2m
	f.Step(context.Background())
	if s := f.Stats(); s.Dropped != 10 || s.Backlog != 4 {
		t.Fatalf("stats %+v: want the 10 samples ingested 2 min ago dropped, 4 queued", s)
	}
}

// TestForwardHangingEngine: an engine that accepts connections but never answers is cut off by the per-request
// timeout and retried, while ingest goes on; once it answers, everything arrives.
func TestForwardHangingEngine(t *testing.T) {
	released := make(chan struct{})
	var releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { close(released) }) }
	var hung atomic.Int64
	rec := &recorder{}
	eng := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body) // only then does the server notice the client giving up
		r.Body = io.NopCloser(bytes.NewReader(body))
		select {
		case <-released:
			rec.ServeHTTP(w, r)
		case <-r.Context().Done():
			hung.Add(1)
		}
	}))
	defer eng.Close()
	defer release()
	fl := newFleet(t, store.Options{})
	opts := fastOpts(eng.URL)
	opts.Timeout = 150 * time.Millisecond
	r := startForwarder(t, fl.st, opts)
	n := fl.ingest(5)
	waitFor(t, "requests timed out and retried", func() bool { return r.f.Stats().Errors >= 3 && hung.Load() >= 3 })
	for range 5 {
		// Ingest goes on while the forwarder waits on the engine.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		b := &wire.Batch{Version: wire.SchemaVersion, AgentID: fl.hosts[0].agentID, SentAt: time.Now()}
		fl.seq[0]++
		b.Samples = []wire.Sample{testSample(fl.seq[0], fl.base.Add(time.Duration(fl.seq[0])*15*time.Second), 0)}
		if _, err := fl.st.Ingest(ctx, fl.hosts[0].agent, b, time.Now()); err != nil {
			t.Fatalf("ingest while the engine hangs: %v", err)
		}
		cancel()
		n++
	}
	waitFor(t, "the backlog counted", func() bool { s := r.f.Stats(); return s.Backlog == int64(n) && s.Sent == 0 })
	release() // answer from now on
	waitFor(t, "everything sent", func() bool { return r.f.Stats().Sent == int64(n) })
	req := rec.first()
	if req.path != "/api/v2/write" || req.query.Get("precision") != "ms" || req.query.Get("org") != "zhizhi" ||
		req.query.Get("bucket") != "zhizhi" || req.auth != "Token secret-token" {
		t.Errorf("request %+v: want /api/v2/write?org=zhizhi&bucket=zhizhi&precision=ms with the token", req)
	}
	if got := len(rec.lines("zhizhi_host")); got != n {
		t.Errorf("host lines %d, want %d", got, n)
	}
}

// TestForwardRejectedSample: the engine refuses a batch with one bad sample (400); the forwarder halves the
// batch until it isolates the sample, drops and counts it, and delivers the others.
func TestForwardRejectedSample(t *testing.T) {
	fl := newFleet(t, store.Options{})
	fl.ingest(4) // 8 samples
	bad := fmt.Sprint(fl.base.Add(3 * 15 * time.Second).UnixMilli())
	rec := &recorder{reject: " " + bad}
	eng := httptest.NewServer(rec)
	defer eng.Close()
	f, err := New(fl.st, fastOpts(eng.URL))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for range 20 {
		f.Step(context.Background())
	}
	// Two samples carry that timestamp (one per host): both dropped, the 6 others sent.
	if s := f.Stats(); s.Sent != 6 || s.Dropped != 2 || s.Backlog != 0 {
		t.Fatalf("stats %+v: want 6 sent, 2 dropped", s)
	}
}

func TestBackoff(t *testing.T) {
	b := backoff.Backoff{Min: time.Second, Max: 8 * time.Second} // as Run builds it
	for i, base := range []time.Duration{1, 2, 4, 8, 8, 8} {
		base *= time.Second
		if d := b.Next(); d < base/2 || d >= base*3/2 {
			t.Errorf("wait %d: %s, want within [%s, %s)", i, d, base/2, base*3/2)
		}
	}
	b.Reset()
	if d := b.Next(); d >= 1500*time.Millisecond {
		t.Errorf("after reset: %s", d)
	}
	// Jitter: 100 waits at the cap are not all equal.
	seen := map[time.Duration]bool{}
	for range 100 {
		seen[b.Next()] = true
	}
	if len(seen) < 50 {
		t.Errorf("only %d distinct waits in 100: no jitter", len(seen))
	}
}

// TestCollector checks the metrics a server exposes.
func TestCollector(t *testing.T) {
	eng := httptest.NewServer(&recorder{})
	defer eng.Close()
	fl := newFleet(t, store.Options{})
	fl.ingest(3)
	f, err := New(fl.st, fastOpts(eng.URL))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.Step(context.Background())
	reg := prometheus.NewRegistry()
	reg.MustRegister(f.Collector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		m := mf.GetMetric()[0]
		if c := m.GetCounter(); c != nil {
			got[mf.GetName()] = c.GetValue()
		} else {
			got[mf.GetName()] = m.GetGauge().GetValue()
		}
	}
	want := map[string]float64{
		"zhizhi_forward_backlog_samples": 0, "zhizhi_forward_sent_samples_total": 6,
		"zhizhi_forward_dropped_samples_total": 0, "zhizhi_forward_errors_total": 0,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	if got["zhizhi_forward_last_success_timestamp_seconds"] < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("last success %v", got["zhizhi_forward_last_success_timestamp_seconds"])
	}
}

func TestNewRejectsBadURL(t *testing.T) {
	for _, u := range []string{"", "localhost:8086", "ftp://x", "http://user:pw@host:8086"} {
		if _, err := New(nil, Options{URL: u}); err == nil {
			t.Errorf("New(%q): no error", u)
		}
	}
}

// recorder is a fake engine: it records write requests and answers 204, or 400 to a body containing reject.
type recorder struct {
	reject string
	mu     sync.Mutex
	reqs   []recorded
}

type recorded struct {
	path  string
	query queryOf
	auth  string
	body  string
}

type queryOf map[string][]string

func (q queryOf) Get(k string) string {
	if v := q[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if r.reject != "" && strings.Contains(string(b), r.reject) {
		http.Error(w, `{"code":"invalid","message":"bad point"}`, http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.reqs = append(r.reqs, recorded{path: req.URL.Path, query: queryOf(req.URL.Query()), auth: req.Header.Get("Authorization"), body: string(b)})
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (r *recorder) first() recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reqs) == 0 {
		return recorded{}
	}
	return r.reqs[0]
}

// lines returns the recorded lines of a measurement, in order.
func (r *recorder) lines(measurement string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, q := range r.reqs {
		for _, l := range strings.Split(q.body, "\n") {
			if strings.HasPrefix(l, measurement+",") {
				out = append(out, l)
			}
		}
	}
	return out
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

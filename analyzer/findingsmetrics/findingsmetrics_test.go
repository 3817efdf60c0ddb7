package findingsmetrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"zhizhi/analyzer/detect"
	"zhizhi/analyzer/report"
	"zhizhi/analyzer/report/reporttest"
)

// gather collects c through a registry and returns every sample as "name{k="v",...}" (labels sorted) → value.
func gather(t *testing.T, c prometheus.Collector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			sort.Strings(ls)
			v := m.GetGauge().GetValue()
			if m.Counter != nil {
				v = m.GetCounter().GetValue()
			}
			out[mf.GetName()+"{"+strings.Join(ls, ",")+"}"] = v
		}
	}
	return out
}

// only returns the samples of metric name.
func only(all map[string]float64, name string) map[string]float64 {
	out := map[string]float64{}
	for k, v := range all {
		if strings.HasPrefix(k, name+"{") {
			out[k] = v
		}
	}
	return out
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var t0 = time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC)

func finding(k detect.Kind, st detect.Status, c detect.Confidence, frees *detect.Resources) detect.Finding {
	return detect.Finding{Kind: k, Status: st, Confidence: c, Frees: frees}
}

// fleetSnapshot is a small fleet in two departments, with two hosts of the same name in one system.
func fleetSnapshot(at time.Time) report.Snapshot {
	open, exc := detect.StatusOpen, detect.StatusExcepted
	hi, med, low := detect.ConfidenceHigh, detect.ConfidenceMedium, detect.ConfidenceLow
	return report.Snapshot{At: at, Report: detect.Report{At: at, Hosts: []detect.HostReport{
		{HostID: 1, Host: "oa-01", System: "旧版OA", Department: "办公室", Findings: []detect.Finding{
			finding(detect.KindZombie, open, hi, &detect.Resources{VCPU: 4, MemGiB: 8, StorageTB: 0.5})}},
		{HostID: 2, Host: "db-01", System: "不动产登记", Department: "办公室", Findings: []detect.Finding{
			finding(detect.KindOverloaded, open, med, nil),
			finding(detect.KindIdleCandidate, exc, low, &detect.Resources{VCPU: 16, MemGiB: 64, StorageTB: 2})}},
		{HostID: 3, Host: "web-01", System: "门户网站", Department: "数据局", Findings: []detect.Finding{
			finding(detect.KindOK, open, hi, nil)}},
		{HostID: 4, Host: "localhost", System: "社保查询", Department: "数据局", Findings: []detect.Finding{
			finding(detect.KindUnderused, open, hi, &detect.Resources{VCPU: 2, MemGiB: 1.5})}},
		{HostID: 5, Host: "localhost", System: "社保查询", Department: "数据局", Findings: []detect.Finding{
			finding(detect.KindComatose, exc, hi, &detect.Resources{VCPU: 8, MemGiB: 16, StorageTB: 1})}},
	}}}
}

func TestMetrics(t *testing.T) {
	got := gather(t, collectorOf(Metrics(fleetSnapshot(t0))))

	// zhizhi_findings: every kind and status for both departments, zeros included.
	counts := only(got, FindingsName)
	if want := 2 * 8 * 2; len(counts) != want {
		t.Errorf("%d zhizhi_findings series, want %d (2 departments × 8 kinds × 2 statuses)", len(counts), want)
	}
	nonzero := map[string]float64{}
	for k, v := range counts {
		if v != 0 {
			nonzero[k] = v
		}
	}
	wantCounts := map[string]float64{
		`zhizhi_findings{department="办公室",kind="zombie",status="open"}`:             1,
		`zhizhi_findings{department="办公室",kind="overloaded",status="open"}`:         1,
		`zhizhi_findings{department="办公室",kind="idle-candidate",status="excepted"}`: 1,
		`zhizhi_findings{department="数据局",kind="ok",status="open"}`:                 1,
		`zhizhi_findings{department="数据局",kind="underused",status="open"}`:          1,
		`zhizhi_findings{department="数据局",kind="comatose",status="excepted"}`:       1,
	}
	diff(t, "zhizhi_findings (non-zero)", nonzero, wantCounts)
	if v, ok := counts[`zhizhi_findings{department="数据局",kind="zombie",status="open"}`]; !ok || v != 0 {
		t.Errorf("zero series for zombie/open/数据局: %v %v", v, ok)
	}

	// One info series per host whose primary finding is not ok; the two "localhost" hosts stay apart.
	diff(t, InfoName, only(got, InfoName), map[string]float64{
		`zhizhi_finding_info{confidence="high",department="办公室",host="oa-01",host_id="1",kind="zombie",status="open",system="旧版OA"}`:           1,
		`zhizhi_finding_info{confidence="medium",department="办公室",host="db-01",host_id="2",kind="overloaded",status="open",system="不动产登记"}`:    1,
		`zhizhi_finding_info{confidence="high",department="数据局",host="localhost",host_id="4",kind="underused",status="open",system="社保查询"}`:    1,
		`zhizhi_finding_info{confidence="high",department="数据局",host="localhost",host_id="5",kind="comatose",status="excepted",system="社保查询"}`: 1,
	})

	// Frees: open shutdown and consolidation findings only (excepted ones are kept), in base units.
	diff(t, FreesVCPUName, only(got, FreesVCPUName), map[string]float64{
		`zhizhi_findings_frees_vcpu{department="办公室"}`: 4,
		`zhizhi_findings_frees_vcpu{department="数据局"}`: 2,
	})
	diff(t, FreesMemoryName, only(got, FreesMemoryName), map[string]float64{
		`zhizhi_findings_frees_memory_bytes{department="办公室"}`: 8 << 30,
		`zhizhi_findings_frees_memory_bytes{department="数据局"}`: 1.5 * (1 << 30),
	})
	diff(t, FreesStorageName, only(got, FreesStorageName), map[string]float64{
		`zhizhi_findings_frees_storage_bytes{department="办公室"}`: 0.5e12,
		`zhizhi_findings_frees_storage_bytes{department="数据局"}`: 0,
	})
	if v := got[EvaluatedName+"{}"]; v != float64(t0.Unix()) {
		t.Errorf("evaluated timestamp %v, want %d", v, t0.Unix())
	}

	// An empty fleet has only the evaluation time.
	empty := gather(t, collectorOf(Metrics(report.Snapshot{At: t0})))
	if len(empty) != 1 || empty[EvaluatedName+"{}"] != float64(t0.Unix()) {
		t.Errorf("empty fleet: %v", empty)
	}
}

func diff(t *testing.T, what string, got, want map[string]float64) {
	t.Helper()
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			t.Errorf("%s: %s = %v (present %v), want %v", what, k, g, ok, w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: unexpected %s = %v", what, k, g)
		}
	}
}

// constCollector serves fixed metrics (unchecked: it describes nothing).
type constCollector []prometheus.Metric

func collectorOf(ms []prometheus.Metric) prometheus.Collector { return constCollector(ms) }

func (constCollector) Describe(chan<- *prometheus.Desc) {}

func (c constCollector) Collect(ch chan<- prometheus.Metric) {
	for _, m := range c {
		ch <- m
	}
}

// fakeEngine returns its snapshots in turn; each evaluation waits for a value on gate when gate is set.
type fakeEngine struct {
	mu    sync.Mutex
	calls int
	gate  chan struct{}
	next  func(call int, ctx context.Context) (report.Snapshot, error)
	clock *fakeClock
	cost  time.Duration // advances the clock by this much per evaluation
	// entered, when set, receives a value when an evaluation starts.
	entered chan struct{}
}

func (f *fakeEngine) Evaluate(ctx context.Context) (report.Snapshot, error) {
	f.mu.Lock()
	f.calls++
	call, gate := f.calls, f.gate
	f.mu.Unlock()
	if f.entered != nil {
		f.entered <- struct{}{}
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return report.Snapshot{}, fmt.Errorf("evaluate: %w", ctx.Err())
		}
	}
	f.clock.Add(f.cost)
	return f.next(call, ctx)
}

func (f *fakeEngine) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// settle waits until no evaluation runs.
func settle(c *Collector) {
	c.mu.Lock()
	ch := c.inflight
	c.mu.Unlock()
	if ch != nil {
		<-ch
	}
}

func TestRefreshAtMostEveryInterval(t *testing.T) {
	clk := &fakeClock{now: t0}
	fe := &fakeEngine{clock: clk, cost: 3 * time.Second, next: func(call int, _ context.Context) (report.Snapshot, error) {
		if call == 3 {
			return report.Snapshot{}, errors.New("database is locked")
		}
		return report.Snapshot{At: t0.Add(time.Duration(call) * time.Hour)}, nil
	}}
	c := New(fe, Options{Clock: clk.Now, Interval: 10 * time.Minute})
	t.Cleanup(c.Close)
	evaluated := func(m map[string]float64) float64 { return m[EvaluatedName+"{}"] }

	// The first scrape waits for the first evaluation.
	m := gather(t, c)
	if fe.Calls() != 1 || evaluated(m) != float64(t0.Add(time.Hour).Unix()) {
		t.Fatalf("first scrape: %d calls, evaluated %v", fe.Calls(), evaluated(m))
	}
	if d := m[DurationName+"{}"]; d != 3 {
		t.Errorf("duration %v, want 3 (the clock advanced 3 s during the evaluation)", d)
	}

	// Scrapes within the interval reuse the snapshot.
	for range 5 {
		clk.Add(time.Minute)
		gather(t, c)
	}
	clk.Add(5*time.Minute - 3*time.Second - time.Nanosecond) // 10 min after the first start, less 1 ns
	gather(t, c)
	if fe.Calls() != 1 {
		t.Fatalf("%d evaluations within the interval, want 1", fe.Calls())
	}

	// Once due, a scrape starts an evaluation in the background and still exports the old snapshot.
	fe.mu.Lock()
	fe.gate = make(chan struct{})
	fe.mu.Unlock()
	clk.Add(time.Nanosecond)
	m = gather(t, c)
	if evaluated(m) != float64(t0.Add(time.Hour).Unix()) {
		t.Errorf("scrape during a refresh exported evaluated=%v, want the old snapshot", evaluated(m))
	}
	gather(t, c) // a second scrape while it runs starts nothing
	fe.gate <- struct{}{}
	settle(c)
	if fe.Calls() != 2 {
		t.Fatalf("%d evaluations, want 2", fe.Calls())
	}
	fe.mu.Lock()
	fe.gate = nil
	fe.mu.Unlock()
	if m = gather(t, c); evaluated(m) != float64(t0.Add(2*time.Hour).Unix()) {
		t.Errorf("after the refresh: evaluated %v", evaluated(m))
	}

	// A failed evaluation keeps the last snapshot, counts the failure and is not retried before the interval.
	clk.Add(10 * time.Minute)
	gather(t, c)
	settle(c)
	m = gather(t, c)
	if fe.Calls() != 3 || m[FailuresTotalName+"{}"] != 1 || evaluated(m) != float64(t0.Add(2*time.Hour).Unix()) {
		t.Errorf("after a failure: %d calls, failures %v, evaluated %v", fe.Calls(), m[FailuresTotalName+"{}"], evaluated(m))
	}
	clk.Add(time.Minute)
	gather(t, c)
	if fe.Calls() != 3 {
		t.Errorf("retried %d times within the interval", fe.Calls()-3)
	}
}

func TestFirstEvaluationFails(t *testing.T) {
	clk := &fakeClock{now: t0}
	fe := &fakeEngine{clock: clk, next: func(int, context.Context) (report.Snapshot, error) {
		return report.Snapshot{}, errors.New("no such table")
	}}
	c := New(fe, Options{Clock: clk.Now})
	t.Cleanup(c.Close)
	m := gather(t, c)
	if len(m) != 2 || m[FailuresTotalName+"{}"] != 1 || m[DurationName+"{}"] != 0 {
		t.Errorf("after a failed first evaluation: %v, want only the duration and one failure", m)
	}
	clk.Add(DefaultInterval - time.Second)
	gather(t, c)
	if fe.Calls() != 1 {
		t.Errorf("%d evaluations before the default interval, want 1", fe.Calls())
	}
}

func TestCloseCancelsEvaluation(t *testing.T) {
	clk := &fakeClock{now: t0}
	saw := make(chan error, 1)
	fe := &fakeEngine{clock: clk, gate: make(chan struct{}), entered: make(chan struct{}, 1),
		next: func(_ int, ctx context.Context) (report.Snapshot, error) { return report.Snapshot{}, ctx.Err() }}
	c := New(fe, Options{Clock: clk.Now, Timeout: time.Hour})
	done := make(chan struct{})
	go func() {
		defer close(done)
		reg := prometheus.NewRegistry()
		reg.MustRegister(c)
		_, err := reg.Gather()
		saw <- err
	}()
	<-fe.entered
	c.Close() // the evaluation blocks on its gate until its context ends
	<-done
	if err := <-saw; err != nil {
		t.Errorf("gather: %v", err)
	}
	m := gather(t, c)
	if m[FailuresTotalName+"{}"] != 1 {
		t.Errorf("cancelled evaluation not counted as failed: %v", m)
	}
	clk.Add(time.Hour)
	gather(t, c)
	if fe.Calls() != 1 {
		t.Errorf("%d evaluations after Close, want 1", fe.Calls())
	}
}

// TestRealStore evaluates the reference fleet of the analyzer from a real SQLite store, serves the metrics over
// HTTP and checks them against the engine's own snapshot and with promtool.
func TestRealStore(t *testing.T) {
	fx := reporttest.Seed(t)
	ctx := context.Background()
	eng, err := report.New(fx.Store, report.Options{Clock: func() time.Time { return reporttest.Now }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.AddException(ctx, detect.Exception{Type: detect.ExceptDRStandby,
		HostID: fx.Hosts[reporttest.StandbySystem], Owner: "张三", Reason: "异地灾备",
		Created: reporttest.Now.AddDate(0, -1, 0), Expires: reporttest.Now.AddDate(0, 6, 0)}); err != nil {
		t.Fatal(err)
	}
	snap, err := eng.Evaluate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := New(eng, Options{Clock: func() time.Time { return reporttest.Now }})
	t.Cleanup(c.Close)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	ts := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(ts.Close)
	resp, err := http.Get(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, body)
	}
	cmd := exec.Command("promtool", "check", "metrics")
	cmd.Stdin = strings.NewReader(string(body))
	if out, err := cmd.CombinedOutput(); err != nil || len(out) != 0 {
		t.Errorf("promtool check metrics: %v\n%s\n%s", err, out, body)
	}
	for _, name := range Names {
		if !strings.Contains(string(body), "# TYPE "+name+" ") {
			t.Errorf("/metrics lacks %s", name)
		}
	}

	m := gather(t, c)
	info := only(m, InfoName)
	if len(info) != len(snap.Report.Hosts)-countOK(snap) {
		t.Errorf("%d info series for %d hosts of which %d ok", len(info), len(snap.Report.Hosts), countOK(snap))
	}
	// The truly idle server is comatose, open, with high confidence; the standby is excepted.
	idle := fmt.Sprintf(`zhizhi_finding_info{confidence="high",department=%q,host="%s",host_id="%d",kind="comatose",status="open",system=%q}`,
		reporttest.IdleDept, hostName(snap, fx.Hosts[reporttest.IdleSystem]), fx.Hosts[reporttest.IdleSystem], reporttest.IdleSystem)
	if info[idle] != 1 {
		t.Errorf("no %s in\n%v", idle, info)
	}
	standby := fmt.Sprintf(`department=%q`, reporttest.StandbyDept)
	for k := range info {
		if strings.Contains(k, standby) && !strings.Contains(k, `status="excepted"`) {
			t.Errorf("standby host not excepted: %s", k)
		}
	}
	// The idle server frees the whole host: 8 vCPU and 16 GiB; the excepted standby frees nothing.
	if v := m[fmt.Sprintf(`%s{department=%q}`, FreesVCPUName, reporttest.IdleDept)]; v != 8 {
		t.Errorf("idle department frees %v vCPU, want 8", v)
	}
	if v := m[fmt.Sprintf(`%s{department=%q}`, FreesMemoryName, reporttest.IdleDept)]; v != 16<<30 {
		t.Errorf("idle department frees %v memory bytes, want 16 GiB", v)
	}
	if v := m[fmt.Sprintf(`%s{department=%q}`, FreesVCPUName, reporttest.StandbyDept)]; v != 0 {
		t.Errorf("excepted standby frees %v vCPU, want 0", v)
	}
	// Every host finding of the snapshot is counted once.
	var total, want float64
	for _, v := range only(m, FindingsName) {
		total += v
	}
	for _, h := range snap.Report.Hosts {
		want += float64(len(h.Findings))
	}
	if total != want || want == 0 {
		t.Errorf("zhizhi_findings sum to %v, the snapshot has %v host findings", total, want)
	}
	if v := m[EvaluatedName+"{}"]; v != float64(reporttest.Now.Unix()) {
		t.Errorf("evaluated at %v, want %d", v, reporttest.Now.Unix())
	}
}

func countOK(s report.Snapshot) int {
	n := 0
	for _, h := range s.Report.Hosts {
		if h.Primary().Kind == detect.KindOK {
			n++
		}
	}
	return n
}

func hostName(s report.Snapshot, id int64) string {
	i := slices.IndexFunc(s.Report.Hosts, func(h detect.HostReport) bool { return h.HostID == id })
	if i < 0 {
		return ""
	}
	return s.Report.Hosts[i].Host
}

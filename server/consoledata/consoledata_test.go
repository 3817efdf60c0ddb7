package consoledata_test

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"zhizhi/agent/wire"
	"zhizhi/collector/calendar"
	"zhizhi/collector/store"
	"zhizhi/server"
	"zhizhi/server/console"
	"zhizhi/server/consoledata"
)

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// t0 is the first sample of the fixture: 10:00 China Standard Time on 10 March 2026.
var t0 = time.Date(2026, 3, 10, 10, 0, 0, 0, calendar.Shanghai)

// fixture is a store with two departments:
//
//	公安局 / 户籍系统: host p1 (8 samples from t0 every 15 s, CPU 10..80, fullest disk /data), host p2 (memory
//	only, one sample at t0); 公安局 / 未上报系统: an agent that never reported;
//	民政局 / 救助系统: host m1 (one sample at t0).
type fixture struct {
	st                   *store.Store
	clk                  *clock
	data                 *consoledata.Data
	police, civil        int64 // department ids
	huji, silent, relief int64 // system ids
	p1, p2, m1           int64 // host ids
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	clk := &clock{t: t0.Add(2 * time.Minute)}
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "zhizhi.db"), store.Options{Clock: clk.Now})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{st: st, clk: clk, data: consoledata.New(st, server.Freshness{}, clk.Now)}

	enroll := func(system, dept string) store.Agent {
		t.Helper()
		a, _, err := st.EnrollAgent(ctx, system, dept)
		if err != nil {
			t.Fatalf("enroll: %v", err)
		}
		return a
	}
	ingest := func(a store.Agent, b *wire.Batch, at time.Time) int64 {
		t.Helper()
		b.Version, b.AgentID = wire.SchemaVersion, a.ID
		if _, err := st.Ingest(ctx, a, b, at); err != nil {
			t.Fatalf("ingest: %v", err)
		}
		got, err := st.Agent(ctx, a.ID)
		if err != nil {
			t.Fatalf("agent: %v", err)
		}
		return got.HostID
	}

	p1 := enroll("户籍系统", "公安局")
	var samples []wire.Sample
	for i := range 8 {
		samples = append(samples, wire.Sample{
			Seq: uint64(i + 1), Time: t0.Add(time.Duration(i) * 15 * time.Second), IntervalSeconds: 15,
			CPU:    &wire.CPU{BusyPct: float64(10 * (i + 1))},
			Memory: &wire.Memory{TotalBytes: 16 << 30, UsedPct: 50 + float64(i)},
			FS: []wire.Filesystem{
				{Mount: "/", TotalBytes: 100 << 30, UsedPct: 40},
				{Mount: "/data", TotalBytes: 1 << 40, UsedPct: 85.5},
				{Mount: "/boot", TotalBytes: 1 << 30, UsedPct: 20},
			},
		})
	}
	last := samples[len(samples)-1].Time
	f.p1 = ingest(p1, &wire.Batch{SentAt: last.Add(3 * time.Second), Dropped: 7,
		Spool:   &wire.SpoolStats{Bytes: 4096, Records: 2},
		Host:    &wire.HostFacts{Hostname: "hj-app-01", OS: "linux", Platform: "kylin", CPUCores: 8},
		Samples: samples}, last)

	p2 := enroll("户籍系统", "公安局")
	f.p2 = ingest(p2, &wire.Batch{SentAt: t0, Host: &wire.HostFacts{Hostname: "hj-db-01"},
		Samples: []wire.Sample{{Seq: 1, Time: t0, Memory: &wire.Memory{TotalBytes: 8 << 30, UsedPct: 33}}}}, t0)

	silent := enroll("未上报系统", "公安局")
	m1 := enroll("救助系统", "民政局")
	f.m1 = ingest(m1, &wire.Batch{SentAt: t0, Host: &wire.HostFacts{Hostname: "jz-01"},
		Samples: []wire.Sample{{Seq: 1, Time: t0, IntervalSeconds: 60, CPU: &wire.CPU{BusyPct: 5}}}}, t0)

	if _, err := st.RollupOnce(ctx); err != nil {
		t.Fatalf("rollup: %v", err)
	}
	f.huji, f.silent, f.relief = p1.SystemID, silent.SystemID, m1.SystemID
	deps, err := st.Departments(ctx)
	if err != nil {
		t.Fatalf("departments: %v", err)
	}
	for _, d := range deps {
		switch d.Name {
		case "公安局":
			f.police = d.ID
		case "民政局":
			f.civil = d.ID
		}
	}
	if f.police == 0 || f.civil == 0 || f.p1 == 0 || f.p2 == 0 || f.m1 == 0 {
		t.Fatalf("fixture ids: %+v", f)
	}
	return f
}

// names flattens an overview into "dept/system/host" paths (a system without hosts as "dept/system/").
func names(deps []console.DeptRow) []string {
	var out []string
	for _, d := range deps {
		if len(d.Systems) == 0 {
			out = append(out, d.Name+"//")
		}
		for _, s := range d.Systems {
			if len(s.Hosts) == 0 {
				out = append(out, d.Name+"/"+s.Name+"/")
			}
			for _, h := range s.Hosts {
				out = append(out, d.Name+"/"+s.Name+"/"+h.Hostname)
			}
		}
	}
	return out
}

func TestOverviewScope(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	check := func(name string, s console.Scope, want ...string) {
		t.Helper()
		got, err := f.data.Overview(ctx, s)
		if err != nil {
			t.Fatalf("%s: overview: %v", name, err)
		}
		gotNames := names(got)
		seen := map[string]bool{}
		for _, n := range gotNames {
			seen[n] = true
		}
		if len(gotNames) != len(want) {
			t.Errorf("%s: overview = %q, want %q", name, gotNames, want)
			return
		}
		for _, w := range want {
			if !seen[w] {
				t.Errorf("%s: overview = %q, missing %q", name, gotNames, w)
			}
		}
	}
	check("zero scope", console.Scope{})
	check("all", console.Scope{All: true},
		"公安局/户籍系统/hj-app-01", "公安局/户籍系统/hj-db-01", "公安局/未上报系统/", "民政局/救助系统/jz-01")
	check("police", console.Scope{DepartmentID: f.police},
		"公安局/户籍系统/hj-app-01", "公安局/户籍系统/hj-db-01", "公安局/未上报系统/")
	check("civil affairs", console.Scope{DepartmentID: f.civil}, "民政局/救助系统/jz-01")
	check("unknown department", console.Scope{DepartmentID: 9999})
}

// TestNotFound proves that every call by id refuses unknown ids and ids outside the caller's scope with
// console.ErrNotFound, and answers them inside it.
func TestNotFound(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	day := t0.Add(-time.Hour)
	calls := map[string]func(s console.Scope, system, host int64) error{
		"System": func(s console.Scope, system, _ int64) error {
			_, err := f.data.System(ctx, s, system)
			return err
		},
		"Host": func(s console.Scope, _, host int64) error {
			_, err := f.data.Host(ctx, s, host)
			return err
		},
		"Series": func(s console.Scope, _, host int64) error {
			_, err := f.data.Series(ctx, s, host, console.MetricCPU, console.ResHour, day, day.Add(24*time.Hour))
			return err
		},
		"SystemYear": func(s console.Scope, system, _ int64) error {
			_, err := f.data.SystemYear(ctx, s, system, 2026, console.MetricCPU, console.StatP95)
			return err
		},
	}
	cases := []struct {
		name         string
		scope        console.Scope
		system, host int64
		found        bool
	}{
		{"zero scope", console.Scope{}, f.huji, f.p1, false},
		{"all", console.Scope{All: true}, f.huji, f.p1, true},
		{"all, other department", console.Scope{All: true}, f.relief, f.m1, true},
		{"own department", console.Scope{DepartmentID: f.police}, f.huji, f.p2, true},
		{"other department", console.Scope{DepartmentID: f.police}, f.relief, f.m1, false},
		{"other department, reversed", console.Scope{DepartmentID: f.civil}, f.huji, f.p1, false},
		{"unknown ids", console.Scope{All: true}, 9999, 9999, false},
		{"unknown department", console.Scope{DepartmentID: 9999}, f.huji, f.p1, false},
	}
	for _, c := range cases {
		for name, call := range calls {
			err := call(c.scope, c.system, c.host)
			switch {
			case c.found && err != nil:
				t.Errorf("%s: %s: %v, want success", c.name, name, err)
			case !c.found && !errors.Is(err, console.ErrNotFound):
				t.Errorf("%s: %s: %v, want console.ErrNotFound", c.name, name, err)
			}
		}
	}
}

func TestStatusFollowsClock(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	last := t0.Add(105 * time.Second) // p1's last batch; it collects every 15 s
	cases := []struct {
		name   string
		now    time.Time
		p1, m1 string // m1 collects every 60 s, last seen t0
	}{
		{"just reported", last.Add(10 * time.Second), console.StatusOnline, console.StatusOnline},
		{"three intervals", last.Add(45 * time.Second), console.StatusOnline, console.StatusOnline},
		{"four intervals", last.Add(61 * time.Second), console.StatusStale, console.StatusOnline},
		{"ten minutes", last.Add(10 * time.Minute), console.StatusStale, console.StatusStale},
		{"sixteen minutes", last.Add(16 * time.Minute), console.StatusOffline, console.StatusOffline},
		{"a day", last.Add(24 * time.Hour), console.StatusOffline, console.StatusOffline},
	}
	for _, c := range cases {
		f.clk.Set(c.now)
		deps, err := f.data.Overview(ctx, console.Scope{All: true})
		if err != nil {
			t.Fatalf("%s: overview: %v", c.name, err)
		}
		got := map[int64]string{}
		for _, d := range deps {
			for _, s := range d.Systems {
				for _, h := range s.Hosts {
					got[h.ID] = h.Status
				}
			}
		}
		if got[f.p1] != c.p1 || got[f.m1] != c.m1 {
			t.Errorf("%s: p1 %q, m1 %q; want %q, %q", c.name, got[f.p1], got[f.m1], c.p1, c.m1)
		}
		h, err := f.data.Host(ctx, console.Scope{All: true}, f.p1)
		if err != nil {
			t.Fatalf("%s: host: %v", c.name, err)
		}
		if h.Status != c.p1 {
			t.Errorf("%s: Host status %q, want %q", c.name, h.Status, c.p1)
		}
	}
}

func TestLatestValuesAndHealth(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	sys, err := f.data.System(ctx, console.Scope{DepartmentID: f.police}, f.huji)
	if err != nil {
		t.Fatalf("system: %v", err)
	}
	if sys.Name != "户籍系统" || sys.Department != "公安局" || sys.DepartmentID != f.police || len(sys.Hosts) != 2 {
		t.Fatalf("system = %+v", sys)
	}
	rows := map[int64]console.HostRow{}
	for _, h := range sys.Hosts {
		rows[h.ID] = h
	}
	p1, p2 := rows[f.p1], rows[f.p2]
	if p1.CPU == nil || *p1.CPU != 80 || p1.Mem == nil || *p1.Mem != 57 || p1.Disk == nil || *p1.Disk != 85.5 ||
		p1.DiskMount != "/data" || p1.Hostname != "hj-app-01" {
		t.Errorf("p1 latest = %+v, want cpu 80, mem 57, disk 85.5 on /data", p1)
	}
	if p2.CPU != nil || p2.Disk != nil || p2.DiskMount != "" || p2.Mem == nil || *p2.Mem != 33 {
		t.Errorf("p2 latest = %+v, want memory 33 only", p2)
	}

	h, err := f.data.Host(ctx, console.Scope{All: true}, f.p1)
	if err != nil {
		t.Fatalf("host: %v", err)
	}
	last := t0.Add(105 * time.Second)
	if h.SystemID != f.huji || h.System != "户籍系统" || h.DepartmentID != f.police || h.Department != "公安局" {
		t.Errorf("host place = %d %q %d %q", h.SystemID, h.System, h.DepartmentID, h.Department)
	}
	if h.Facts == nil || h.Facts.Platform != "kylin" || h.Facts.CPUCores != 8 || h.AgentID == "" {
		t.Errorf("host facts = %+v, agent %q", h.Facts, h.AgentID)
	}
	if !h.LastSeen.Equal(last) || !h.FirstSeen.Equal(last) {
		t.Errorf("host seen first %v last %v, want %v", h.FirstSeen, h.LastSeen, last)
	}
	if h.ClockSkew != 3*time.Second || h.Dropped != 7 || h.SpoolBytes == nil || *h.SpoolBytes != 4096 {
		t.Errorf("agent health: skew %v dropped %d spool %v, want 3s, 7, 4096", h.ClockSkew, h.Dropped, h.SpoolBytes)
	}
	m1, err := f.data.Host(ctx, console.Scope{DepartmentID: f.civil}, f.m1)
	if err != nil {
		t.Fatalf("host m1: %v", err)
	}
	if m1.SpoolBytes != nil || m1.ClockSkew != 0 || m1.CPU == nil || *m1.CPU != 5 {
		t.Errorf("m1 = spool %v skew %v cpu %v, want no spool, no skew, cpu 5", m1.SpoolBytes, m1.ClockSkew, m1.CPU)
	}
}

func TestSeries(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	all := console.Scope{All: true}
	from, to := t0.Add(-time.Hour), t0.Add(time.Hour)

	s, err := f.data.Series(ctx, all, f.p1, console.MetricCPU, console.ResMinute, from, to)
	if err != nil {
		t.Fatalf("series 1m: %v", err)
	}
	want := []struct {
		ts            time.Time
		n             int64
		min, avg, max float64
	}{{t0, 4, 10, 25, 40}, {t0.Add(time.Minute), 4, 50, 65, 80}}
	if s.Resolution != console.ResMinute || len(s.Points) != len(want) {
		t.Fatalf("series 1m = %+v, want %d points", s, len(want))
	}
	for i, w := range want {
		p := s.Points[i]
		if !p.TS.Equal(w.ts) || p.N != w.n || p.Min != w.min || math.Abs(p.Avg-w.avg) > 1e-9 || p.Max != w.max {
			t.Errorf("1m point %d = %+v, want %+v", i, p, w)
		}
	}

	h, err := f.data.Series(ctx, all, f.p1, console.MetricCPU, console.ResHour, from, to)
	if err != nil {
		t.Fatalf("series 1h: %v", err)
	}
	if h.Resolution != console.ResHour || len(h.Points) != 1 {
		t.Fatalf("series 1h = %+v, want one point", h)
	}
	p := h.Points[0]
	if !p.TS.Equal(t0) || p.N != 8 || p.Min != 10 || p.Max != 80 || math.Abs(p.Avg-45) > 1e-9 || p.P95 == nil ||
		*p.P95 < 70 || *p.P95 > 80 {
		t.Errorf("1h point = %+v (p95 %v), want n 8, 10..80, avg 45, p95 in [70, 80]", p, p.P95)
	}

	d, err := f.data.Series(ctx, all, f.p1, console.MetricMem, console.ResDay, from, to)
	if err != nil {
		t.Fatalf("series 1d: %v", err)
	}
	if len(d.Points) != 1 || !d.Points[0].TS.Equal(time.Date(2026, 3, 10, 0, 0, 0, 0, calendar.Shanghai)) ||
		d.Points[0].Max != 57 {
		t.Errorf("series 1d = %+v, want one point at midnight with max 57", d)
	}

	empty, err := f.data.Series(ctx, all, f.p1, console.MetricCPU, console.ResMinute, to, to.Add(time.Hour))
	if err != nil || len(empty.Points) != 0 {
		t.Errorf("series after the data = %+v, %v; want no points", empty, err)
	}
	if _, err := f.data.Series(ctx, all, f.p1, console.MetricCPU, "5m", from, to); err == nil ||
		errors.Is(err, console.ErrNotFound) {
		t.Errorf("series at 5m: %v, want a resolution error", err)
	}
}

func TestMatrix(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	day := t0.YearDay() - 1
	rowsOf := func(name string, s console.Scope) map[int64]console.MatrixRow {
		t.Helper()
		m, err := f.data.Matrix(ctx, s, 2026, console.MetricCPU, console.StatP95)
		if err != nil {
			t.Fatalf("%s: matrix: %v", name, err)
		}
		if len(m.Days) != 365 || !m.Days[0].Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, calendar.Shanghai)) {
			t.Fatalf("%s: matrix days: %d from %v", name, len(m.Days), m.Days[0])
		}
		out := map[int64]console.MatrixRow{}
		for _, r := range m.Rows {
			if len(r.Values) != len(m.Days) {
				t.Fatalf("%s: row %d has %d values", name, r.SystemID, len(r.Values))
			}
			out[r.SystemID] = r
		}
		return out
	}
	all := rowsOf("all", console.Scope{All: true})
	if len(all) != 3 {
		t.Fatalf("all: %d rows, want 3", len(all))
	}
	huji := all[f.huji]
	if huji.System != "户籍系统" || huji.Department != "公安局" {
		t.Errorf("huji row = %q %q", huji.System, huji.Department)
	}
	if v := huji.Values[day]; v < 70 || v > 80.5 {
		t.Errorf("huji p95 on 10 March = %v, want about 80", v)
	}
	for i, v := range huji.Values {
		if i != day && !math.IsNaN(v) {
			t.Errorf("huji day %d = %v, want NaN", i+1, v)
			break
		}
	}
	if !math.IsNaN(all[f.silent].Values[day]) {
		t.Errorf("silent system has %v, want NaN", all[f.silent].Values[day])
	}
	police := rowsOf("police", console.Scope{DepartmentID: f.police})
	if _, ok := police[f.relief]; ok || len(police) != 2 {
		t.Errorf("police sees %d rows (relief included: %v), want 2 without relief", len(police), ok)
	}
	if n := len(rowsOf("zero scope", console.Scope{})); n != 0 {
		t.Errorf("zero scope sees %d rows", n)
	}

	year, err := f.data.SystemYear(ctx, console.Scope{DepartmentID: f.police}, f.huji, 2026, console.MetricCPU, console.StatAvg)
	if err != nil {
		t.Fatalf("system year: %v", err)
	}
	if len(year.Rows) != 1 || len(year.Days) != 365 || year.Rows[0].SystemID != f.huji ||
		math.Abs(year.Rows[0].Values[day]-45) > 0.01 {
		t.Errorf("system year = %d rows, %d days, want one row with avg 45 on 10 March", len(year.Rows), len(year.Days))
	}
	if _, err := f.data.Matrix(ctx, console.Scope{All: true}, 2026, "cpu.bogus", console.StatP95); err == nil {
		t.Error("matrix of an unknown metric: no error")
	}
}

func TestIsDemo(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if f.data.IsDemo(ctx) {
		t.Fatal("a fresh store reads as demo")
	}
	if err := f.st.SetDemo(ctx, true); err != nil {
		t.Fatal(err)
	}
	if !f.data.IsDemo(ctx) {
		t.Fatal("a demo store reads as not demo")
	}
}

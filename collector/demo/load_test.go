package demo

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"zhizhi/agent/wire"
	"zhizhi/collector/calendar"
	"zhizhi/collector/store"
)

// testEnd is "now" for the tests: the demo history then covers 2025-04-01 .. 2026-03-31, which holds the
// 2025 National Day week, the 2026 Spring Festival and the adjusted working days around them.
var testEnd = time.Date(2026, 3, 31, 10, 30, 0, 0, calendar.Shanghai)

const testSeed = 20260331

func openStore(t testing.TB, dir string, now time.Time) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(dir, "zhizhi.db"),
		store.Options{Clock: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// The full demo district is loaded once and shared by the tests that only read it.
var (
	loadOnce sync.Once
	loaded   *store.Store
	loadSum  Summary
	loadErr  error
	loadDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if loaded != nil {
		loaded.Close()
	}
	if loadDir != "" {
		os.RemoveAll(loadDir)
	}
	os.Exit(code)
}

func demoStore(t *testing.T) (*store.Store, Summary) {
	t.Helper()
	loadOnce.Do(func() {
		loadDir, loadErr = os.MkdirTemp("", "zhizhi-demo-")
		if loadErr != nil {
			return
		}
		loaded = openStore(t, loadDir, testEnd)
		var last, calls int
		loadSum, loadErr = Load(context.Background(), loaded, Options{Seed: testSeed, End: testEnd,
			Progress: func(done, total int) {
				if done <= last || done > total {
					loadErr = fmt.Errorf("progress went %d -> %d of %d", last, done, total)
				}
				last, calls = done, calls+1
			}})
		if loadErr == nil && calls == 0 {
			loadErr = fmt.Errorf("no progress reported")
		}
	})
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	return loaded, loadSum
}

// model returns the simulated system of that name.
func model(t *testing.T, name string) System {
	t.Helper()
	for _, d := range Build(testSeed, testEnd) {
		for _, s := range d.Systems {
			if s.Name == name {
				return s
			}
		}
	}
	t.Fatalf("no system %q in the model", name)
	return System{}
}

// yearRows returns the matrix values of every system (by name) for each day of the demo history, keyed by
// day, plus the list of full days (the last day is partial).
func systemDays(t *testing.T, st *store.Store, metric, stat string) (map[string]map[string]float64, []time.Time) {
	t.Helper()
	out := map[string]map[string]float64{}
	for _, year := range []int{2024, 2025, 2026} {
		m, err := st.Matrix(context.Background(), store.MatrixQuery{Year: year, Metric: metric, Stat: stat})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range m.Rows {
			if out[r.System] == nil {
				out[r.System] = map[string]float64{}
			}
			for i, d := range m.Days {
				out[r.System][d.Format(time.DateOnly)] = r.Values[i]
			}
		}
	}
	var full []time.Time
	for d := dayOf(testEnd).AddDate(0, 0, -364); d.Before(dayOf(testEnd)); d = d.AddDate(0, 0, 1) {
		full = append(full, d)
	}
	return out, full
}

func TestDistrictShape(t *testing.T) {
	st, sum := demoStore(t)
	ctx := context.Background()
	if !st.IsDemo(ctx) {
		t.Fatal("store not marked as demo")
	}
	deps, err := st.Departments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hosts, err := st.Hosts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	systems, err := st.Systems(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(deps) < 20 || len(systems) < 60 || len(hosts) < 150 {
		t.Fatalf("%d departments, %d systems, %d hosts; want ≥ 20, ≥ 60, ≥ 150", len(deps), len(systems), len(hosts))
	}
	if sum.Departments != len(deps) || sum.Systems != len(systems) || sum.Hosts != len(hosts) {
		t.Fatalf("summary %+v disagrees with the store (%d, %d, %d)", sum, len(deps), len(systems), len(hosts))
	}
	// 550 days: more than a year and a season, so last year's same window is known for every seasonal system.
	if want := time.Date(2024, 9, 28, 0, 0, 0, 0, calendar.Shanghai); !sum.From.Equal(want) {
		t.Fatalf("history starts %v, want %v", sum.From, want)
	}
	if years, err := st.MatrixYears(ctx); err != nil || !slices.Equal(years, []int{2024, 2025, 2026}) {
		t.Fatalf("matrix years %v, %v; want 2024 to 2026", years, err)
	}
	// The disaster-recovery standbys carry a live exception each.
	excs, err := st.Exceptions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	standbys := map[string]bool{}
	for _, d := range Build(testSeed, testEnd) {
		for _, sy := range d.Systems {
			if sy.Pattern == Standby {
				standbys[sy.Name] = true
			}
		}
	}
	if len(standbys) == 0 || len(excs) != len(standbys) || sum.Exceptions != len(standbys) {
		t.Fatalf("%d exceptions (summary %d) for %d standby systems", len(excs), sum.Exceptions, len(standbys))
	}
	for _, e := range excs {
		if e.Type != "dr-standby" || !standbys[e.System] || !e.Expires.After(testEnd) || e.Expires.After(e.Created.AddDate(1, 0, 0)) {
			t.Fatalf("exception %+v", e)
		}
	}
	platforms, archs, virts := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, h := range hosts {
		if h.Facts == nil || h.Latest == nil || h.Latest.CPU == nil || h.Facts.Hostname != h.Hostname {
			t.Fatalf("host %s lacks facts or a latest sample: %+v", h.Hostname, h)
		}
		if !h.LastSeen.Equal(testEnd) {
			t.Fatalf("host %s last seen %v, want %v", h.Hostname, h.LastSeen, testEnd)
		}
		platforms[h.Facts.Platform], archs[h.Facts.Arch], virts[h.Facts.Virtualization] = true, true, true
	}
	for _, want := range []string{"kylin", "uos", "centos", "openeuler"} {
		if !platforms[want] {
			t.Errorf("no %s host", want)
		}
	}
	for _, want := range []string{"aarch64", "loongarch64", "x86_64"} {
		if !archs[want] {
			t.Errorf("no %s host", want)
		}
	}
	if !virts["kvm"] || !virts["vmware"] {
		t.Errorf("virtualization: %v", virts)
	}
	// Every system has a value on every day of the history (a silent host's system still has its other
	// host), and none before it.
	days, full := systemDays(t, st, "cpu", store.StatP95)
	for name, vals := range days {
		if name == "zhizhi 服务器" {
			continue
		}
		for _, d := range append(full, dayOf(testEnd)) {
			if math.IsNaN(vals[d.Format(time.DateOnly)]) {
				t.Fatalf("%s has no value on %s", name, d.Format(time.DateOnly))
			}
		}
		if v := vals["2024-09-27"]; !math.IsNaN(v) {
			t.Fatalf("%s has a value (%v) before the history starts", name, v)
		}
	}
}

func TestPatternsInMatrix(t *testing.T) {
	st, _ := demoStore(t)
	p95, full := systemDays(t, st, "cpu", store.StatP95)
	avg, _ := systemDays(t, st, "cpu", store.StatAvg)
	key := func(d time.Time) string { return d.Format(time.DateOnly) }

	t.Run("steady", func(t *testing.T) {
		for _, d := range full {
			if v := avg["人口信息管理系统"][key(d)]; v < 25 || v > 60 {
				t.Fatalf("%s: daily average %v outside 25–60%%", key(d), v)
			}
		}
	})
	t.Run("working days", func(t *testing.T) {
		vals := p95["社会救助管理系统"]
		var minWork, maxRest = math.Inf(1), math.Inf(-1)
		for _, d := range full {
			if calendar.IsWorkday(d) {
				minWork = min(minWork, vals[key(d)])
			} else {
				maxRest = max(maxRest, vals[key(d)])
			}
		}
		if minWork < 30 || maxRest > 10 || minWork < 3*maxRest {
			t.Fatalf("working days ≥ %v, weekends and holidays ≤ %v: not clearly apart", minWork, maxRest)
		}
		check := func(day string, kind calendar.Kind, high bool) {
			t.Helper()
			d, _ := time.ParseInLocation(time.DateOnly, day, calendar.Shanghai)
			if k := calendar.KindOf(d); k != kind {
				t.Fatalf("%s is %v, the test expects %v", day, k, kind)
			}
			if v := vals[day]; high != (v > 30) {
				t.Fatalf("%s (%v): p95 %v, want high=%v", day, kind, v, high)
			}
		}
		for d := 1; d <= 8; d++ {
			check(fmt.Sprintf("2025-10-%02d", d), calendar.Holiday, false) // National Day and Mid-Autumn
		}
		for d := 15; d <= 23; d++ {
			check(fmt.Sprintf("2026-02-%02d", d), calendar.Holiday, false) // Spring Festival
		}
		check("2025-09-28", calendar.AdjustedWorkday, true) // a Sunday worked for National Day
		check("2026-02-14", calendar.AdjustedWorkday, true) // a Saturday worked for the Spring Festival
		check("2025-10-09", calendar.Workday, true)
		check("2025-10-11", calendar.AdjustedWorkday, true)
	})
	t.Run("month end", func(t *testing.T) {
		vals := p95["低保核对比对系统"]
		for _, d := range full {
			last := time.Date(d.Year(), d.Month()+1, 0, 0, 0, 0, 0, calendar.Shanghai).Day()
			v := vals[key(d)]
			if end := d.Day() > last-3; end && v < 40 || !end && v > 20 {
				t.Fatalf("%s: p95 %v (month end %v)", key(d), v, end)
			}
		}
	})
	t.Run("seasonal", func(t *testing.T) {
		vals := p95["个税汇算服务系统"]
		for _, d := range full {
			in := d.Month() >= time.March && d.Month() <= time.June
			if v := vals[key(d)]; in && v < 15 || !in && v > 5 {
				t.Fatalf("%s: p95 %v (in season %v)", key(d), v, in)
			}
		}
	})
	t.Run("overloaded", func(t *testing.T) {
		over := 0
		for _, d := range full {
			if p95["治安视频联网平台"][key(d)] > 80 {
				over++
			}
		}
		if over < len(full)*9/10 {
			t.Fatalf("p95 > 80%% on %d of %d days", over, len(full))
		}
	})
	t.Run("idle for months", func(t *testing.T) {
		sys := model(t, "康复服务档案系统")
		if dayOf(testEnd).Sub(sys.IdleSince) < 90*24*time.Hour {
			t.Fatalf("idle since %v: not months", sys.IdleSince)
		}
		busyBefore := false
		for _, d := range full {
			v, a := p95[sys.Name][key(d)], avg[sys.Name][key(d)]
			if !d.Before(sys.IdleSince) && (v > 3 || a > 2) {
				t.Fatalf("%s, after idle since %s: p95 %v, avg %v", key(d), key(sys.IdleSince), v, a)
			}
			busyBefore = busyBefore || d.Before(sys.IdleSince) && v > 20
		}
		if !busyBefore {
			t.Fatal("never busy before it went idle")
		}
	})
}

// TestAgentGap checks the host whose agent was silent for three weeks: no rows at any resolution in its
// gap, rows on both sides, and its system's matrix values carried by the other host.
func TestAgentGap(t *testing.T) {
	st, _ := demoStore(t)
	ctx := context.Background()
	sys := model(t, "12315投诉举报系统")
	silent := sys.Hosts[0]
	if got := silent.GapTo.Sub(silent.GapFrom); got != 21*24*time.Hour || len(sys.Hosts) != 2 {
		t.Fatalf("gap %v, %d hosts; want three weeks and 2 hosts", got, len(sys.Hosts))
	}
	hosts, err := st.Hosts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var id, other int64
	for _, h := range hosts {
		switch h.Hostname {
		case silent.Name:
			id = h.ID
		case sys.Hosts[1].Name:
			other = h.ID
		}
	}
	if id == 0 || other == 0 {
		t.Fatal("gap hosts not found")
	}
	count := func(host int64, res store.Resolution, from, to time.Time) int {
		t.Helper()
		s, err := st.SeriesAt(ctx, host, wire.MetricCPUBusyPct, res, from, to)
		if err != nil {
			t.Fatal(err)
		}
		return len(s.Points)
	}
	if n := count(id, store.ResDay, silent.GapFrom, silent.GapTo); n != 0 {
		t.Fatalf("%d daily rows in the gap", n)
	}
	if n := count(id, store.ResHour, silent.GapFrom, silent.GapTo); n != 0 {
		t.Fatalf("%d hourly rows in the gap", n)
	}
	if n := count(other, store.ResDay, silent.GapFrom, silent.GapTo); n != 21 {
		t.Fatalf("the other host has %d daily rows in the gap, want 21", n)
	}
	if count(id, store.ResDay, silent.GapFrom.AddDate(0, 0, -1), silent.GapFrom) != 1 ||
		count(id, store.ResDay, silent.GapTo, silent.GapTo.AddDate(0, 0, 1)) != 1 ||
		count(id, store.ResHour, silent.GapTo, silent.GapTo.Add(time.Hour)) != 1 {
		t.Fatal("rows missing just outside the gap")
	}
	p95, _ := systemDays(t, st, "cpu", store.StatP95)
	for d := silent.GapFrom; d.Before(silent.GapTo); d = d.AddDate(0, 0, 1) {
		if math.IsNaN(p95[sys.Name][d.Format(time.DateOnly)]) {
			t.Fatalf("system has no value on %s although its other host reported", d.Format(time.DateOnly))
		}
	}
	// Every resolution exists for the detail pages: 1m for the last 24 h, 1h for 90 days.
	if n := count(other, store.ResMinute, testEnd.Add(-24*time.Hour), testEnd); n < 1430 {
		t.Fatalf("%d minute rows in the last 24 h", n)
	}
	if n := count(other, store.ResHour, testEnd.AddDate(0, 0, -89), testEnd); n < 89*24 {
		t.Fatalf("%d hourly rows in the last 89 days", n)
	}
}

// TestMatrixMatchesRollups recomputes the matrix from the daily rollups (through the public Series API) and
// checks the rows' internal consistency on the way.
func TestMatrixMatchesRollups(t *testing.T) {
	st, _ := demoStore(t)
	ctx := context.Background()
	hosts, err := st.Hosts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	type cell struct {
		sys int64
		day string
	}
	from, to := time.Date(2024, 1, 1, 0, 0, 0, 0, calendar.Shanghai), time.Date(2027, 1, 1, 0, 0, 0, 0, calendar.Shanghai)
	for short, metric := range map[string]string{"cpu": wire.MetricCPUBusyPct, "mem": wire.MetricMemUsedPct, "disk": wire.MetricFSMaxUsedPct} {
		want := map[string]map[cell]float64{store.StatP95: {}, store.StatAvg: {}}
		for _, h := range hosts {
			s, err := st.SeriesAt(ctx, h.ID, metric, store.ResDay, from, to)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range s.Points {
				if p.P95 == nil || !(p.Min <= p.Avg && p.Avg <= *p.P95 && *p.P95 <= p.Max) || p.N > 5760 || p.N < 1 {
					t.Fatalf("host %s %s %s: inconsistent row %+v", h.Hostname, metric, p.TS, p)
				}
				c := cell{h.SystemID, p.TS.In(calendar.Shanghai).Format(time.DateOnly)}
				for stat, v := range map[string]float64{store.StatP95: *p.P95, store.StatAvg: p.Avg} {
					if cur, ok := want[stat][c]; !ok || v > cur {
						want[stat][c] = v
					}
				}
			}
		}
		for _, stat := range []string{store.StatP95, store.StatAvg} {
			cells := 0
			for _, year := range []int{2024, 2025, 2026} {
				m, err := st.Matrix(ctx, store.MatrixQuery{Year: year, Metric: short, Stat: stat})
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range m.Rows {
					for i, d := range m.Days {
						w, ok := want[stat][cell{r.SystemID, d.Format(time.DateOnly)}]
						got := r.Values[i]
						if !ok && !math.IsNaN(got) || ok && got != float64(float32(w)) {
							t.Fatalf("%s %s system %s on %s: matrix %v, rollups %v (%v)", short, stat, r.System,
								d.Format(time.DateOnly), got, w, ok)
						}
						if ok {
							cells++
						}
					}
				}
			}
			if cells != len(want[stat]) || cells < 60*365 {
				t.Fatalf("%s %s: %d cells compared, %d expected", short, stat, cells, len(want[stat]))
			}
		}
	}
}

// dump hashes every rollup row and host of the database at path.
func dump(t *testing.T, path string) [32]byte {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	h := sha256.New()
	rows := 0
	for _, q := range []string{
		`SELECT host_id, m.name, ts, n, min, max, sum, COALESCE(p95, -1) FROM rollup_1d r JOIN metrics m ON m.id = r.metric_id ORDER BY 1, 2, 3`,
		`SELECT host_id, m.name, ts, n, min, max, sum, COALESCE(p95, -1) FROM rollup_1h r JOIN metrics m ON m.id = r.metric_id ORDER BY 1, 2, 3`,
		`SELECT host_id, m.name, ts, n, min, max, sum, COALESCE(p95, -1) FROM rollup_1m r JOIN metrics m ON m.id = r.metric_id ORDER BY 1, 2, 3`,
		`SELECT h.id, h.hostname, h.facts, h.latest, s.name, 0, 0, 0 FROM hosts h JOIN agents a ON a.id = h.agent_id JOIN systems s ON s.id = a.system_id ORDER BY 1`,
	} {
		r, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		for r.Next() {
			var v [8]any
			if err := r.Scan(&v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(h, v[:]...)
			rows++
		}
		r.Close()
	}
	if rows < 20000 {
		t.Fatalf("only %d rows dumped", rows)
	}
	return [32]byte(h.Sum(nil))
}

func TestDeterministic(t *testing.T) {
	load := func(seed uint64) [32]byte {
		dir := t.TempDir()
		st := openStore(t, dir, testEnd)
		if _, err := Load(context.Background(), st, Options{Seed: seed, End: testEnd, Days: 20, HourDays: 2, MinuteHours: 1}); err != nil {
			t.Fatal(err)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		return dump(t, filepath.Join(dir, "zhizhi.db"))
	}
	a, b, c := load(7), load(7), load(8)
	if a != b {
		t.Fatal("the same seed gave different rows")
	}
	if a == c {
		t.Fatal("different seeds gave identical rows")
	}
}

func TestLoadCanceled(t *testing.T) {
	st := openStore(t, t.TempDir(), testEnd)
	defer st.Close()
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	_, err := Load(ctx, st, Options{Seed: 1, End: testEnd, Days: 10, Progress: func(done, total int) {
		if n++; n == 160 {
			cancel()
		}
	}})
	if err == nil {
		t.Fatal("a canceled load reported success")
	}
	if !st.IsDemo(context.Background()) {
		t.Fatal("a partial load is not labelled demo")
	}
}

// BenchmarkLoad loads the whole demo district into a fresh store per iteration.
func BenchmarkLoad(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		st := openStore(b, b.TempDir(), testEnd)
		b.StartTimer()
		sum, err := Load(context.Background(), st, Options{Seed: 1, End: testEnd})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		st.Close()
		b.ReportMetric(float64(sum.Rows), "rows/op")
		b.StartTimer()
	}
}

package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"zhizhi/agent/wire"
)

// bruteMatrix computes a year's matrix values straight from rollup_1d: per system and day, the max over the
// system's hosts of p95 or sum/n, as float32 like the compact table.
func bruteMatrix(t testing.TB, s *Store, year int, metric, stat string) map[int64][]float64 {
	t.Helper()
	days := s.yearDays(year)
	rows, err := s.rdb.Query(`SELECT a.system_id, r.ts, r.n, r.sum, r.p95 FROM rollup_1d r
		JOIN metrics m ON m.id = r.metric_id JOIN hosts h ON h.id = r.host_id JOIN agents a ON a.id = h.agent_id
		WHERE m.name = ? AND r.ts >= ? AND r.ts < ?`, metric, days[0].Unix(), days[len(days)-1].AddDate(0, 0, 1).Unix())
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64][]float64{}
	for rows.Next() {
		var sys, ts, n int64
		var sum float64
		var p95 *float64
		if err := rows.Scan(&sys, &ts, &n, &sum, &p95); err != nil {
			t.Fatal(err)
		}
		if out[sys] == nil {
			out[sys] = make([]float64, len(days))
			for i := range out[sys] {
				out[sys][i] = math.NaN()
			}
		}
		v := sum / float64(n)
		if stat == StatP95 {
			if p95 == nil {
				continue
			}
			v = *p95
		}
		i := time.Unix(ts, 0).In(s.loc).YearDay() - 1
		if cur := out[sys][i]; math.IsNaN(cur) || v > cur {
			out[sys][i] = v
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, vals := range out {
		for i, v := range vals {
			if !math.IsNaN(v) {
				vals[i] = float64(float32(v))
			}
		}
	}
	return out
}

// checkMatrix compares Matrix and SystemYear with bruteMatrix for every metric and stat of year.
func checkMatrix(t *testing.T, s *Store, year int) {
	t.Helper()
	ctx := context.Background()
	cells := 0
	for short, metric := range matrixMetrics {
		for _, stat := range []string{StatP95, StatAvg} {
			want := bruteMatrix(t, s, year, metric, stat)
			m, err := s.Matrix(ctx, MatrixQuery{Year: year, Metric: short, Stat: stat})
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Days) != len(s.yearDays(year)) {
				t.Fatalf("%d days", len(m.Days))
			}
			for _, r := range m.Rows {
				w := want[r.SystemID]
				for i, v := range r.Values {
					exp := math.NaN()
					if w != nil {
						exp = w[i]
					}
					if !(v == exp || math.IsNaN(v) && math.IsNaN(exp)) {
						t.Fatalf("%s %s system %d day %s: matrix %v, rollup_1d %v", metric, stat, r.SystemID,
							m.Days[i].Format(time.DateOnly), v, exp)
					}
					if !math.IsNaN(v) {
						cells++
					}
				}
				one, err := s.SystemYear(ctx, r.SystemID, year, short, stat)
				if err != nil {
					t.Fatal(err)
				}
				for i := range one {
					if !(one[i] == r.Values[i] || math.IsNaN(one[i]) && math.IsNaN(r.Values[i])) {
						t.Fatalf("SystemYear(%d) day %d = %v, matrix row %v", r.SystemID, i, one[i], r.Values[i])
					}
				}
			}
			delete(want, 0)
			if len(want) > len(m.Rows) {
				t.Fatalf("%d systems with data, %d rows", len(want), len(m.Rows))
			}
		}
	}
	if cells == 0 {
		t.Fatal("no cell with data: the comparison proved nothing")
	}
}

// TestMatrixAfterIngestAndRollup ingests real samples over several days (across a year boundary), rolls them
// up in several passes, and checks the compact matrix against rollup_1d after each pass.
func TestMatrixAfterIngestAndRollup(t *testing.T) {
	s, _ := openTest(t, Options{})
	ctx := context.Background()
	a1, _ := enroll(t, s, "sys-a", "dept-1")
	a2, _ := enroll(t, s, "sys-a", "dept-1")
	a3, _ := enroll(t, s, "sys-b", "dept-2")
	enroll(t, s, "sys-empty", "dept-2") // a system without hosts: an all-NaN row
	r := rand.New(rand.NewPCG(7, 7))
	start := time.Date(2025, 12, 30, 0, 0, 0, 0, s.loc)
	seq := map[string]uint64{}
	send := func(a Agent, from time.Time, hours int) {
		var smps []wire.Sample
		for h := range hours {
			seq[a.ID]++
			smps = append(smps, realisticSample(r, seq[a.ID], from.Add(time.Duration(h)*time.Hour+time.Duration(r.IntN(3000))*time.Second)))
		}
		mustIngest(t, s, a, batchOf(a, from, smps...), from)
	}
	send(a1, start, 72)
	send(a2, start.Add(24*time.Hour), 48)
	send(a3, start, 30)
	if _, err := s.RollupOnce(ctx); err != nil {
		t.Fatal(err)
	}
	checkMatrix(t, s, 2025)
	checkMatrix(t, s, 2026)
	// More samples for days already rolled up: the matrix follows the merged rows.
	send(a2, start.Add(12*time.Hour), 5)
	send(a3, start.Add(48*time.Hour), 20)
	if _, err := s.RollupOnce(ctx); err != nil {
		t.Fatal(err)
	}
	checkMatrix(t, s, 2025)
	checkMatrix(t, s, 2026)
	m, err := s.Matrix(ctx, MatrixQuery{Year: 2026, Metric: "cpu", Stat: StatP95})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Rows) != 3 || len(m.Days) != 365 {
		t.Fatalf("%d rows, %d days; want 3 systems, 365 days", len(m.Rows), len(m.Days))
	}
	if m.Rows[0].Department != "dept-1" || m.Rows[1].System != "sys-b" || m.Rows[2].System != "sys-empty" {
		t.Fatalf("rows not ordered by department and system: %+v", m.Rows)
	}
	for _, v := range m.Rows[2].Values {
		if !math.IsNaN(v) {
			t.Fatalf("a system without hosts has value %v", v)
		}
	}
	if math.IsNaN(m.Rows[0].Values[0]) || !math.IsNaN(m.Rows[0].Values[10]) {
		t.Fatalf("sys-a 2026-01-01 = %v (want data), 2026-01-11 = %v (want NaN)", m.Rows[0].Values[0], m.Rows[0].Values[10])
	}
	d2 := m.Rows[1].DepartmentID
	only, err := s.Matrix(ctx, MatrixQuery{Year: 2026, Metric: "mem", Stat: StatAvg, DepartmentID: d2})
	if err != nil {
		t.Fatal(err)
	}
	if len(only.Rows) != 2 || only.Rows[0].Department != "dept-2" || only.Rows[1].Department != "dept-2" {
		t.Fatalf("department filter: %+v", only.Rows)
	}
	if !m.Days[0].Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, s.loc)) || m.Days[364].Format(time.DateOnly) != "2026-12-31" {
		t.Fatalf("days %v .. %v", m.Days[0], m.Days[364])
	}
	deps, err := s.Departments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(deps) != 2 || deps[0].Name != "dept-1" || deps[0].Systems != 1 || deps[1].Systems != 2 {
		t.Fatalf("departments: %+v", deps)
	}
}

// TestMatrixAfterInsertRollups checks both bulk paths keep the matrix equal to rollup_1d, including a row
// replaced by a later load.
func TestMatrixAfterInsertRollups(t *testing.T) {
	s, _ := openTest(t, Options{})
	ctx := context.Background()
	var hosts []int64
	for i := range 4 {
		a, _ := enroll(t, s, fmt.Sprintf("sys-%d", i%2), "dept")
		mustIngest(t, s, a, batchOf(a, time.Now()), time.Now())
		hosts = append(hosts, hostID(t, s, a.ID))
	}
	day0 := time.Date(2026, 3, 1, 0, 0, 0, 0, s.loc)
	var rows []RollupRow
	r := rand.New(rand.NewPCG(1, 2))
	for hi, h := range hosts {
		for d := range 40 {
			if hi == 1 && d >= 10 && d < 20 {
				continue // a gap
			}
			for _, m := range matrixMetricNames {
				avg := r.Float64() * 80
				rows = append(rows, RollupRow{HostID: h, Metric: m, Res: ResDay, TS: day0.AddDate(0, 0, d).Add(5 * time.Hour),
					N: 5760, Min: avg / 2, Max: avg * 1.2, Sum: avg * 5760, P95: avg * 1.1})
			}
		}
	}
	if err := s.BulkInsertRollups(ctx, rows[:len(rows)/2]); err != nil {
		t.Fatal(err)
	}
	if err := s.InsertRollups(ctx, rows[len(rows)/2:]); err != nil {
		t.Fatal(err)
	}
	checkMatrix(t, s, 2026)
	// Replace one host's day with a much higher value.
	if err := s.BulkInsertRollups(ctx, []RollupRow{{HostID: hosts[0], Metric: wire.MetricCPUBusyPct, Res: ResDay,
		TS: day0, N: 100, Min: 1, Max: 99, Sum: 9900, P95: 99}}); err != nil {
		t.Fatal(err)
	}
	checkMatrix(t, s, 2026)
	m, err := s.Matrix(ctx, MatrixQuery{Year: 2026, Metric: "cpu", Stat: StatP95})
	if err != nil {
		t.Fatal(err)
	}
	if v := m.Rows[0].Values[day0.YearDay()-1]; v != 99 {
		t.Fatalf("replaced day = %v, want 99", v)
	}
	// RebuildMatrix recomputes the same table from scratch.
	if _, err := s.wdb.Exec(`UPDATE matrix_year SET vals = x''`); err != nil {
		t.Fatal(err)
	}
	if err := s.RebuildMatrix(ctx); err != nil {
		t.Fatal(err)
	}
	checkMatrix(t, s, 2026)
}

func TestMatrixBadInput(t *testing.T) {
	s, _ := openTest(t, Options{})
	ctx := context.Background()
	a, _ := enroll(t, s, "sys", "dept")
	for _, q := range []MatrixQuery{
		{Year: 2026, Metric: "gpu", Stat: StatP95},
		{Year: 2026, Metric: "cpu", Stat: "p99"},
		{Year: 0, Metric: "cpu", Stat: StatAvg},
	} {
		if _, err := s.Matrix(ctx, q); err == nil {
			t.Errorf("Matrix(%+v) accepted", q)
		}
	}
	if _, err := s.SystemYear(ctx, a.SystemID+100, 2026, "cpu", StatP95); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown system: %v, want ErrNotFound", err)
	}
	vals, err := s.SystemYear(ctx, a.SystemID, 2024, wire.MetricFSMaxUsedPct, StatAvg)
	if err != nil || len(vals) != 366 {
		t.Fatalf("SystemYear 2024: %d values, %v", len(vals), err)
	}
}

func TestDemoFlag(t *testing.T) {
	s, path := openTest(t, Options{})
	ctx := context.Background()
	if s.IsDemo(ctx) {
		t.Fatal("a fresh store is demo")
	}
	if err := s.SetDemo(ctx, true); err != nil {
		t.Fatal(err)
	}
	if !s.IsDemo(ctx) {
		t.Fatal("SetDemo(true) not visible")
	}
	s.Close()
	s2 := openAt(t, path, Options{})
	if !s2.IsDemo(ctx) {
		t.Fatal("demo flag lost on reopen")
	}
	if err := s2.SetDemo(ctx, false); err != nil || s2.IsDemo(ctx) {
		t.Fatalf("SetDemo(false): %v, IsDemo %v", err, s2.IsDemo(ctx))
	}
	if v, ok, err := s2.Meta(ctx, "demo.seed"); err != nil || ok || v != "" {
		t.Fatalf("unset meta key: %q %v %v", v, ok, err)
	}
	if err := s2.SetMeta(ctx, "demo.seed", "42"); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := s2.Meta(ctx, "demo.seed"); err != nil || !ok || v != "42" {
		t.Fatalf("meta: %q %v %v", v, ok, err)
	}
}

// BenchmarkMatrix1000x365 answers the district matrix for 1,000 systems of 2 hosts with a full year of daily
// CPU, memory and disk rollups.
func BenchmarkMatrix1000x365(b *testing.B) {
	s := openAt(b, filepath.Join(b.TempDir(), "zhizhi.db"), Options{})
	ctx := context.Background()
	const systems, perSystem = 1000, 2
	hosts := bulkEntities(b, s, systems, perSystem)
	day0 := time.Date(2026, 1, 1, 0, 0, 0, 0, s.loc)
	r := rand.New(rand.NewPCG(3, 4))
	var rows []RollupRow
	flush := func() {
		if err := s.BulkInsertRollups(ctx, rows); err != nil {
			b.Fatal(err)
		}
		rows = rows[:0]
	}
	for i, h := range hosts {
		for _, m := range matrixMetricNames {
			for d := range 365 {
				avg := r.Float64() * 90
				rows = append(rows, RollupRow{HostID: h, Metric: m, Res: ResDay, TS: day0.AddDate(0, 0, d),
					N: 5760, Min: avg / 3, Max: avg * 1.1, Sum: avg * 5760, P95: avg * 1.05})
			}
		}
		if i%20 == 19 {
			flush()
		}
	}
	flush()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		m, err := s.Matrix(ctx, MatrixQuery{Year: 2026, Metric: "cpu", Stat: StatP95})
		if err != nil {
			b.Fatal(err)
		}
		if len(m.Rows) != systems || math.IsNaN(m.Rows[systems-1].Values[364]) {
			b.Fatalf("%d rows", len(m.Rows))
		}
	}
}

// bulkEntities creates departments, systems, agents and hosts directly (enrolling 2,000 agents one by one
// would dominate the benchmark's setup) and returns the host ids.
func bulkEntities(tb testing.TB, s *Store, systems, perSystem int) []int64 {
	tb.Helper()
	tx, err := s.wdb.Begin()
	if err != nil {
		tb.Fatal(err)
	}
	defer tx.Rollback()
	var hosts []int64
	for i := range systems {
		dept := int64(i/20 + 1)
		if _, err := tx.Exec(`INSERT OR IGNORE INTO departments (id, name) VALUES (?, ?)`, dept, fmt.Sprintf("部门%03d", dept)); err != nil {
			tb.Fatal(err)
		}
		if _, err := tx.Exec(`INSERT INTO systems (id, name, department_id) VALUES (?, ?, ?)`, i+1, fmt.Sprintf("系统%04d", i), dept); err != nil {
			tb.Fatal(err)
		}
		for h := range perSystem {
			id := fmt.Sprintf("ag-bench%04d%d", i, h)
			if _, err := tx.Exec(`INSERT INTO agents (id, system_id, token_hash, created_at) VALUES (?, ?, x'00', 0)`, id, i+1); err != nil {
				tb.Fatal(err)
			}
			var hid int64
			if err := tx.QueryRow(`INSERT INTO hosts (agent_id, first_seen, last_seen) VALUES (?, 0, 0) RETURNING id`, id).Scan(&hid); err != nil {
				tb.Fatal(err)
			}
			hosts = append(hosts, hid)
		}
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
	return hosts
}

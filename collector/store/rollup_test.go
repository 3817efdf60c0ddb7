package store

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"zhizhi/agent/wire"
	"zhizhi/collector/sketch"
)

type bucketKey struct {
	host   int64
	metric string
	res    Resolution
	ts     int64
}

// bruteForce computes every rollup bucket directly from the samples.
func bruteForce(s *Store, samples map[int64][]wire.Sample) map[bucketKey][]float64 {
	out := map[bucketKey][]float64{}
	for host, smps := range samples {
		for i := range smps {
			smp := smps[i]
			smp.Flatten(func(name string, v float64) {
				fs := strings.HasPrefix(name, wire.FSUsedPctPrefix)
				for _, res := range []Resolution{ResMinute, ResHour, ResDay} {
					if fs && res == ResMinute {
						continue
					}
					k := bucketKey{host, name, res, s.BucketStart(res, smp.Time).Unix()}
					out[k] = append(out[k], v)
				}
			})
		}
	}
	return out
}

// checkRollups compares the stored rollups with a brute-force computation over the samples.
func checkRollups(t *testing.T, s *Store, samples map[int64][]wire.Sample) {
	t.Helper()
	ctx := context.Background()
	want := bruteForce(s, samples)
	stored := map[bucketKey]Point{}
	metrics := map[string]bool{}
	for k := range want {
		metrics[k.metric] = true
	}
	from, to := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	for host := range samples {
		for m := range metrics {
			for _, res := range []Resolution{ResMinute, ResHour, ResDay} {
				ser, err := s.SeriesAt(ctx, host, m, res, from, to)
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range ser.Points {
					stored[bucketKey{host, m, res, p.TS.Unix()}] = p
				}
			}
		}
	}
	if len(stored) != len(want) {
		t.Fatalf("%d rollup rows, want %d", len(stored), len(want))
	}
	for k, vals := range want {
		p, ok := stored[k]
		if !ok {
			t.Fatalf("missing rollup %+v", k)
		}
		slices.Sort(vals)
		var sum float64
		for _, v := range vals {
			sum += v
		}
		avg := sum / float64(len(vals))
		if p.N != int64(len(vals)) || p.Min != vals[0] || p.Max != vals[len(vals)-1] ||
			math.Abs(p.Avg-avg) > 1e-9*math.Max(1, math.Abs(avg)) {
			t.Fatalf("%+v: got n=%d min=%v avg=%v max=%v, want n=%d min=%v avg=%v max=%v",
				k, p.N, p.Min, p.Avg, p.Max, len(vals), vals[0], avg, vals[len(vals)-1])
		}
		if k.res == ResMinute {
			if p.P95 != nil {
				t.Fatalf("%+v: 1m bucket has a p95", k)
			}
			continue
		}
		exact := vals[int(0.95*float64(len(vals)-1))]
		if p.P95 == nil || math.Abs(*p.P95-exact) > sketch.RelativeAccuracy*math.Abs(exact)+sketch.MinIndexable {
			t.Fatalf("%+v: p95 %v, want %v ±1%%", k, p.P95, exact)
		}
	}
}

// fill ingests samples for each agent at the given times (batches of up to 50) and records them by host.
func fill(t *testing.T, s *Store, r *rand.Rand, agents []Agent, seqs map[string]uint64, got map[int64][]wire.Sample, times []time.Time) {
	t.Helper()
	for _, a := range agents {
		var batch []wire.Sample
		flush := func() {
			if len(batch) > 0 {
				mustIngest(t, s, a, batchOf(a, times[0], batch...), times[0])
				batch = nil
			}
		}
		for _, ts := range times {
			seqs[a.ID]++
			smp := realisticSample(r, seqs[a.ID], ts)
			if seqs[a.ID]%7 == 0 {
				smp.Net = nil // a failed family
			}
			batch = append(batch, smp)
			if len(batch) == 50 {
				flush()
			}
		}
		flush()
	}
	// Re-read what was stored to record it by host (the JSON round trip is what rollups see).
	for _, a := range agents {
		h := hostID(t, s, a.ID)
		all, err := s.RawSamples(context.Background(), a.ID, 0, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		got[h] = all
	}
}

func timesEvery(start time.Time, step time.Duration, n int) []time.Time {
	out := make([]time.Time, n)
	for i := range out {
		out[i] = start.Add(time.Duration(i) * step)
	}
	return out
}

func TestRollupsMatchBruteForce(t *testing.T) {
	defer func(n int) { rollupChunk = n }(rollupChunk)
	rollupChunk = 700 // several chunks per pass
	ctx := context.Background()
	s, _ := openTest(t, Options{})
	r := rand.New(rand.NewPCG(7, 7))
	var agents []Agent
	for range 3 {
		a, _ := enroll(t, s, "OA", "Finance")
		agents = append(agents, a)
	}
	seqs, got := map[string]uint64{}, map[int64][]wire.Sample{}
	// 14:00 to 20:00 UTC crosses Shanghai midnight (16:00 UTC).
	start := time.Date(2026, 3, 1, 14, 0, 7, 0, time.UTC)
	fill(t, s, r, agents, seqs, got, timesEvery(start, 20*time.Second, 600))
	n, err := s.RollupOnce(ctx)
	if err != nil || n != 1800 {
		t.Fatalf("first rollup: %d, %v", n, err)
	}
	checkRollups(t, s, got)

	// Late samples (older times, new seqs) merge into existing minute, hour and day buckets; new ones extend.
	late := timesEvery(start.Add(5*time.Second), 97*time.Second, 150)
	fill(t, s, r, agents, seqs, got, late)
	n, err = s.RollupOnce(ctx)
	if err != nil || n != 450 {
		t.Fatalf("second rollup: %d, %v", n, err)
	}
	checkRollups(t, s, got)
	if n, err := s.RollupOnce(ctx); n != 0 || err != nil {
		t.Fatalf("idle rollup: %d, %v", n, err)
	}
}

func TestRollupCrashNoDoubleCount(t *testing.T) {
	defer func(n int, d time.Duration) { rollupKeysPerTx, rollupTxBudget = n, d }(rollupKeysPerTx, rollupTxBudget)
	rollupKeysPerTx = 40       // many merge transactions per pass
	rollupTxBudget = time.Hour // cut by key count only, so the partial pass has a known size
	for _, pass := range []string{passFine, passCoarse} {
		t.Run(pass, func(t *testing.T) {
			ctx := context.Background()
			s, path := openTest(t, Options{})
			r := rand.New(rand.NewPCG(8, 8))
			a, _ := enroll(t, s, "OA", "Finance")
			seqs, got := map[string]uint64{}, map[int64][]wire.Sample{}
			start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
			fill(t, s, r, []Agent{a}, seqs, got, timesEvery(start, 15*time.Second, 300))

			// The pass dies after its pending record and one merge transaction committed.
			boom := errors.New("simulated crash")
			commits := 0
			s.testHookBeforeRollupCommit = func(p string) error {
				if p != pass {
					return nil
				}
				// Count the transactions that commit after step 1's pending record is visible.
				if countRows(t, s, `SELECT COUNT(*) FROM rollup_state WHERE pass = ? AND pending > 0`, p) == 0 {
					return nil
				}
				if commits++; commits == 2 { // step 1 and one merge transaction went through
					return boom
				}
				return nil
			}
			if _, err := s.RollupOnce(ctx); !errors.Is(err, boom) {
				t.Fatalf("rollup with crash hook: %v", err)
			}
			if n := countRows(t, s, `SELECT COUNT(*) FROM rollup_state WHERE pass = ? AND watermark = 0 AND pending > 0`, pass); n != 1 {
				t.Fatalf("no pending %s pass recorded", pass)
			}
			partial := countRows(t, s, `SELECT COUNT(*) FROM rollup_1m`)
			if pass == passCoarse {
				partial = countRows(t, s, `SELECT (SELECT COUNT(*) FROM rollup_1h) + (SELECT COUNT(*) FROM rollup_1d)`)
			}
			if partial != int64(rollupKeysPerTx) {
				t.Fatalf("%d partial rows, want %d: the test does not exercise a partial pass", partial, rollupKeysPerTx)
			}
			s.Close()

			s = openAt(t, path, Options{})
			if n, err := s.RollupOnce(ctx); err != nil || n != 300 {
				t.Fatalf("rollup after restart: %d, %v", n, err)
			}
			checkRollups(t, s, got)
			s.Close()

			s = openAt(t, path, Options{})
			if n, err := s.RollupOnce(ctx); err != nil || n != 0 {
				t.Fatalf("rollup after second restart: %d, %v", n, err)
			}
			checkRollups(t, s, got)
		})
	}
}

func TestDayBucketsLocalMidnight(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t, Options{})
	a, _ := enroll(t, s, "OA", "Finance")
	r := rand.New(rand.NewPCG(9, 9))
	// 15:59:30 UTC is 23:59:30 in Shanghai on March 1; 16:00:30 UTC is 00:00:30 on March 2.
	before := realisticSample(r, 1, time.Date(2026, 3, 1, 15, 59, 30, 0, time.UTC))
	after := realisticSample(r, 2, time.Date(2026, 3, 1, 16, 0, 30, 0, time.UTC))
	mustIngest(t, s, a, batchOf(a, after.Time, before, after), after.Time)
	if _, err := s.RollupOnce(ctx); err != nil {
		t.Fatal(err)
	}
	h := hostID(t, s, a.ID)
	ser, err := s.SeriesAt(ctx, h, wire.MetricCPUBusyPct, ResDay, time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	shanghai := time.FixedZone("CST", 8*3600)
	want := []time.Time{time.Date(2026, 3, 1, 0, 0, 0, 0, shanghai), time.Date(2026, 3, 2, 0, 0, 0, 0, shanghai)}
	if len(ser.Points) != 2 || !ser.Points[0].TS.Equal(want[0]) || !ser.Points[1].TS.Equal(want[1]) {
		t.Fatalf("day buckets %+v, want starts %v", ser.Points, want)
	}
	if ser.Points[0].Max != before.CPU.BusyPct || ser.Points[1].Max != after.CPU.BusyPct {
		t.Fatalf("day buckets hold the wrong samples: %+v", ser.Points)
	}
	// Hour buckets stay UTC-aligned: 15:00 and 16:00 UTC.
	hours, _ := s.SeriesAt(ctx, h, wire.MetricCPUBusyPct, ResHour, before.Time.Add(-time.Hour), after.Time.Add(time.Hour))
	if len(hours.Points) != 2 || hours.Points[0].TS.Unix()%3600 != 0 || hours.Points[1].TS.Sub(hours.Points[0].TS) != time.Hour {
		t.Fatalf("hour buckets %+v", hours.Points)
	}
	// Per-mount series exist hourly and daily only.
	fsm := wire.FSUsedPctPrefix + "/data"
	for res, n := range map[Resolution]int{ResMinute: 0, ResHour: 2, ResDay: 2} {
		ser, _ := s.SeriesAt(ctx, h, fsm, res, before.Time.Add(-48*time.Hour), after.Time.Add(48*time.Hour))
		if len(ser.Points) != n {
			t.Errorf("%s %s: %d points, want %d", fsm, res, len(ser.Points), n)
		}
	}
}

func TestInsertRollups(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t, Options{})
	a, _ := enroll(t, s, "OA", "Finance")
	r := rand.New(rand.NewPCG(10, 10))
	t0 := time.Date(2026, 3, 1, 4, 0, 0, 0, time.UTC) // 12:00 Shanghai
	mustIngest(t, s, a, batchOf(a, t0, realisticSample(r, 1, t0)), t0)
	h := hostID(t, s, a.ID)
	var rows []RollupRow
	for d := range 400 {
		day := t0.AddDate(0, 0, -400+d)
		rows = append(rows, RollupRow{HostID: h, Metric: wire.MetricCPUBusyPct, Res: ResDay, TS: day, N: 5760, Min: 1, Max: 90, Sum: 5760 * 20, P95: 70})
	}
	rows = append(rows, RollupRow{HostID: h, Metric: "custom.metric", Res: ResMinute, TS: t0.Add(-time.Minute), N: 4, Min: 1, Max: 2, Sum: 6, P95: 9})
	if err := s.InsertRollups(ctx, rows); err != nil {
		t.Fatal(err)
	}
	if err := s.InsertRollups(ctx, rows); err != nil { // idempotent: replaces
		t.Fatal(err)
	}
	ser, err := s.SeriesAt(ctx, h, wire.MetricCPUBusyPct, ResDay, t0.AddDate(-2, 0, 0), t0)
	if err != nil || len(ser.Points) != 400 {
		t.Fatalf("bulk series: %d points, %v", len(ser.Points), err)
	}
	p := ser.Points[0]
	if p.N != 5760 || p.Avg != 20 || p.P95 == nil || *p.P95 != 70 || p.TS.In(s.loc).Hour() != 0 {
		t.Fatalf("bulk point %+v", p)
	}
	m, _ := s.SeriesAt(ctx, h, "custom.metric", ResMinute, t0.Add(-time.Hour), t0)
	if len(m.Points) != 1 || m.Points[0].P95 != nil {
		t.Fatalf("1m bulk row %+v", m.Points)
	}
	// A raw sample landing in a bulk-loaded day merges counts and keeps a conservative p95.
	if _, err := s.RollupOnce(ctx); err != nil {
		t.Fatal(err)
	}
	ser, _ = s.SeriesAt(ctx, h, wire.MetricCPUBusyPct, ResDay, t0.Add(-time.Hour), t0.Add(time.Hour))
	if len(ser.Points) != 1 || ser.Points[0].N != 1 {
		t.Fatalf("today's bucket %+v", ser.Points) // t0's own day was not bulk-loaded
	}
	for name, bad := range map[string]RollupRow{
		"resolution": {HostID: h, Metric: "x", Res: ResRaw, N: 1},
		"metric":     {HostID: h, Res: ResDay, N: 1},
		"count":      {HostID: h, Metric: "x", Res: ResDay},
	} {
		if err := s.InsertRollups(ctx, []RollupRow{bad}); err == nil {
			t.Errorf("%s: bad row accepted", name)
		}
	}
}

package store

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"zhizhi/agent/wire"
	"zhizhi/collector/sketch"
)

func TestExceptionsCRUD(t *testing.T) {
	ctx := context.Background()
	s, path := openTest(t, Options{})
	created := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	bad := []struct {
		e    Exception
		want string
	}{
		{Exception{HostID: 1, Created: created, Expires: created}, "type"},
		{Exception{Type: "seasonal", Created: created, Expires: created}, "host_id or system"},
		{Exception{Type: "seasonal", HostID: 1}, "created and expires"},
		{Exception{Type: "seasonal", HostID: 1, Months: []int{3, 13}, Created: created, Expires: created}, "months[1]"},
	}
	for _, b := range bad {
		if _, err := s.AddException(ctx, b.e); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("AddException(%+v) = %v, want an error naming %s", b.e, err, b.want)
		}
	}
	a, err := s.AddException(ctx, Exception{Type: "seasonal", System: "统计年报系统", Owner: "李四", Reason: "年报",
		Months: []int{3, 4}, Created: created, Expires: created.AddDate(0, 12, 0)})
	if err != nil || a.ID == 0 {
		t.Fatalf("add: %+v %v", a, err)
	}
	b, err := s.AddException(ctx, Exception{Type: "scheduled-batch", HostID: 7, Owner: "王五", Reason: "月结",
		Schedule: "monthly last 3", Created: created, Expires: created.AddDate(0, 1, 0)})
	if err != nil {
		t.Fatal(err)
	}
	// Survives a reopen.
	s.Close()
	s = openAt(t, path, Options{})
	got, err := s.Exceptions(ctx)
	if err != nil || len(got) != 2 {
		t.Fatalf("list: %+v %v", got, err)
	}
	if g := got[0]; g.ID != a.ID || g.System != "统计年报系统" || !slices.Equal(g.Months, []int{3, 4}) || !g.Created.Equal(created) ||
		!g.Expires.Equal(created.AddDate(0, 12, 0)) || g.HostID != 0 {
		t.Errorf("first = %+v", g)
	}
	if g := got[1]; g.ID != b.ID || g.HostID != 7 || g.Schedule != "monthly last 3" || g.Months != nil {
		t.Errorf("second = %+v", g)
	}
	if err := s.DeleteException(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteException(ctx, a.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("delete twice: %v, want ErrNotFound", err)
	}
	if got, _ := s.Exceptions(ctx); len(got) != 1 || got[0].ID != b.ID {
		t.Errorf("after delete: %+v", got)
	}
}

// TestWindowQuantile merges real daily sketches (raw samples rolled up) and falls back to weighted p95 for
// bulk-loaded days without a sketch.
func TestWindowQuantile(t *testing.T) {
	ctx := context.Background()
	day0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.FixedZone("CST", 8*3600))
	clk := &fakeClock{t: day0.AddDate(0, 0, 5)}
	s, _ := openTest(t, Options{Clock: clk.Now})
	a, _ := enroll(t, s, "sys", "dept")
	// Day 1: 100 samples of 1..100; day 2: 100 samples of 1000. The merged P50 lies in day 2's values; an
	// average of daily medians would be ≈525.
	want := sketch.New()
	var samples []wire.Sample
	for i := range 200 {
		v := float64(i%100 + 1)
		ts := day0.Add(time.Duration(i%100) * time.Minute)
		if i >= 100 {
			v, ts = 1000, day0.AddDate(0, 0, 1).Add(time.Duration(i%100)*time.Minute)
		}
		want.Add(v)
		samples = append(samples, wire.Sample{Seq: uint64(i + 1), Time: ts, IntervalSeconds: 15, CPU: &wire.CPU{BusyPct: v}})
	}
	mustIngest(t, s, a, batchOf(a, clk.Now(), samples...), clk.Now())
	if _, err := s.RollupOnce(ctx); err != nil {
		t.Fatal(err)
	}
	host := hostID(t, s, a.ID)
	for _, q := range []float64{0.25, 0.5, 0.95} {
		got, n, ok, err := s.WindowQuantile(ctx, host, wire.MetricCPUBusyPct, day0, day0.AddDate(0, 0, 2), q)
		w, _ := want.Quantile(q)
		w = min(max(w, 1), 1000) // bounded by the exact extremes of the window
		if err != nil || !ok || n != 200 || math.Abs(got-w) > 1e-9 {
			t.Errorf("q%.2f = %v n=%d ok=%v err=%v, want %v over 200 samples", q, got, n, ok, err, w)
		}
	}
	if _, _, ok, err := s.WindowQuantile(ctx, host, wire.MetricCPUBusyPct, day0.AddDate(0, 0, 3), day0.AddDate(0, 0, 4), 0.5); ok || err != nil {
		t.Errorf("empty range: ok=%v err=%v", ok, err)
	}
	if _, _, _, err := s.WindowQuantile(ctx, host, wire.MetricCPUBusyPct, day0, day0, 1.5); err == nil {
		t.Errorf("q=1.5 accepted")
	}

	// A bulk-loaded day without a sketch counts its p95 n times.
	if err := s.InsertRollups(ctx, []RollupRow{{HostID: host, Metric: wire.MetricCPUBusyPct, Res: ResDay,
		TS: day0.AddDate(0, 0, 2), N: 1000, Min: 0, Max: 90, Sum: 5000, P95: 50}}); err != nil {
		t.Fatal(err)
	}
	got, n, ok, err := s.WindowQuantile(ctx, host, wire.MetricCPUBusyPct, day0, day0.AddDate(0, 0, 3), 0.5)
	if err != nil || !ok || n != 1200 || math.Abs(got-50) > 0.5 {
		t.Errorf("with a loaded day: median %v n=%d, want ≈50 over 1200", got, n)
	}

	rows, err := s.DailyRollups(ctx, host, []string{wire.MetricCPUBusyPct, "no.such"}, day0, day0.AddDate(0, 0, 3))
	if err != nil || len(rows) != 3 {
		t.Fatalf("daily rollups: %+v %v", rows, err)
	}
	if r := rows[1]; !r.Day.Equal(day0.AddDate(0, 0, 1)) || r.N != 100 || r.Max != 1000 || r.Sum != 100000 {
		t.Errorf("day 2 = %+v", r)
	}
	if r := rows[2]; r.N != 1000 || r.P95 != 50 {
		t.Errorf("loaded day = %+v", r)
	}
}

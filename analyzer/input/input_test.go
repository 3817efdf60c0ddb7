package input

import (
	"context"
	"math"
	"testing"
	"time"

	"zhizhi/agent/wire"
	"zhizhi/analyzer/detect"
	"zhizhi/collector/store"
)

// fakeSource serves fixed rollups.
type fakeSource struct {
	rows   []store.DailyRollup
	q      float64
	n      int64
	asked  [][2]time.Time
	hostID int64
}

func (f *fakeSource) Hosts(context.Context) ([]store.HostSummary, error) { return nil, nil }
func (f *fakeSource) DailyRollups(_ context.Context, host int64, _ []string, from, to time.Time) ([]store.DailyRollup, error) {
	f.hostID = host
	f.asked = append(f.asked, [2]time.Time{from, to})
	return f.rows, nil
}
func (f *fakeSource) WindowQuantile(_ context.Context, _ int64, _ string, from, to time.Time, q float64) (float64, int64, bool, error) {
	f.asked = append(f.asked, [2]time.Time{from, to})
	return f.q * q, f.n, f.n > 0, nil
}

func TestHost(t *testing.T) {
	now := time.Date(2026, 11, 30, 10, 0, 0, 0, detect.Location)
	d1 := time.Date(2026, 11, 28, 0, 0, 0, 0, detect.Location)
	d2 := d1.AddDate(0, 0, 1)
	src := &fakeSource{q: 100, n: 2880 * 30, rows: []store.DailyRollup{
		{Metric: wire.MetricCPUBusyPct, Day: d1, N: 1440, Max: 9, Sum: 1440 * 3, P95: 6},
		{Metric: wire.MetricNetRxBytes, Day: d1, N: 1440, Sum: 3e6},
		{Metric: wire.MetricNetTxBytes, Day: d1, N: 1440, Sum: 1e6},
		{Metric: wire.MetricAgentNetBytes, Day: d1, N: 1440, Sum: 5e5},
		{Metric: wire.MetricSessions, Day: d1, N: 1440, Max: 2, Sum: 10},
		{Metric: wire.MetricFSTotalBytes, Day: d1, N: 1440, Max: 2e12, Sum: 1440 * 2e12},
		{Metric: wire.MetricCPUBusyPct, Day: d2, N: 2880, Max: 50, Sum: 2880 * 10, P95: math.NaN()},
		{Metric: wire.MetricMemUsedPct, Day: d2, N: 10, Max: 40, P95: 35},
		{Metric: wire.MetricNetRxBytes, Day: d2, N: 10, Sum: 7},                       // memory-only days are no days; rx-only day: tx absent
		{Metric: wire.MetricDiskWriteBytes, Day: d2.AddDate(0, 0, -5), N: 10, Sum: 1}, // a day without CPU: a gap
	}}
	h := store.HostSummary{ID: 4, Hostname: "h", System: "s", Department: "d",
		Facts:  &wire.HostFacts{CPUCores: 4, MemTotalBytes: 8 << 30},
		Latest: &wire.Sample{IntervalSeconds: 30}}
	in, err := Host(context.Background(), src, h, now, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if Interval(h) != 30*time.Second || Interval(store.HostSummary{}) != DefaultInterval {
		t.Errorf("interval: %v / %v", Interval(h), Interval(store.HostSummary{}))
	}
	if in.VCPU != 4 || in.MemBytes != 8<<30 || in.DiskBytes != 2e12 || in.HostID != 4 || src.hostID != 4 {
		t.Errorf("host facts: %+v", in)
	}
	if len(in.Days) != 2 {
		t.Fatalf("days: %+v", in.Days)
	}
	byDate := map[int]detect.Day{}
	for _, d := range in.Days {
		byDate[d.Date.Day()] = d
	}
	a, b := byDate[28], byDate[29]
	// 30 s interval: 2880 expected samples a day.
	if a.Coverage != 0.5 || a.CPUP95 != 6 || a.CPUAvg != 3 || a.NetBytes != 4e6 || a.AgentNetBytes != 5e5 || a.Sessions != 2 {
		t.Errorf("day 28: %+v", a)
	}
	if !math.IsNaN(a.NewInbound) || !math.IsNaN(a.DiskWriteBytes) || !math.IsNaN(a.MemP95) {
		t.Errorf("day 28: unmeasured signals should be NaN: %+v", a)
	}
	if b.Coverage != 1 || b.CPUP95 != 50 || b.MemP95 != 35 || b.NetBytes != 7 || b.AgentNetBytes != 0 {
		t.Errorf("day 29 (p95 missing → max; agent traffic absent → 0): %+v", b)
	}
	if in.Window.CPUP95 != 95 || in.Window.MemP99 != 99 || in.Window.Coverage != 1 {
		t.Errorf("window: %+v", in.Window)
	}
	end := time.Date(2026, 11, 30, 0, 0, 0, 0, detect.Location)
	if got := src.asked[0]; !got[1].Equal(end) || !got[0].Equal(end.AddDate(0, 0, -DefaultHistoryDays)) {
		t.Errorf("history asked %v", got)
	}
	if got := src.asked[1]; !got[0].Equal(end.AddDate(0, 0, -30)) || !got[1].Equal(end) {
		t.Errorf("window asked %v", got)
	}
}

package store

import (
	"context"
	"testing"
	"time"

	"zhizhi/agent/wire"
)

// BenchmarkBulkInsertRollups writes one host's hourly CPU, memory and disk rows for 90 days per operation.
func BenchmarkBulkInsertRollups(b *testing.B) {
	s, _ := openTest(b, Options{})
	ctx := context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	hosts := bulkEntities(b, s, 500, 1)
	b.ReportAllocs()
	i := 0
	var rows []RollupRow
	for b.Loop() {
		b.StopTimer()
		rows = rows[:0]
		for _, m := range []string{wire.MetricCPUBusyPct, wire.MetricMemUsedPct, wire.MetricFSMaxUsedPct} {
			for h := range 90 * 24 {
				v := float64(h%100) + 0.5
				rows = append(rows, RollupRow{HostID: hosts[i%len(hosts)], Metric: m, Res: ResHour, TS: t0.Add(time.Duration(h) * time.Hour),
					N: 240, Min: v / 2, Max: v * 1.1, Sum: v * 240, P95: v * 1.05})
			}
		}
		i++
		b.StartTimer()
		if err := s.BulkInsertRollups(ctx, rows); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(rows)), "rows/op")
}

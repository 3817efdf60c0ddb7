// Package reporttest seeds a real store with the six reference cases of the analyzer (issue 5): a month-end
// batch server, an annual reporting system, a disaster-recovery standby, a truly idle server, an overloaded
// server with a filling disk, and a host with a three-week agent outage.
package reporttest

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"zhizhi/agent/wire"
	"zhizhi/analyzer/detect"
	"zhizhi/collector/store"
)

// Now is the evaluation time of the fixture: 30 November 2026, 10:00 in Asia/Shanghai.
var Now = time.Date(2026, 11, 30, 10, 0, 0, 0, detect.Location)

// Start is the first day of seeded history.
var Start = time.Date(2025, 1, 1, 0, 0, 0, 0, detect.Location)

// Systems and departments of the fixture.
const (
	BatchSystem    = "财务月结系统"
	BatchDept      = "区财政局"
	AnnualSystem   = "统计年报系统"
	AnnualDept     = "区统计局"
	StandbySystem  = "灾备数据库"
	StandbyDept    = "区大数据中心"
	IdleSystem     = "旧版OA系统"
	IdleDept       = "区政府办公室"
	OverSystem     = "不动产登记系统"
	OverDept       = "区自然资源局"
	OutageSystem   = "社保查询系统"
	OutageDept     = "区人社局"
	SamplesPerDay  = 5760 // 15 s interval
	hostCores      = 8
	hostMem        = 16 << 30
	diskTotal      = 1e12
	idleNetPerSide = 1e6
)

// Fixture is a seeded store.
type Fixture struct {
	Store *store.Store
	// Hosts maps system name to its one host's id.
	Hosts map[string]int64
}

// day is one seeded day's values.
type day struct {
	cpuP95, mem, net, inbound, sessions, writes, fsPct, fsUsed float64
}

var (
	idle   = day{cpuP95: 2, mem: 30, net: 2 * idleNetPerSide, writes: 1e7, fsPct: 40, fsUsed: 0.4 * diskTotal}
	active = day{cpuP95: 60, mem: 55, net: 2e9, inbound: 500, sessions: 3, writes: 5e9, fsPct: 40, fsUsed: 0.4 * diskTotal}
)

// Seed opens a store in a temporary directory (clock at Now) and loads the six cases.
func Seed(t testing.TB) Fixture {
	t.Helper()
	return SeedAt(t, t.TempDir()+"/zhizhi.db")
}

// SeedAt is Seed with the database at path; the store closes when the test ends. The fixture is built once
// per test binary and copied, so that each test gets its own store quickly.
func SeedAt(t testing.TB, path string) Fixture {
	t.Helper()
	once.Do(func() { image, hosts, seedErr = build() })
	if seedErr != nil {
		t.Fatalf("seed: %v", seedErr)
	}
	if err := os.WriteFile(path, image, 0o600); err != nil {
		t.Fatalf("seed: %v", err)
	}
	st, err := store.Open(context.Background(), path, store.Options{Clock: func() time.Time { return Now }})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return Fixture{Store: st, Hosts: maps.Clone(hosts)}
}

var (
	once    sync.Once
	image   []byte
	hosts   map[string]int64
	seedErr error
)

// build loads the six cases into a fresh database and returns its file and the host ids.
func build() ([]byte, map[string]int64, error) {
	dir, err := os.MkdirTemp("", "reporttest-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "zhizhi.db")
	ctx := context.Background()
	st, err := store.Open(ctx, path, store.Options{Clock: func() time.Time { return Now }})
	if err != nil {
		return nil, nil, fmt.Errorf("open store: %w", err)
	}
	ids, err := load(ctx, st)
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, nil, err
	}
	b, err := os.ReadFile(path)
	return b, ids, err
}

func load(ctx context.Context, st *store.Store) (map[string]int64, error) {
	ids := map[string]int64{}
	cases := []struct {
		system, dept string
		at           func(d time.Time) (day, bool) // false: no data that day
	}{
		{BatchSystem, BatchDept, func(d time.Time) (day, bool) {
			if d.AddDate(0, 0, 4).Month() != d.Month() { // the last 4 days of every month
				return active, true
			}
			return idle, true
		}},
		{AnnualSystem, AnnualDept, func(d time.Time) (day, bool) {
			if d.Month() == time.March {
				return active, true
			}
			return idle, true
		}},
		{StandbySystem, StandbyDept, func(time.Time) (day, bool) { return idle, true }},
		{IdleSystem, IdleDept, func(time.Time) (day, bool) { return idle, true }},
		{OverSystem, OverDept, func(d time.Time) (day, bool) {
			v := active
			v.cpuP95, v.mem = 92, 95
			// The disk fills from 60% towards full over the last 30 days: 0.8 percentage points a day.
			days := Now.Sub(d).Hours() / 24
			pct := 60.0
			if days < 31 {
				pct = 84 - 0.8*days
			}
			v.fsPct, v.fsUsed = pct, pct/100*diskTotal
			return v, true
		}},
		{OutageSystem, OutageDept, func(d time.Time) (day, bool) {
			if !d.Before(time.Date(2026, 11, 1, 0, 0, 0, 0, detect.Location)) && d.Before(time.Date(2026, 11, 22, 0, 0, 0, 0, detect.Location)) {
				return day{}, false // three weeks without data
			}
			return idle, true
		}},
	}
	for _, c := range cases {
		a, _, err := st.EnrollAgent(ctx, c.system, c.dept)
		if err != nil {
			return nil, fmt.Errorf("enroll %s: %w", c.system, err)
		}
		b := &wire.Batch{Version: 1, AgentID: a.ID, SentAt: Now,
			Host:    &wire.HostFacts{Hostname: "host-" + a.ID[3:9], OS: "linux", CPUCores: hostCores, MemTotalBytes: hostMem},
			Samples: []wire.Sample{{Seq: 1, Time: Now.Add(-time.Hour), IntervalSeconds: 15}}}
		if _, err := st.Ingest(ctx, a, b, Now); err != nil {
			return nil, fmt.Errorf("ingest %s: %w", c.system, err)
		}
		ag, err := st.Agent(ctx, a.ID)
		if err != nil || ag.HostID == 0 {
			return nil, fmt.Errorf("agent %s has no host: %v", a.ID, err)
		}
		ids[c.system] = ag.HostID
		var rows []store.RollupRow
		for d := Start; d.Before(Now.Add(-12 * time.Hour)); d = d.AddDate(0, 0, 1) {
			v, ok := c.at(d)
			if !ok {
				continue
			}
			rows = append(rows, Rows(ag.HostID, d, v.cpuP95, v.mem, v.net, v.inbound, v.sessions, v.writes, v.fsPct, v.fsUsed)...)
		}
		if err := st.InsertRollups(ctx, rows); err != nil {
			return nil, fmt.Errorf("insert rollups %s: %w", c.system, err)
		}
	}
	return ids, nil
}

// Rows returns one day's 1-day rollup rows of a host with SamplesPerDay samples per metric.
func Rows(host int64, d time.Time, cpuP95, mem, net, inbound, sessions, writes, fsPct, fsUsed float64) []store.RollupRow {
	n := int64(SamplesPerDay)
	gauge := func(m string, p95, avg, mx float64) store.RollupRow {
		return store.RollupRow{HostID: host, Metric: m, Res: store.ResDay, TS: d, N: n, Min: 0, Max: mx, Sum: avg * float64(n), P95: p95}
	}
	total := func(m string, sum float64) store.RollupRow {
		return store.RollupRow{HostID: host, Metric: m, Res: store.ResDay, TS: d, N: n, Min: 0, Max: sum / float64(n) * 4, Sum: sum, P95: sum / float64(n) * 2}
	}
	return []store.RollupRow{
		gauge(wire.MetricCPUBusyPct, cpuP95, cpuP95/2, min(100, cpuP95*1.5)),
		gauge(wire.MetricMemUsedPct, mem, mem-1, mem),
		total(wire.MetricNetRxBytes, net/2),
		total(wire.MetricNetTxBytes, net/2),
		total(wire.MetricAgentNetBytes, idleNetPerSide/2),
		total(wire.MetricConnNewInbound, inbound),
		gauge(wire.MetricSessions, sessions, sessions, sessions),
		total(wire.MetricDiskWriteBytes, writes),
		gauge(wire.MetricFSMaxUsedPct, fsPct, fsPct, fsPct),
		gauge(wire.MetricFSUsedBytes, fsUsed, fsUsed, fsUsed),
		gauge(wire.MetricFSTotalBytes, diskTotal, diskTotal, diskTotal),
	}
}

// Package input adapts the store's daily rollups and host facts to detection inputs (detect.HostInput) and
// converts exceptions between the store and the detector.
package input

import (
	"context"
	"fmt"
	"math"
	"time"

	"zhizhi/agent/wire"
	"zhizhi/analyzer/detect"
	"zhizhi/collector/store"
)

// Source is what the adapter reads; *store.Store implements it.
type Source interface {
	Hosts(ctx context.Context) ([]store.HostSummary, error)
	DailyRollups(ctx context.Context, hostID int64, metrics []string, from, to time.Time) ([]store.DailyRollup, error)
	WindowQuantile(ctx context.Context, hostID int64, metric string, from, to time.Time, q float64) (float64, int64, bool, error)
}

// Defaults of Options.
const (
	// DefaultInterval is the collection interval assumed for a host whose latest sample does not say (the
	// agent's default is 15 s).
	DefaultInterval = 15 * time.Second
	// DefaultHistoryDays is how many days before now are read: the longest idle run judged (a year and a half
	// of comatose run) plus the prior-year window of the seasonal rule (365 + 31 days).
	DefaultHistoryDays = 800
	// WindowDays is the window of detect.Window: the 30 complete days before now's day.
	WindowDays = 30
)

// Options tune the adapter. The zero value uses the defaults.
type Options struct {
	HistoryDays int
	// Interval, when set, overrides every host's collection interval.
	Interval time.Duration
}

// metrics are the rollup series a Day is built from.
var metrics = []string{
	wire.MetricCPUBusyPct, wire.MetricMemUsedPct, wire.MetricNetRxBytes, wire.MetricNetTxBytes,
	wire.MetricAgentNetBytes, wire.MetricConnNewInbound, wire.MetricSessions, wire.MetricDiskWriteBytes,
	wire.MetricFSMaxUsedPct, wire.MetricFSUsedBytes, wire.MetricFSTotalBytes,
}

// Interval returns the collection interval of h: the IntervalSeconds of its newest sample when positive,
// otherwise DefaultInterval. Coverage is samples present / (86400 s / interval) per day.
func Interval(h store.HostSummary) time.Duration {
	if h.Latest != nil && h.Latest.IntervalSeconds > 0 {
		return time.Duration(math.Round(h.Latest.IntervalSeconds)) * time.Second
	}
	return DefaultInterval
}

// Hosts builds the detection input of every host of src at now.
func Hosts(ctx context.Context, src Source, now time.Time, opts Options) ([]detect.HostInput, error) {
	hosts, err := src.Hosts(ctx)
	if err != nil {
		return nil, fmt.Errorf("analyzer input: %w", err)
	}
	out := make([]detect.HostInput, 0, len(hosts))
	for _, h := range hosts {
		in, err := Host(ctx, src, h, now, opts)
		if err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	return out, nil
}

// dayStart is the local midnight (detect.Location) of t's civil day.
func dayStart(t time.Time) time.Time {
	y, m, d := t.In(detect.Location).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, detect.Location)
}

// Host builds one host's detection input from its daily rollups over the HistoryDays before now's day:
//   - Coverage: cpu.busy_pct samples / expected samples (86400 s / Interval), at most 1; a day without CPU
//     rollup is left out (a gap);
//   - CPUP95/CPUAvg/CPUMax and MemP95/MemMax from the day's buckets (a bucket without p95 uses its max);
//   - NetBytes = rx + tx totals, AgentNetBytes = agent.net_bytes total (0 when absent), NewInbound and
//     DiskWriteBytes totals, Sessions the day's maximum; an absent series is NaN (not measured);
//   - FSMaxUsedPct, FSUsedBytes, FSTotalBytes: the day's maxima (totals over local filesystems);
//   - Window: P95 CPU and P99 memory from the merged daily sketches of the 30 days before now's day,
//     coverage = CPU samples / expected over those days.
func Host(ctx context.Context, src Source, h store.HostSummary, now time.Time, opts Options) (detect.HostInput, error) {
	history := opts.HistoryDays
	if history <= 0 {
		history = DefaultHistoryDays
	}
	interval := opts.Interval
	if interval <= 0 {
		interval = Interval(h)
	}
	expected := 86400 / interval.Seconds()
	in := detect.HostInput{HostID: h.ID, Host: h.Hostname, System: h.System, Department: h.Department}
	if h.Facts != nil {
		in.VCPU, in.MemBytes = h.Facts.CPUCores, h.Facts.MemTotalBytes
	}
	end := dayStart(now)
	rows, err := src.DailyRollups(ctx, h.ID, metrics, end.AddDate(0, 0, -history), end)
	if err != nil {
		return in, fmt.Errorf("analyzer input: %w", err)
	}
	byDay := map[int64]map[string]store.DailyRollup{}
	for _, r := range rows {
		k := dayStart(r.Day).Unix()
		if byDay[k] == nil {
			byDay[k] = map[string]store.DailyRollup{}
		}
		byDay[k][r.Metric] = r
	}
	var latestDay int64
	for k, ms := range byDay {
		cpu, ok := ms[wire.MetricCPUBusyPct]
		if !ok {
			continue
		}
		nan := math.NaN()
		sum := func(name string) float64 {
			if r, ok := ms[name]; ok {
				return r.Sum
			}
			return nan
		}
		maxOf := func(name string) float64 {
			if r, ok := ms[name]; ok {
				return r.Max
			}
			return nan
		}
		p95 := func(r store.DailyRollup) float64 {
			if math.IsNaN(r.P95) {
				return r.Max
			}
			return r.P95
		}
		d := detect.Day{
			Date:     time.Unix(k, 0).In(detect.Location),
			Coverage: min(1, float64(cpu.N)/expected),
			CPUP95:   p95(cpu), CPUAvg: cpu.Sum / float64(cpu.N), CPUMax: cpu.Max,
			MemP95: nan, MemMax: nan,
			NewInbound:     sum(wire.MetricConnNewInbound),
			Sessions:       maxOf(wire.MetricSessions),
			DiskWriteBytes: sum(wire.MetricDiskWriteBytes),
			FSMaxUsedPct:   maxOf(wire.MetricFSMaxUsedPct),
			FSUsedBytes:    maxOf(wire.MetricFSUsedBytes),
			FSTotalBytes:   maxOf(wire.MetricFSTotalBytes),
		}
		if mem, ok := ms[wire.MetricMemUsedPct]; ok {
			d.MemP95, d.MemMax = p95(mem), mem.Max
		}
		rx, rxOK := ms[wire.MetricNetRxBytes]
		tx, txOK := ms[wire.MetricNetTxBytes]
		switch {
		case rxOK || txOK:
			d.NetBytes = rx.Sum + tx.Sum
		default:
			d.NetBytes = nan
		}
		if a, ok := ms[wire.MetricAgentNetBytes]; ok {
			d.AgentNetBytes = a.Sum
		}
		in.Days = append(in.Days, d)
		if k > latestDay && !math.IsNaN(d.FSTotalBytes) {
			latestDay, in.DiskBytes = k, uint64(d.FSTotalBytes)
		}
	}
	from := end.AddDate(0, 0, -WindowDays)
	cpuP95, n, ok, err := src.WindowQuantile(ctx, h.ID, wire.MetricCPUBusyPct, from, end, 0.95)
	if err != nil {
		return in, fmt.Errorf("analyzer input: %w", err)
	}
	if ok {
		in.Window.CPUP95 = cpuP95
		in.Window.Coverage = min(1, float64(n)/(expected*WindowDays))
	}
	memP99, _, ok, err := src.WindowQuantile(ctx, h.ID, wire.MetricMemUsedPct, from, end, 0.99)
	if err != nil {
		return in, fmt.Errorf("analyzer input: %w", err)
	}
	if ok {
		in.Window.MemP99 = memP99
	}
	return in, nil
}

// ToDetect converts a stored exception to the detector's form.
func ToDetect(e store.Exception) detect.Exception {
	d := detect.Exception{
		ID: e.ID, Type: detect.ExceptionType(e.Type), HostID: e.HostID, System: e.System, Owner: e.Owner,
		Reason: e.Reason, Schedule: e.Schedule, Created: e.Created, Expires: e.Expires,
	}
	for _, m := range e.Months {
		d.Months = append(d.Months, time.Month(m))
	}
	return d
}

// FromDetect converts a detector exception to the stored form.
func FromDetect(d detect.Exception) store.Exception {
	e := store.Exception{
		ID: d.ID, Type: string(d.Type), HostID: d.HostID, System: d.System, Owner: d.Owner, Reason: d.Reason,
		Schedule: d.Schedule, Created: d.Created, Expires: d.Expires,
	}
	for _, m := range d.Months {
		e.Months = append(e.Months, int(m))
	}
	return e
}

// Exceptions converts stored exceptions to the detector's form.
func Exceptions(es []store.Exception) []detect.Exception {
	out := make([]detect.Exception, len(es))
	for i, e := range es {
		out[i] = ToDetect(e)
	}
	return out
}

// Package consoledata implements the console's Data over the collector store, filtering every answer by the
// caller's Scope.
package consoledata

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"zhizhi/agent/wire"
	"zhizhi/collector/calendar"
	"zhizhi/collector/store"
	"zhizhi/server/console"
)

// Store is what Data reads from the collector store; *store.Store implements it.
type Store interface {
	IsDemo(ctx context.Context) bool
	Departments(ctx context.Context) ([]store.Department, error)
	Systems(ctx context.Context) ([]store.SystemSummary, error)
	Hosts(ctx context.Context) ([]store.HostSummary, error)
	Host(ctx context.Context, id int64) (store.HostSummary, error)
	AgentHealth(ctx context.Context, agentID string) (store.AgentHealth, error)
	SeriesAt(ctx context.Context, hostID int64, metric string, res store.Resolution, from, to time.Time) (store.Series, error)
	Matrix(ctx context.Context, q store.MatrixQuery) (store.Matrix, error)
	SystemYear(ctx context.Context, systemID int64, year int, metric, stat string) ([]float64, error)
}

// Freshness tells a host's state (console.StatusOnline, StatusStale or StatusOffline) from when it was last
// seen (zero: never), the time now and its collection interval (0: unknown); server.Freshness implements it.
type Freshness interface {
	Status(lastSeen, now time.Time, interval time.Duration) string
}

// Data is the console's view of the store. It is safe for concurrent use.
type Data struct {
	st    Store
	fresh Freshness
	now   func() time.Time
}

// New returns a Data over st that judges host states with fresh at the time now returns (nil: time.Now).
func New(st Store, fresh Freshness, now func() time.Time) *Data {
	if now == nil {
		now = time.Now
	}
	return &Data{st: st, fresh: fresh, now: now}
}

var _ console.Data = (*Data)(nil)

func visible(s console.Scope, deptID int64) bool {
	return s.All || (s.DepartmentID != 0 && s.DepartmentID == deptID)
}

// IsDemo implements console.Data.
func (d *Data) IsDemo(ctx context.Context) bool { return d.st.IsDemo(ctx) }

// deptIDs maps department names (unique in the store) to ids.
func (d *Data) deptIDs(ctx context.Context) (map[string]int64, error) {
	deps, err := d.st.Departments(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(deps))
	for _, dep := range deps {
		out[dep.Name] = dep.ID
	}
	return out, nil
}

// hostRow turns a store host into the console's row, judging its state at now.
func (d *Data) hostRow(h store.HostSummary, now time.Time) console.HostRow {
	row := console.HostRow{ID: h.ID, Hostname: h.Hostname, LastSeen: h.LastSeen}
	var interval time.Duration
	if l := h.Latest; l != nil {
		if l.IntervalSeconds > 0 {
			interval = time.Duration(l.IntervalSeconds * float64(time.Second))
		}
		if l.CPU != nil {
			row.CPU = ptr(l.CPU.BusyPct)
		}
		if l.Memory != nil {
			row.Mem = ptr(l.Memory.UsedPct)
		}
		row.Disk, row.DiskMount = fullest(l.FS)
	}
	if row.Hostname == "" && h.Facts != nil {
		row.Hostname = h.Facts.Hostname
	}
	row.Status = d.fresh.Status(h.LastSeen, now, interval)
	return row
}

// fullest returns the used percent and mount of the fullest filesystem, nil and "" when there is none.
func fullest(fs []wire.Filesystem) (*float64, string) {
	var best *wire.Filesystem
	for i := range fs {
		if best == nil || fs[i].UsedPct > best.UsedPct {
			best = &fs[i]
		}
	}
	if best == nil {
		return nil, ""
	}
	return ptr(best.UsedPct), best.Mount
}

func ptr[T any](v T) *T { return &v }

// Overview implements console.Data: every department in scope with all its systems (those without hosts
// too) and their hosts.
func (d *Data) Overview(ctx context.Context, s console.Scope) ([]console.DeptRow, error) {
	if !s.All && s.DepartmentID == 0 {
		return nil, nil
	}
	deps, err := d.st.Departments(ctx)
	if err != nil {
		return nil, fmt.Errorf("overview: %w", err)
	}
	systems, err := d.st.Systems(ctx)
	if err != nil {
		return nil, fmt.Errorf("overview: %w", err)
	}
	hosts, err := d.st.Hosts(ctx)
	if err != nil {
		return nil, fmt.Errorf("overview: %w", err)
	}
	now := d.now()
	byName := map[string]int{} // department name -> index in out
	var out []console.DeptRow
	for _, dep := range deps {
		if visible(s, dep.ID) {
			byName[dep.Name] = len(out)
			out = append(out, console.DeptRow{ID: dep.ID, Name: dep.Name})
		}
	}
	type pos struct{ dept, sys int }
	sysPos := map[int64]pos{}
	for _, sy := range systems {
		di, ok := byName[sy.Department]
		if !ok {
			continue
		}
		sysPos[sy.ID] = pos{di, len(out[di].Systems)}
		out[di].Systems = append(out[di].Systems, console.SystemRow{ID: sy.ID, Name: sy.Name})
	}
	for _, h := range hosts {
		p, ok := sysPos[h.SystemID]
		if !ok {
			continue
		}
		sys := &out[p.dept].Systems[p.sys]
		sys.Hosts = append(sys.Hosts, d.hostRow(h, now))
	}
	return out, nil
}

// system returns the store's system id with its department id, or an error wrapping console.ErrNotFound
// when it does not exist or lies outside s.
func (d *Data) system(ctx context.Context, s console.Scope, id int64) (store.SystemSummary, int64, error) {
	notFound := fmt.Errorf("system %d: %w", id, console.ErrNotFound)
	if !s.All && s.DepartmentID == 0 {
		return store.SystemSummary{}, 0, notFound
	}
	systems, err := d.st.Systems(ctx)
	if err != nil {
		return store.SystemSummary{}, 0, fmt.Errorf("system %d: %w", id, err)
	}
	for _, sy := range systems {
		if sy.ID != id {
			continue
		}
		ids, err := d.deptIDs(ctx)
		if err != nil {
			return store.SystemSummary{}, 0, fmt.Errorf("system %d: %w", id, err)
		}
		deptID := ids[sy.Department]
		if !visible(s, deptID) {
			return store.SystemSummary{}, 0, notFound
		}
		return sy, deptID, nil
	}
	return store.SystemSummary{}, 0, notFound
}

// System implements console.Data.
func (d *Data) System(ctx context.Context, s console.Scope, id int64) (console.SystemDetail, error) {
	sy, deptID, err := d.system(ctx, s, id)
	if err != nil {
		return console.SystemDetail{}, err
	}
	hosts, err := d.st.Hosts(ctx)
	if err != nil {
		return console.SystemDetail{}, fmt.Errorf("system %d: %w", id, err)
	}
	out := console.SystemDetail{ID: sy.ID, Name: sy.Name, DepartmentID: deptID, Department: sy.Department}
	now := d.now()
	for _, h := range hosts {
		if h.SystemID == id {
			out.Hosts = append(out.Hosts, d.hostRow(h, now))
		}
	}
	return out, nil
}

// host returns the store's host with its department id, or an error wrapping console.ErrNotFound when it
// does not exist or lies outside s.
func (d *Data) host(ctx context.Context, s console.Scope, id int64) (store.HostSummary, int64, error) {
	notFound := fmt.Errorf("host %d: %w", id, console.ErrNotFound)
	if !s.All && s.DepartmentID == 0 {
		return store.HostSummary{}, 0, notFound
	}
	h, err := d.st.Host(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.HostSummary{}, 0, notFound
	}
	if err != nil {
		return store.HostSummary{}, 0, fmt.Errorf("host %d: %w", id, err)
	}
	ids, err := d.deptIDs(ctx)
	if err != nil {
		return store.HostSummary{}, 0, fmt.Errorf("host %d: %w", id, err)
	}
	deptID := ids[h.Department]
	if !visible(s, deptID) {
		return store.HostSummary{}, 0, notFound
	}
	return h, deptID, nil
}

// Host implements console.Data.
func (d *Data) Host(ctx context.Context, s console.Scope, id int64) (console.HostDetail, error) {
	h, deptID, err := d.host(ctx, s, id)
	if err != nil {
		return console.HostDetail{}, err
	}
	out := console.HostDetail{
		HostRow:  d.hostRow(h, d.now()),
		SystemID: h.SystemID, System: h.System, DepartmentID: deptID, Department: h.Department,
		Facts: h.Facts, AgentID: h.AgentID, FirstSeen: h.FirstSeen, ClockSkew: h.ClockSkew, Dropped: h.Dropped,
	}
	health, err := d.st.AgentHealth(ctx, h.AgentID)
	if err != nil {
		return console.HostDetail{}, fmt.Errorf("host %d: %w", id, err)
	}
	if health.SpoolBytes != nil && *health.SpoolBytes >= 0 {
		out.SpoolBytes = ptr(uint64(*health.SpoolBytes))
	}
	return out, nil
}

var resolutions = map[string]store.Resolution{
	console.ResMinute: store.ResMinute,
	console.ResHour:   store.ResHour,
	console.ResDay:    store.ResDay,
}

// Series implements console.Data.
func (d *Data) Series(ctx context.Context, s console.Scope, hostID int64, metric, resolution string, from, to time.Time) (console.Series, error) {
	res, ok := resolutions[resolution]
	if !ok {
		return console.Series{}, fmt.Errorf("series: resolution %q: want 1m, 1h or 1d", resolution)
	}
	if _, _, err := d.host(ctx, s, hostID); err != nil {
		return console.Series{}, fmt.Errorf("series: %w", err)
	}
	ser, err := d.st.SeriesAt(ctx, hostID, metric, res, from, to)
	if errors.Is(err, store.ErrNotFound) { // the host went away between the two reads
		return console.Series{}, fmt.Errorf("series: host %d: %w", hostID, console.ErrNotFound)
	}
	if err != nil {
		return console.Series{}, err
	}
	out := console.Series{Resolution: resolution, Points: make([]console.Point, len(ser.Points))}
	for i, p := range ser.Points {
		out.Points[i] = console.Point{TS: p.TS, N: p.N, Min: p.Min, Avg: p.Avg, Max: p.Max, P95: p.P95}
	}
	return out, nil
}

// Matrix implements console.Data.
func (d *Data) Matrix(ctx context.Context, s console.Scope, year int, metric, stat string) (console.Matrix, error) {
	if !s.All && s.DepartmentID == 0 {
		if _, err := store.MatrixMetric(metric); err != nil {
			return console.Matrix{}, fmt.Errorf("matrix: %w", err)
		}
		return console.Matrix{Days: yearDays(year)}, nil
	}
	q := store.MatrixQuery{Year: year, Metric: metric, Stat: stat}
	if !s.All {
		q.DepartmentID = s.DepartmentID
	}
	m, err := d.st.Matrix(ctx, q)
	if err != nil {
		return console.Matrix{}, err
	}
	out := console.Matrix{Days: m.Days, Rows: make([]console.MatrixRow, len(m.Rows))}
	for i, r := range m.Rows {
		out.Rows[i] = console.MatrixRow{SystemID: r.SystemID, System: r.System, Department: r.Department, Values: r.Values}
	}
	return out, nil
}

// SystemYear implements console.Data.
func (d *Data) SystemYear(ctx context.Context, s console.Scope, systemID int64, year int, metric, stat string) (console.Matrix, error) {
	sy, _, err := d.system(ctx, s, systemID)
	if err != nil {
		return console.Matrix{}, fmt.Errorf("system year: %w", err)
	}
	vals, err := d.st.SystemYear(ctx, systemID, year, metric, stat)
	if errors.Is(err, store.ErrNotFound) {
		return console.Matrix{}, fmt.Errorf("system year: system %d: %w", systemID, console.ErrNotFound)
	}
	if err != nil {
		return console.Matrix{}, err
	}
	days := yearDays(year)
	if len(vals) != len(days) { // the store counts days in its own Location: align to China Standard Time
		aligned := make([]float64, len(days))
		for i := range aligned {
			aligned[i] = math.NaN()
			if i < len(vals) {
				aligned[i] = vals[i]
			}
		}
		vals = aligned
	}
	return console.Matrix{Days: days, Rows: []console.MatrixRow{{
		SystemID: sy.ID, System: sy.Name, Department: sy.Department, Values: vals}}}, nil
}

// yearDays returns the midnights (China Standard Time) of every day of year.
func yearDays(year int) []time.Time {
	var out []time.Time
	for t := time.Date(year, 1, 1, 0, 0, 0, 0, calendar.Shanghai); t.Year() == year; t = t.AddDate(0, 0, 1) {
		out = append(out, t)
	}
	return out
}

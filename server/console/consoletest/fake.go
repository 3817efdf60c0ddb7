// Package consoletest provides Fake, an in-memory console.Data holding a generated district, for handler tests,
// screenshots and browser tests of the console before (and besides) the real store.
package consoletest

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"sync"
	"time"

	"zhizhi/agent/wire"
	"zhizhi/collector/calendar"
	"zhizhi/server/console"
)

// Fake is a console.Data over a generated district. It filters by Scope like a real implementation and records
// every Scope it was given.
type Fake struct {
	Demo  bool
	Depts []console.DeptRow
	Hosts map[int64]console.HostDetail

	mu     sync.Mutex
	scopes []console.Scope
}

// Patterns of the generated systems, by system index modulo 6.
const (
	PatternSteady = iota
	PatternWorkday
	PatternIdle
	PatternOverloaded
	PatternGap // no data from day 100 to day 120 of every year
	PatternMonthEnd
)

func f64(v float64) *float64 { return &v }

// District returns a Fake with depts departments (ids 1..depts) of systemsPerDept systems (ids from 1) with
// hostsPerSystem hosts each (ids from 1), last seen relative to now. Host states and values cycle through
// every case (online, stale, offline, missing values) so pages show all of them.
func District(depts, systemsPerDept, hostsPerSystem int, now time.Time) *Fake {
	f := &Fake{Hosts: make(map[int64]console.HostDetail)}
	var sysID, hostID int64
	for d := 1; d <= depts; d++ {
		dept := console.DeptRow{ID: int64(d), Name: fmt.Sprintf("Dept %02d", d)}
		for s := 0; s < systemsPerDept; s++ {
			sysID++
			sys := console.SystemRow{ID: sysID, Name: fmt.Sprintf("System %03d", sysID)}
			for h := 0; h < hostsPerSystem; h++ {
				hostID++
				row := console.HostRow{ID: hostID, Hostname: fmt.Sprintf("host-%04d", hostID), DiskMount: "/data"}
				switch hostID % 7 {
				case 3:
					row.Status, row.LastSeen = console.StatusStale, now.Add(-8*time.Minute)
				case 5:
					row.Status, row.LastSeen = console.StatusOffline, now.Add(-26*time.Hour)
				default:
					row.Status, row.LastSeen = console.StatusOnline, now.Add(-30*time.Second)
				}
				if hostID%11 != 0 { // every 11th host has sent no sample yet
					base := float64((hostID*37)%90) + 2.5
					row.CPU, row.Mem, row.Disk = f64(base), f64(math.Mod(base*1.7, 95)), f64(math.Mod(base*2.3, 97))
				}
				sys.Hosts = append(sys.Hosts, row)
				spool := uint64(hostID * 4096)
				f.Hosts[hostID] = console.HostDetail{
					HostRow: row, SystemID: sysID, System: sys.Name, DepartmentID: dept.ID, Department: dept.Name,
					AgentID: fmt.Sprintf("agent-%04d", hostID), FirstSeen: now.AddDate(0, -6, 0),
					ClockSkew: time.Duration(hostID%5-2) * 3 * time.Second, Dropped: uint64(hostID % 3),
					SpoolBytes: &spool,
					Facts: &wire.HostFacts{Hostname: row.Hostname, OS: "linux", Platform: "kylin", PlatformVersion: "V10",
						Kernel: "4.19.90-52.22.v2207.ky10.x86_64", Arch: "x86_64", Virtualization: "kvm", VirtRole: "guest",
						CPUModel: "Hygon C86 7285", CPUCores: 8, MemTotalBytes: 16 << 30, BootTime: now.AddDate(0, 0, -40).Unix(),
						AgentVersion: "0.1.0"},
				}
			}
			dept.Systems = append(dept.Systems, sys)
		}
		f.Depts = append(f.Depts, dept)
	}
	return f
}

func (f *Fake) record(s console.Scope) {
	f.mu.Lock()
	f.scopes = append(f.scopes, s)
	f.mu.Unlock()
}

// Scopes returns the Scopes of every call so far and forgets them.
func (f *Fake) Scopes() []console.Scope {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.scopes
	f.scopes = nil
	return out
}

func visible(s console.Scope, deptID int64) bool {
	return s.All || (s.DepartmentID != 0 && s.DepartmentID == deptID)
}

// IsDemo implements console.Data.
func (f *Fake) IsDemo(context.Context) bool { return f.Demo }

// Overview implements console.Data.
func (f *Fake) Overview(_ context.Context, s console.Scope) ([]console.DeptRow, error) {
	f.record(s)
	var out []console.DeptRow
	for _, d := range f.Depts {
		if visible(s, d.ID) {
			out = append(out, d)
		}
	}
	return out, nil
}

// System implements console.Data.
func (f *Fake) System(_ context.Context, s console.Scope, id int64) (console.SystemDetail, error) {
	f.record(s)
	for _, d := range f.Depts {
		for _, sys := range d.Systems {
			if sys.ID == id && visible(s, d.ID) {
				return console.SystemDetail{ID: sys.ID, Name: sys.Name, DepartmentID: d.ID, Department: d.Name, Hosts: sys.Hosts}, nil
			}
		}
	}
	return console.SystemDetail{}, fmt.Errorf("system %d: %w", id, console.ErrNotFound)
}

// Host implements console.Data.
func (f *Fake) Host(_ context.Context, s console.Scope, id int64) (console.HostDetail, error) {
	f.record(s)
	h, ok := f.Hosts[id]
	if !ok || !visible(s, h.DepartmentID) {
		return console.HostDetail{}, fmt.Errorf("host %d: %w", id, console.ErrNotFound)
	}
	return h, nil
}

// Series implements console.Data: a daily wave around the host's latest CPU value.
func (f *Fake) Series(_ context.Context, s console.Scope, hostID int64, metric, res string, from, to time.Time) (console.Series, error) {
	f.record(s)
	h, ok := f.Hosts[hostID]
	if !ok || !visible(s, h.DepartmentID) {
		return console.Series{}, fmt.Errorf("host %d: %w", hostID, console.ErrNotFound)
	}
	step := map[string]time.Duration{console.ResMinute: time.Minute, console.ResHour: time.Hour, console.ResDay: 24 * time.Hour}[res]
	if step == 0 {
		return console.Series{}, fmt.Errorf("resolution %q", res)
	}
	base := 30.0
	if h.CPU != nil {
		base = *h.CPU
	}
	out := console.Series{Resolution: res}
	for t := from.Truncate(step); t.Before(to); t = t.Add(step) {
		hour := float64(t.In(calendar.Shanghai).Hour())
		v := math.Max(0, math.Min(100, base+15*math.Sin((hour-8)/24*2*math.Pi)))
		p95 := math.Min(100, v+4)
		out.Points = append(out.Points, console.Point{TS: t, N: 4, Min: math.Max(0, v-5), Avg: v, Max: math.Min(100, v+6), P95: &p95})
	}
	return out, nil
}

// DayValue is the generated daily value of system sysID on day (NaN for no data).
func DayValue(sysID int64, day time.Time) float64 {
	yd := day.In(calendar.Shanghai).YearDay()
	switch sysID % 6 {
	case PatternSteady:
		return 35 + float64(yd%7)
	case PatternWorkday:
		if calendar.IsWorkday(day) {
			return 62 + float64(sysID%10)
		}
		return 4
	case PatternIdle:
		return 1.25
	case PatternOverloaded:
		return 88.44
	case PatternGap:
		if yd >= 100 && yd <= 120 {
			return math.NaN()
		}
		return 40
	default: // month end
		if day.In(calendar.Shanghai).AddDate(0, 0, 3).Month() != day.In(calendar.Shanghai).Month() {
			return 91
		}
		return 8
	}
}

// YearDays returns the midnights (China Standard Time) of year.
func YearDays(year int) []time.Time {
	var days []time.Time
	for d := time.Date(year, 1, 1, 0, 0, 0, 0, calendar.Shanghai); d.Year() == year; d = d.AddDate(0, 0, 1) {
		days = append(days, d)
	}
	return days
}

// Matrix implements console.Data with DayValue.
func (f *Fake) Matrix(_ context.Context, s console.Scope, year int, metric, stat string) (console.Matrix, error) {
	f.record(s)
	m := console.Matrix{Days: YearDays(year)}
	for _, d := range f.Depts {
		if !visible(s, d.ID) {
			continue
		}
		for _, sys := range d.Systems {
			m.Rows = append(m.Rows, row(sys.ID, sys.Name, d.Name, m.Days))
		}
	}
	return m, nil
}

func row(id int64, name, dept string, days []time.Time) console.MatrixRow {
	r := console.MatrixRow{SystemID: id, System: name, Department: dept, Values: make([]float64, len(days))}
	for i, day := range days {
		r.Values[i] = DayValue(id, day)
	}
	return r
}

// SystemYear implements console.Data.
func (f *Fake) SystemYear(_ context.Context, s console.Scope, systemID int64, year int, metric, stat string) (console.Matrix, error) {
	f.record(s)
	for _, d := range f.Depts {
		for _, sys := range d.Systems {
			if sys.ID == systemID && visible(s, d.ID) {
				days := YearDays(year)
				return console.Matrix{Days: days, Rows: []console.MatrixRow{row(sys.ID, sys.Name, d.Name, days)}}, nil
			}
		}
	}
	return console.Matrix{}, fmt.Errorf("system %d: %w", systemID, console.ErrNotFound)
}

var _ console.Data = (*Fake)(nil)

// Handler serves every route of a console over f (for screenshots and browser tests): pc tells who asks.
func Handler(f *Fake, pc func(*http.Request) console.PageContext, now func() time.Time) http.Handler {
	c := console.New(f, pc, nil).WithClock(now)
	mux := http.NewServeMux()
	for _, rt := range c.Routes() {
		mux.Handle(rt.Method+" "+rt.Pattern, rt.Handler)
	}
	mux.HandleFunc("/", c.NotFound)
	return mux
}

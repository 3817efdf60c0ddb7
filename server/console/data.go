package console

import (
	"context"
	"errors"
	"time"

	"zhizhi/agent/wire"
)

// ErrNotFound is returned (wrapped) by a Data implementation for an id that does not exist or lies outside the
// caller's Scope; the console answers it with a 404 page and never tells the two cases apart.
var ErrNotFound = errors.New("not found")

// Scope limits what a caller may see. The zero value sees nothing: bureau users get All, a department's officer
// gets DepartmentID. Every Data call receives the caller's Scope and must filter by it.
type Scope struct {
	All          bool
	DepartmentID int64
}

// Host states as Data reports them (see server.Freshness).
const (
	StatusOnline  = "online"
	StatusStale   = "stale"
	StatusOffline = "offline"
)

// Series metric names the console asks Data for.
const (
	MetricCPU  = wire.MetricCPUBusyPct
	MetricMem  = wire.MetricMemUsedPct
	MetricDisk = wire.MetricFSMaxUsedPct
)

// Rollup resolutions the console asks Data for.
const (
	ResMinute = "1m"
	ResHour   = "1h"
	ResDay    = "1d"
)

// Daily statistics of the annual heatmaps.
const (
	StatP95 = "p95"
	StatAvg = "avg"
)

// Data is everything the console reads. Implementations filter every answer by the Scope they receive and
// return errors wrapping ErrNotFound for unknown or out-of-scope ids.
type Data interface {
	// IsDemo reports whether the store holds the simulated demo district.
	IsDemo(ctx context.Context) bool
	// Overview returns the departments in scope with their systems and hosts, each host with its latest values.
	// Order does not matter: the console sorts.
	Overview(ctx context.Context, s Scope) ([]DeptRow, error)
	// System returns one system with its hosts.
	System(ctx context.Context, s Scope, id int64) (SystemDetail, error)
	// Host returns one host with its facts and agent health.
	Host(ctx context.Context, s Scope, id int64) (HostDetail, error)
	// Series returns metric of host hostID over [from, to) at resolution ResMinute, ResHour or ResDay.
	Series(ctx context.Context, s Scope, hostID int64, metric, resolution string, from, to time.Time) (Series, error)
	// Matrix returns one row per system in scope (grouped by department) and one value per day of year: the
	// daily stat (StatP95 or StatAvg) of metric (MetricCPU, MetricMem or MetricDisk) over the system's hosts;
	// NaN where there is no data. Days are midnights in China Standard Time.
	Matrix(ctx context.Context, s Scope, year int, metric, stat string) (Matrix, error)
	// SystemYear is Matrix for the one system systemID: exactly one row.
	SystemYear(ctx context.Context, s Scope, systemID int64, year int, metric, stat string) (Matrix, error)
}

// DeptRow is a department with its systems.
type DeptRow struct {
	ID      int64
	Name    string
	Systems []SystemRow
}

// SystemRow is a system with its hosts.
type SystemRow struct {
	ID    int64
	Name  string
	Hosts []HostRow
}

// HostRow is a host with its state and latest values (percent, nil when unknown).
type HostRow struct {
	ID       int64
	Hostname string
	Status   string // StatusOnline, StatusStale or StatusOffline
	LastSeen time.Time
	CPU, Mem *float64
	// Disk is the used percent of the fullest filesystem, DiskMount its mount point.
	Disk      *float64
	DiskMount string
}

// SystemDetail is a system with its department and hosts.
type SystemDetail struct {
	ID           int64
	Name         string
	DepartmentID int64
	Department   string
	Hosts        []HostRow
}

// HostDetail is a host with its facts and the health of its agent.
type HostDetail struct {
	HostRow
	SystemID     int64
	System       string
	DepartmentID int64
	Department   string
	Facts        *wire.HostFacts // nil until the agent sent them
	AgentID      string
	FirstSeen    time.Time
	ClockSkew    time.Duration // agent clock minus server clock at the last batch
	Dropped      uint64        // samples the agent dropped, as it last reported
	// SpoolBytes is the size of the agent's local spool, nil when the agent does not report it.
	SpoolBytes *uint64
}

// Series is one metric of one host.
type Series struct {
	Resolution string
	Points     []Point
}

// Point is one rollup bucket.
type Point struct {
	TS            time.Time
	N             int64
	Min, Avg, Max float64
	P95           *float64
}

// Matrix is the district heatmap: Rows × Days.
type Matrix struct {
	Days []time.Time
	Rows []MatrixRow
}

// MatrixRow is one system's daily values, len(Values) == len(Days), NaN for no data.
type MatrixRow struct {
	SystemID           int64
	System, Department string
	Values             []float64
}

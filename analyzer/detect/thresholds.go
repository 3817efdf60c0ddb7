package detect

import (
	"errors"
	"math"
	"strconv"
)

// Thresholds are the configurable limits of detection. DefaultThresholds returns the documented defaults;
// docs/analyzer.md has the same table. Comparisons are exactly as written on each field ("<" is strict, "≥"
// inclusive), so a value exactly at a threshold falls on the documented side.
//
// Anchors for the defaults:
//   - AWS Trusted Advisor "low utilization EC2": daily CPU ≤ 10% and network I/O ≤ 5 MB on ≥ 4 of the last 14 days.
//   - Azure Advisor shutdown recommendation: P95 CPU < 3% and outbound network < 2% over 7 days.
//   - Google Cloud idle VM recommender: < 0.03 vCPU used 97% of the time (over 14 days).
//   - Koomey & Taylor (2015, 2017): "comatose" servers deliver no useful work for 6 months or more; 25–30% of
//     enterprise servers were found comatose.
type Thresholds struct {
	// MinDayCoverage: a day with Coverage < this is a gap (neither idle nor active). Default 0.8.
	MinDayCoverage float64
	// MinWindowCoverage: a window whose mean coverage is < this gives "insufficient data", never idle. Default 0.8.
	MinWindowCoverage float64
	// HighConfidenceCoverage: coverage ≥ this is needed for high confidence. Default 0.95.
	HighConfidenceCoverage float64

	// A day is idle when every measured signal is under its limit (memory is never consulted):
	// daily P95 CPU < IdleCPUP95 (default 5%; between Azure's 3% and AWS's 10%);
	IdleCPUP95 float64
	// NetBytes − AgentNetBytes < IdleNetBytes (default 5 MB = 5,000,000 bytes, AWS's 5 MB);
	IdleNetBytes float64
	// NewInbound ≤ IdleNewInbound (default 0: no new inbound connection to a service port);
	IdleNewInbound float64
	// Sessions ≤ IdleSessions (default 0: nobody logged in);
	IdleSessions float64
	// DiskWriteBytes < IdleDiskWriteBytes (default 50 MB = 50,000,000 bytes: logs and housekeeping only).
	IdleDiskWriteBytes float64

	// Watch: ≥ WatchDays idle days in the last WatchWindow days. Default 4 of 14 (AWS Trusted Advisor).
	WatchDays, WatchWindow int
	// Idle candidate: ≥ CandidateDays idle days in the last CandidateWindow days. Default 27 of 30 (90%, in the
	// spirit of GCP's 97%-of-the-time rule at day granularity).
	CandidateDays, CandidateWindow int
	// Zombie: current idle run ≥ ZombieRunDays idle days (default 90) and not seasonal.
	ZombieRunDays int
	// Comatose: current idle run ≥ ComatoseRunDays idle days (default 180: Koomey & Taylor's 6 months) and not seasonal.
	ComatoseRunDays int
	// MaxBridgeGapDays: an idle run continues across a gap of at most this many consecutive days (gap days are
	// not counted as idle); a longer gap ends it. Default 2 (a weekend of agent trouble).
	MaxBridgeGapDays int

	// Seasonality: for an interval [s, e] under judgement (the current run for zombie/comatose, the last
	// CandidateWindow days for idle-candidate), the prior-year window is [s−365−slack, e−365+slack] and its core
	// is [s−365, e−365]. The interval is "seasonal" (downgraded to watch with reason seasonal-idle) when
	// its span is < 365 + slack days, the prior-year window has at least one active day, and the core's covered
	// days were ≥ SeasonalMinPriorIdleShare idle (or the core has no data): idleness is normal at this time of
	// year. A host that was busy all through the core simply stopped being used: a change, not a season. A
	// window with no data at all (first year of monitoring) spares nothing: the run alone decides.
	// SeasonalSlackDays default 31 (with 365 days this is the "previous 13 months"); SeasonalMinPriorIdleShare
	// default 0.8.
	SeasonalSlackDays         int
	SeasonalMinPriorIdleShare float64

	// Underused: Window.CPUP95 < UnderusedCPUP95 (default 20%) and Window.MemP99 < UnderusedMemP99 (default 40%)
	// with Window.Coverage ≥ MinWindowCoverage.
	UnderusedCPUP95, UnderusedMemP99 float64
	// Right-sizing targets: an underused host needs ceil(VCPU × CPUP95 / TargetCPUP95) vCPU (at least 1) and
	// ceil(MemGiB × MemP99 / TargetMemP99) GiB (at least 1), and frees the rest; an overloaded one needs the
	// same formulas minus what it has. Defaults 60% and 70%.
	TargetCPUP95, TargetMemP99 float64

	// Overloaded: ≥ HotDays of the last HotWindow days with daily P95 CPU > HotCPUP95 (default 7 of 14, 80%),
	HotCPUP95          float64
	HotDays, HotWindow int
	// or Window.MemP99 > HotMemP99 (default 90%),
	HotMemP99 float64
	// or the fullest filesystem's FSMaxUsedPct > DiskUsedPct (default 85%),
	DiskUsedPct float64
	// or a least-squares fit of FSUsedBytes over the last DiskFitWindow days (default 30, needing at least
	// DiskFitMinDays points, default 7) reaches FSTotalBytes within DiskFullHorizonDays (default 30) of now's day.
	DiskFitWindow, DiskFitMinDays, DiskFullHorizonDays int
	// DiskTargetPct: the used percent an expansion should bring the disk back to (default 70%).
	DiskTargetPct float64
}

// DefaultThresholds returns the documented defaults.
func DefaultThresholds() Thresholds {
	return Thresholds{
		MinDayCoverage:            0.8,
		MinWindowCoverage:         0.8,
		HighConfidenceCoverage:    0.95,
		IdleCPUP95:                5,
		IdleNetBytes:              5e6,
		IdleNewInbound:            0,
		IdleSessions:              0,
		IdleDiskWriteBytes:        50e6,
		WatchDays:                 4,
		WatchWindow:               14,
		CandidateDays:             27,
		CandidateWindow:           30,
		ZombieRunDays:             90,
		ComatoseRunDays:           180,
		MaxBridgeGapDays:          2,
		SeasonalSlackDays:         31,
		SeasonalMinPriorIdleShare: 0.8,
		UnderusedCPUP95:           20,
		UnderusedMemP99:           40,
		TargetCPUP95:              60,
		TargetMemP99:              70,
		HotCPUP95:                 80,
		HotDays:                   7,
		HotWindow:                 14,
		HotMemP99:                 90,
		DiskUsedPct:               85,
		DiskFitWindow:             30,
		DiskFitMinDays:            7,
		DiskFullHorizonDays:       30,
		DiskTargetPct:             70,
	}
}

// Validate reports every out-of-range field, each error naming the field (errors.As to *FieldError).
func (t Thresholds) Validate() error {
	var errs []error
	frac := func(name string, v float64, zeroOK bool) {
		if math.IsNaN(v) || v < 0 || v > 1 || (!zeroOK && v == 0) {
			errs = append(errs, &FieldError{Field: name, Msg: "must be in (0,1]"})
		}
	}
	pct := func(name string, v float64) {
		if math.IsNaN(v) || v <= 0 || v > 100 {
			errs = append(errs, &FieldError{Field: name, Msg: "must be a percent in (0,100]"})
		}
	}
	nonNeg := func(name string, v float64) {
		if math.IsNaN(v) || v < 0 {
			errs = append(errs, &FieldError{Field: name, Msg: "must be ≥ 0"})
		}
	}
	days := func(name string, v, max int) {
		if v < 1 || v > max {
			errs = append(errs, &FieldError{Field: name, Msg: "must be between 1 and " + strconv.Itoa(max) + " days"})
		}
	}
	frac("MinDayCoverage", t.MinDayCoverage, false)
	frac("MinWindowCoverage", t.MinWindowCoverage, false)
	frac("HighConfidenceCoverage", t.HighConfidenceCoverage, false)
	frac("SeasonalMinPriorIdleShare", t.SeasonalMinPriorIdleShare, true)
	pct("IdleCPUP95", t.IdleCPUP95)
	nonNeg("IdleNetBytes", t.IdleNetBytes)
	nonNeg("IdleNewInbound", t.IdleNewInbound)
	nonNeg("IdleSessions", t.IdleSessions)
	nonNeg("IdleDiskWriteBytes", t.IdleDiskWriteBytes)
	days("WatchWindow", t.WatchWindow, 366)
	days("WatchDays", t.WatchDays, max(t.WatchWindow, 1))
	days("CandidateWindow", t.CandidateWindow, 366)
	days("CandidateDays", t.CandidateDays, max(t.CandidateWindow, 1))
	days("ZombieRunDays", t.ZombieRunDays, 3660)
	days("ComatoseRunDays", t.ComatoseRunDays, 3660)
	if t.MaxBridgeGapDays < 0 || t.MaxBridgeGapDays > 31 {
		errs = append(errs, &FieldError{Field: "MaxBridgeGapDays", Msg: "must be between 0 and 31"})
	}
	if t.SeasonalSlackDays < 0 || t.SeasonalSlackDays > 92 {
		errs = append(errs, &FieldError{Field: "SeasonalSlackDays", Msg: "must be between 0 and 92"})
	}
	pct("UnderusedCPUP95", t.UnderusedCPUP95)
	pct("UnderusedMemP99", t.UnderusedMemP99)
	pct("TargetCPUP95", t.TargetCPUP95)
	pct("TargetMemP99", t.TargetMemP99)
	pct("HotCPUP95", t.HotCPUP95)
	days("HotWindow", t.HotWindow, 366)
	days("HotDays", t.HotDays, max(t.HotWindow, 1))
	pct("HotMemP99", t.HotMemP99)
	pct("DiskUsedPct", t.DiskUsedPct)
	days("DiskFitWindow", t.DiskFitWindow, 366)
	if t.DiskFitMinDays < 2 || t.DiskFitMinDays > max(t.DiskFitWindow, 2) {
		errs = append(errs, &FieldError{Field: "DiskFitMinDays", Msg: "must be between 2 and DiskFitWindow"})
	}
	days("DiskFullHorizonDays", t.DiskFullHorizonDays, 3660)
	pct("DiskTargetPct", t.DiskTargetPct)
	return errors.Join(errs...)
}

// FieldError is a validation error naming the offending field.
type FieldError struct {
	Field string
	Msg   string
}

// Error implements error.
func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

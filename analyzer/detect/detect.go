// Package detect finds idle (zombie), underused and overloaded hosts and systems from daily rollups, as pure functions of the series, the exceptions, the thresholds and the evaluation time.
package detect

import (
	"time"
)

// Location is the civil time zone of day boundaries (Asia/Shanghai, UTC+8, no daylight saving since 1991).
// It is a fixed zone so evaluation does not depend on the host's tzdata.
var Location = time.FixedZone("Asia/Shanghai", 8*60*60)

// Day is one host's rollup for one civil day. Float fields may be NaN to mean "not measured that day"
// (for example sessions on an OS where the agent cannot count them): a NaN activity signal can neither make
// the day active nor idle and lowers the confidence of idle findings; a NaN CPUP95 makes the day a gap.
type Day struct {
	// Date is the day's local midnight in Asia/Shanghai; only its civil date (in Location) is used.
	Date time.Time
	// Coverage is the fraction (0..1) of expected samples present that day. Below Thresholds.MinDayCoverage
	// the day is a gap: neither idle nor active.
	Coverage float64
	// CPUP95, CPUAvg, CPUMax are the day's CPU busy percent (P95, mean, max over samples).
	CPUP95, CPUAvg, CPUMax float64
	// MemP95, MemMax are memory used percent. Memory never makes a day active.
	MemP95, MemMax float64
	// NetBytes is rx+tx bytes over the day on all non-loopback interfaces.
	NetBytes float64
	// AgentNetBytes is the agent's own traffic that day (sample delivery); it is subtracted from NetBytes.
	AgentNetBytes float64
	// NewInbound is the number of new inbound connections to listening (service) ports.
	NewInbound float64
	// Sessions is the maximum number of logged-in sessions seen that day.
	Sessions float64
	// DiskWriteBytes is bytes written to block devices over the day.
	DiskWriteBytes float64
	// FSMaxUsedPct is the used percent of the fullest filesystem at the end of the day.
	FSMaxUsedPct float64
	// FSUsedBytes and FSTotalBytes are used and total bytes of the filesystem the trend fit watches. The caller
	// should report the same mount every day (the fullest one on the latest day); if it cannot, totals over all
	// local filesystems are acceptable but may hide one mount filling up.
	FSUsedBytes, FSTotalBytes float64
}

// Window holds aggregates over the last 30 complete days that the caller computes from mergeable sketches
// (a per-day quantile sketch merged over the 30 days, not an average of daily percentiles):
//   - CPUP95: the 95th percentile of all CPU busy samples of the 30 days;
//   - MemP99: the 99th percentile of all memory used percent samples of the 30 days;
//   - Coverage: samples present / samples expected over the 30 days (0..1; 0 if not computed).
//
// The 30 days are the same as the detector's: the 30 civil days ending the day before now.
type Window struct {
	CPUP95, MemP99 float64
	Coverage       float64
}

// HostInput is everything detection needs about one host.
type HostInput struct {
	HostID                   int64
	Host, System, Department string
	VCPU                     int
	MemBytes, DiskBytes      uint64
	// Days may be in any order; days on or after the evaluation day are ignored (incomplete); a missing day
	// is a gap, never idle. Two entries for the same civil date are an error.
	Days   []Day
	Window Window
}

// Kind is what a finding says about a host or system.
type Kind string

// Finding kinds.
const (
	KindOK               Kind = "ok"
	KindWatch            Kind = "watch"
	KindIdleCandidate    Kind = "idle-candidate"
	KindZombie           Kind = "zombie"
	KindComatose         Kind = "comatose"
	KindUnderused        Kind = "underused"
	KindOverloaded       Kind = "overloaded"
	KindInsufficientData Kind = "insufficient-data"
)

// idleRank orders the idle-class kinds; other kinds rank 0.
func (k Kind) idleRank() int {
	switch k {
	case KindWatch:
		return 1
	case KindIdleCandidate:
		return 2
	case KindZombie:
		return 3
	case KindComatose:
		return 4
	}
	return 0
}

// IsIdle reports whether k is one of watch, idle-candidate, zombie, comatose.
func (k Kind) IsIdle() bool { return k.idleRank() > 0 }

// severity orders kinds for picking a primary finding.
func (k Kind) severity() int {
	switch k {
	case KindOverloaded:
		return 7
	case KindComatose:
		return 6
	case KindZombie:
		return 5
	case KindIdleCandidate:
		return 4
	case KindUnderused:
		return 3
	case KindWatch:
		return 2
	case KindInsufficientData:
		return 1
	}
	return 0
}

// Status says whether a finding is open or covered by a live exception.
type Status string

// Finding statuses.
const (
	StatusOpen     Status = "open"
	StatusExcepted Status = "excepted"
)

// Confidence grades a finding; see Finding.Confidence for the rules.
type Confidence string

// Confidence levels.
const (
	ConfidenceHigh   Confidence = "high"
	ConfidenceMedium Confidence = "medium"
	ConfidenceLow    Confidence = "low"
)

// Reason is a machine code explaining a finding; the narrative layer turns codes into prose.
type Reason string

// Reason codes.
const (
	ReasonIdleDays14        Reason = "idle-days-14"            // ≥ WatchDays idle days in the last WatchWindow days
	ReasonIdleDays30        Reason = "idle-days-30"            // ≥ CandidateDays idle days in the last CandidateWindow days
	ReasonIdleRun           Reason = "idle-run"                // current idle run ≥ ZombieRunDays idle days
	ReasonIdleRunComatose   Reason = "idle-run-comatose"       // current idle run ≥ ComatoseRunDays idle days
	ReasonSeasonalIdle      Reason = "seasonal-idle"           // same calendar window a year earlier had activity: downgraded to watch
	ReasonNoPriorYearData   Reason = "prior-year-no-data"      // no data a year earlier: judged on the run alone
	ReasonLowCoverage       Reason = "low-coverage"            // window coverage below MinWindowCoverage
	ReasonSignalsUnmeasured Reason = "signals-unmeasured"      // some activity signal was not measured in the window
	ReasonCPUHotDays        Reason = "cpu-hot-days"            // ≥ HotDays days with daily P95 CPU > HotCPUP95
	ReasonMemHigh           Reason = "mem-p99-high"            // Window.MemP99 > HotMemP99
	ReasonDiskUsed          Reason = "disk-used-high"          // fullest filesystem > DiskUsedPct
	ReasonDiskProjectedFull Reason = "disk-projected-full"     // trend fit reaches FSTotalBytes within DiskFullHorizonDays
	ReasonLowCPUMem         Reason = "low-cpu-and-mem"         // Window.CPUP95 < UnderusedCPUP95 and Window.MemP99 < UnderusedMemP99
	ReasonHostsInsufficient Reason = "hosts-insufficient-data" // system level: a host lacks data while the others are idle
)

// Signal names an activity signal of the idle test.
type Signal string

// Activity signals.
const (
	SignalCPU        Signal = "cpu"
	SignalNetwork    Signal = "network"
	SignalInbound    Signal = "inbound"
	SignalSessions   Signal = "sessions"
	SignalDiskWrites Signal = "disk-writes"
)

// SignalCounts counts, per signal, the active days on which that signal exceeded its idle threshold.
type SignalCounts struct {
	CPU, Network, Inbound, Sessions, DiskWrites int
}

// Run is a stretch of idle days. Gaps of at most Thresholds.MaxBridgeGapDays consecutive days inside the run
// are bridged (the run continues) but not counted as idle; a longer gap or an active day ends the run.
type Run struct {
	Start, End time.Time // first and last idle day; zero when there is no run
	IdleDays   int       // idle days in the run (what the run-length rules compare)
	GapDays    int       // bridged gap days inside the run
	SpanDays   int       // End − Start + 1
}

// DiskTrend is a least-squares fit of FSUsedBytes over the last DiskFitWindow days.
type DiskTrend struct {
	Points           int
	SlopeBytesPerDay float64
	R2               float64
	TotalBytes       float64   // FSTotalBytes of the latest point
	UsedBytes        float64   // FSUsedBytes of the latest point
	ProjectedFull    time.Time // day the fit reaches TotalBytes; zero when the slope is not positive
}

// PriorYear describes the same calendar window one year (365 days) earlier, used to spare seasonal systems.
type PriorYear struct {
	Start, End      time.Time // [run start − 365 − slack, run end − 365 + slack]
	CoveredDays     int       // days with data in that window
	ActiveDays      int
	CoreCoveredDays int // days with data in [start − 365, end − 365]
	CoreIdleDays    int
	NoData          bool // no covered day at all in the window
	Seasonal        bool // see Thresholds.SeasonalSlackDays
}

// ScheduleEvidence reports how a scheduled-batch host behaved on its scheduled days of the evidence window.
type ScheduleEvidence struct {
	ScheduledDays int // scheduled days with data
	ActiveDays    int // of which active
}

// Evidence holds the numbers behind a finding.
type Evidence struct {
	// The finding's evidence window (inclusive civil days) and what it held.
	WindowStart, WindowEnd time.Time
	WindowDays             int
	CoveredDays            int     // days that were not gaps
	IdleDays, ActiveDays   int     // in the window
	Coverage               float64 // mean Day.Coverage over the window, absent days counting 0
	ActiveBy               SignalCounts
	Unmeasured             []Signal // activity signals missing (NaN) on some covered day of the window

	IdleDays14, IdleDays30 int // idle days in the last WatchWindow / CandidateWindow days
	Coverage14, Coverage30 float64
	CurrentRun             Run // the idle run ending at most MaxBridgeGapDays before now's day
	LongestRun             Run
	LastActiveDay          time.Time // zero if no active day in the data

	WindowCPUP95, WindowMemP99, WindowCoverage float64 // the caller's Window

	HotDays        int     // days in the last HotWindow days with daily P95 CPU > HotCPUP95
	MaxDailyCPUP95 float64 // over the last HotWindow days
	DiskUsedPct    float64 // latest FSMaxUsedPct within the last DiskFitWindow days (0 with a zero DiskUsedDay if none); no NaN ever reaches Evidence, so it encodes as JSON
	DiskUsedDay    time.Time
	DiskTrend      *DiskTrend
	PriorYear      *PriorYear
	Schedule       *ScheduleEvidence

	Thresholds Thresholds // the thresholds applied
}

// Resources is an amount of capacity: what a finding would free, or what an expansion needs.
type Resources struct {
	VCPU      float64
	MemGiB    float64 // GiB (2^30 bytes)
	StorageTB float64 // TB (10^12 bytes)
}

// Finding is one conclusion about a host (or, in SystemFinding, a system).
//
// Confidence rules:
//   - Idle-class findings (watch, idle-candidate, zombie, comatose): the five activity signals are CPU, network,
//     new inbound connections, sessions and disk writes. They "all agree" when each of them was measured (not
//     NaN) on every covered day of the evidence window: a day counts idle only when every measured signal is
//     idle, so a measured signal agrees by construction and a disagreement can only hide in an unmeasured one.
//     High: all five agree and window coverage ≥ HighConfidenceCoverage (95%). Medium: CPU and network were
//     measured on every covered day (they agree). Low: otherwise.
//   - Underused: high when Window.Coverage ≥ 95%, medium otherwise (it needs ≥ MinWindowCoverage to exist).
//   - Overloaded: high when 30-day coverage ≥ 95% and at least one direct trigger fired (hot CPU days, memory
//     P99, disk used); medium when coverage ≥ MinWindowCoverage or the disk is over its limit now; low
//     otherwise (for example a projection alone on thin data).
//   - Insufficient-data: low. OK: high or medium by 30-day coverage like underused.
type Finding struct {
	Kind       Kind
	Status     Status
	Reasons    []Reason
	Evidence   Evidence
	Confidence Confidence
	// Frees is what acting on the finding would free: the whole host for idle-candidate, zombie and comatose;
	// a right-sizing estimate for underused (see Thresholds.TargetCPUP95). Nil otherwise.
	Frees *Resources
	// Needs is the capacity an overloaded host would need added (see Thresholds.TargetCPUP95). Nil otherwise.
	Needs *Resources
	// Exception is the live exception that covers the finding when Status is excepted.
	Exception *Exception
}

// HostReport is the findings for one host. Findings is never empty: a host with nothing to report has one
// finding of kind ok (or insufficient-data).
type HostReport struct {
	HostID                   int64
	Host, System, Department string
	Findings                 []Finding
}

// Primary returns the most severe open finding, or the most severe finding when all are excepted.
func (r HostReport) Primary() Finding {
	best, bestOpen := -1, -1
	for i, f := range r.Findings {
		if best < 0 || f.Kind.severity() > r.Findings[best].Kind.severity() {
			best = i
		}
		if f.Status == StatusOpen && (bestOpen < 0 || f.Kind.severity() > r.Findings[bestOpen].Kind.severity()) {
			bestOpen = i
		}
	}
	if bestOpen >= 0 {
		return r.Findings[bestOpen]
	}
	if best >= 0 {
		return r.Findings[best]
	}
	return Finding{Kind: KindOK, Status: StatusOpen}
}

// Find returns the host's finding of kind k, if any.
func (r HostReport) Find(k Kind) (Finding, bool) {
	for _, f := range r.Findings {
		if f.Kind == k {
			return f, true
		}
	}
	return Finding{}, false
}

// idleFinding returns the host's idle-class finding, if any.
func (r HostReport) idleFinding() (Finding, bool) {
	for _, f := range r.Findings {
		if f.Kind.IsIdle() {
			return f, true
		}
	}
	return Finding{}, false
}

// Report is the result of evaluating a fleet.
type Report struct {
	At         time.Time
	Thresholds Thresholds
	Hosts      []HostReport
	Systems    []SystemReport
}

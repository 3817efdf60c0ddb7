package detect

import (
	"errors"
	"fmt"
	"math"
	"time"
)

const (
	gib = 1 << 30
	tb  = 1e12
)

// EvaluateHost judges one host at now. Only days before now's civil day (in Location) are used. Exceptions
// that apply to the host are validated; an invalid one is an error naming its index and field.
//
// Per host it returns at most one idle-class finding (comatose > zombie > idle-candidate > watch, seasonal
// ones downgraded to watch), an underused finding (only when the idle-class finding is at most watch and the
// host is not overloaded: a host to shut down or expand is not one to consolidate), an overloaded finding,
// and insufficient-data when the 30-day coverage is under the gate and no idle-class finding could be made;
// when there is nothing else, one ok finding.
func EvaluateHost(h HostInput, exceptions []Exception, now time.Time, th Thresholds) (HostReport, error) {
	if err := th.Validate(); err != nil {
		return HostReport{}, fmt.Errorf("thresholds: %w", err)
	}
	for i := range exceptions {
		if !exceptions[i].appliesTo(&h) {
			continue
		}
		if err := exceptions[i].Validate(); err != nil {
			return HostReport{}, fmt.Errorf("exceptions[%d]: %w", i, err)
		}
	}
	return evaluateHost(&h, exceptions, now, &th)
}

func evaluateHost(h *HostInput, exceptions []Exception, now time.Time, th *Thresholds) (HostReport, error) {
	rep := HostReport{HostID: h.HostID, Host: h.Host, System: h.System, Department: h.Department}
	minSpan := max(th.WatchWindow, th.CandidateWindow, th.HotWindow, th.DiskFitWindow)
	tl, err := buildTimeline(h.Days, now, th, minSpan)
	if err != nil {
		return rep, fmt.Errorf("host %d (%s): %w", h.HostID, h.Host, err)
	}
	last := tl.last
	today := last + 1
	gate := th.MinWindowCoverage

	w14 := tl.stats(last-int64(th.WatchWindow)+1, last)
	w30 := tl.stats(last-int64(th.CandidateWindow)+1, last)
	cur := tl.currentRun(th.MaxBridgeGapDays)
	runStats := tl.stats(cur.start, cur.end)
	if cur.idle == 0 {
		runStats = winStats{}
	}

	base := Evidence{
		IdleDays14: w14.idle, IdleDays30: w30.idle,
		Coverage14: w14.coverage(), Coverage30: w30.coverage(),
		CurrentRun:   cur.export(),
		LongestRun:   tl.longestRun(th.MaxBridgeGapDays).export(),
		WindowCPUP95: h.Window.CPUP95, WindowMemP99: h.Window.MemP99, WindowCoverage: h.Window.Coverage,
		Thresholds: *th,
	}
	if n, ok := tl.lastActive(); ok {
		base.LastActiveDay = dayTime(n)
	}

	// Overload signals.
	hotLo := last - int64(th.HotWindow) + 1
	for n := hotLo; n <= last; n++ {
		if tl.at(n) == stGap {
			continue
		}
		p := tl.day(n).CPUP95
		base.MaxDailyCPUP95 = max(base.MaxDailyCPUP95, p)
		if p > th.HotCPUP95 {
			base.HotDays++
		}
	}
	fitLo := last - int64(th.DiskFitWindow) + 1
	for n := last; n >= fitLo; n-- {
		if d := tl.day(n); d != nil && !math.IsNaN(d.FSMaxUsedPct) && (d.FSMaxUsedPct > 0 || d.FSTotalBytes > 0) {
			base.DiskUsedPct, base.DiskUsedDay = d.FSMaxUsedPct, dayTime(n)
			break
		}
	}
	base.DiskTrend = tl.diskTrend(fitLo, last, th.DiskFitMinDays)

	withWindow := func(w winStats) Evidence {
		e := base
		e.WindowStart, e.WindowEnd = dayTime(w.lo), dayTime(w.hi)
		e.WindowDays, e.CoveredDays = w.days, w.covered
		e.IdleDays, e.ActiveDays = w.idle, w.active
		e.Coverage = w.coverage()
		e.ActiveBy = w.activeBy
		e.Unmeasured = signalsOf(w.missing)
		return e
	}

	// Idle class.
	var idle *Finding
	runGate := cur.idle > 0 && runStats.coverage() >= gate && w30.coverage() >= gate
	var kind Kind
	var reasons []Reason
	var ew winStats
	switch {
	case runGate && cur.idle >= th.ComatoseRunDays:
		kind, reasons, ew = KindComatose, []Reason{ReasonIdleRunComatose}, runStats
	case runGate && cur.idle >= th.ZombieRunDays:
		kind, reasons, ew = KindZombie, []Reason{ReasonIdleRun}, runStats
	case w30.coverage() >= gate && w30.idle >= th.CandidateDays:
		kind, reasons, ew = KindIdleCandidate, []Reason{ReasonIdleDays30}, w30
	case w14.coverage() >= gate && w14.idle >= th.WatchDays:
		kind, reasons, ew = KindWatch, []Reason{ReasonIdleDays14}, w14
	}
	if kind != "" {
		ev := withWindow(ew)
		if kind.idleRank() >= KindIdleCandidate.idleRank() {
			py := tl.priorYear(ew.lo, ew.hi, th)
			ev.PriorYear = &py
			if py.NoData {
				reasons = append(reasons, ReasonNoPriorYearData)
			}
			if py.Seasonal {
				kind = KindWatch
				reasons = append(reasons, ReasonSeasonalIdle)
			}
		}
		f := Finding{Kind: kind, Status: StatusOpen, Reasons: reasons, Evidence: ev}
		f.Confidence = idleConfidence(ew, th)
		if ew.missing != 0 {
			f.Reasons = append(f.Reasons, ReasonSignalsUnmeasured)
		}
		if kind.idleRank() >= KindIdleCandidate.idleRank() {
			f.Frees = &Resources{VCPU: float64(h.VCPU), MemGiB: float64(h.MemBytes) / gib, StorageTB: float64(h.DiskBytes) / tb}
		}
		idle = &f
	}

	// Overloaded.
	var over *Finding
	{
		var reasons []Reason
		direct := false
		if base.HotDays >= th.HotDays {
			reasons, direct = append(reasons, ReasonCPUHotDays), true
		}
		if h.Window.MemP99 > th.HotMemP99 {
			reasons, direct = append(reasons, ReasonMemHigh), true
		}
		diskNow := base.DiskUsedPct > th.DiskUsedPct
		if diskNow {
			reasons, direct = append(reasons, ReasonDiskUsed), true
		}
		tr := base.DiskTrend
		projected := tr != nil && !tr.ProjectedFull.IsZero() && dayNum(tr.ProjectedFull) <= today+int64(th.DiskFullHorizonDays)
		if projected {
			reasons = append(reasons, ReasonDiskProjectedFull)
		}
		if len(reasons) > 0 {
			f := Finding{Kind: KindOverloaded, Status: StatusOpen, Reasons: reasons, Evidence: withWindow(w30)}
			cov := w30.coverage()
			switch {
			case cov >= th.HighConfidenceCoverage && direct:
				f.Confidence = ConfidenceHigh
			case cov >= gate || diskNow:
				f.Confidence = ConfidenceMedium
			default:
				f.Confidence = ConfidenceLow
			}
			f.Needs = needs(h, &base, th, diskNow || projected)
			over = &f
		}
	}

	// Underused.
	var under *Finding
	if over == nil && (idle == nil || idle.Kind == KindWatch) &&
		h.Window.Coverage >= gate && h.Window.CPUP95 < th.UnderusedCPUP95 && h.Window.MemP99 < th.UnderusedMemP99 {
		f := Finding{Kind: KindUnderused, Status: StatusOpen, Reasons: []Reason{ReasonLowCPUMem}, Evidence: withWindow(w30)}
		f.Confidence = ConfidenceMedium
		if h.Window.Coverage >= th.HighConfidenceCoverage {
			f.Confidence = ConfidenceHigh
		}
		f.Frees = rightSize(h, th)
		under = &f
	}

	for _, f := range []*Finding{over, idle, under} {
		if f != nil {
			rep.Findings = append(rep.Findings, *f)
		}
	}
	if idle == nil && w30.coverage() < gate {
		rep.Findings = append(rep.Findings, Finding{Kind: KindInsufficientData, Status: StatusOpen,
			Reasons: []Reason{ReasonLowCoverage}, Evidence: withWindow(w30), Confidence: ConfidenceLow})
	}
	if len(rep.Findings) == 0 {
		f := Finding{Kind: KindOK, Status: StatusOpen, Evidence: withWindow(w30), Confidence: ConfidenceMedium}
		if w30.coverage() >= th.HighConfidenceCoverage {
			f.Confidence = ConfidenceHigh
		}
		rep.Findings = append(rep.Findings, f)
	}

	// Exceptions.
	for i := range rep.Findings {
		f := &rep.Findings[i]
		e := pickException(exceptions, h, f.Kind, now)
		if e == nil {
			continue
		}
		ec := *e
		f.Status, f.Exception = StatusExcepted, &ec
		if e.Type == ExceptScheduledBatch {
			if s, err := ParseSchedule(e.Schedule); err == nil {
				f.Evidence.Schedule = scheduleEvidence(tl, s, dayNum(f.Evidence.WindowStart), dayNum(f.Evidence.WindowEnd), w30)
			}
		}
	}
	return rep, nil
}

// scheduleEvidence counts scheduled days with data, and active ones, in the finding window; for a short window
// (a run that began after the last scheduled day) the last 30 days are used instead.
func scheduleEvidence(tl *timeline, s Schedule, lo, hi int64, w30 winStats) *ScheduleEvidence {
	if hi-lo+1 < int64(w30.days) {
		lo, hi = w30.lo, w30.hi
	}
	se := &ScheduleEvidence{}
	for n := lo; n <= hi; n++ {
		st := tl.at(n)
		if st == stGap || !s.Matches(dayTime(n)) {
			continue
		}
		se.ScheduledDays++
		if st == stActive {
			se.ActiveDays++
		}
	}
	return se
}

// idleConfidence applies the rules documented on Finding.
func idleConfidence(w winStats, th *Thresholds) Confidence {
	switch {
	case w.missing == 0 && w.coverage() >= th.HighConfidenceCoverage:
		return ConfidenceHigh
	case w.missing&(bitCPU|bitNet) == 0:
		return ConfidenceMedium
	}
	return ConfidenceLow
}

// rightSize estimates what an underused host frees at the target utilisation.
func rightSize(h *HostInput, th *Thresholds) *Resources {
	r := &Resources{}
	if h.VCPU > 0 {
		need := max(1, math.Ceil(float64(h.VCPU)*h.Window.CPUP95/th.TargetCPUP95))
		r.VCPU = max(0, float64(h.VCPU)-need)
	}
	if h.MemBytes > 0 {
		mem := float64(h.MemBytes) / gib
		need := max(1, math.Ceil(mem*h.Window.MemP99/th.TargetMemP99))
		r.MemGiB = max(0, mem-need)
	}
	return r
}

// needs estimates what an overloaded host should get to return to the targets: vCPU from the larger of the
// window P95 and (when the hot-days trigger fired) the hottest day's P95; memory from the window P99; storage
// to bring the used bytes projected DiskFullHorizonDays ahead back to DiskTargetPct.
func needs(h *HostInput, ev *Evidence, th *Thresholds, disk bool) *Resources {
	r := &Resources{}
	if h.VCPU > 0 {
		load := h.Window.CPUP95
		if ev.HotDays >= th.HotDays {
			load = max(load, ev.MaxDailyCPUP95)
		}
		if load > th.HotCPUP95 {
			r.VCPU = max(0, math.Ceil(float64(h.VCPU)*load/th.TargetCPUP95)-float64(h.VCPU))
		}
	}
	if h.MemBytes > 0 && h.Window.MemP99 > th.HotMemP99 {
		mem := float64(h.MemBytes) / gib
		r.MemGiB = max(0, math.Ceil(mem*h.Window.MemP99/th.TargetMemP99)-mem)
	}
	if disk && ev.DiskTrend != nil && ev.DiskTrend.TotalBytes > 0 {
		t := ev.DiskTrend
		used := t.UsedBytes + max(0, t.SlopeBytesPerDay)*float64(th.DiskFullHorizonDays)
		r.StorageTB = max(0, used/(th.DiskTargetPct/100)-t.TotalBytes) / tb
	}
	return r
}

// Evaluate judges every host at now and aggregates systems. Exceptions and thresholds are validated first;
// a bad exception is an error naming its index and field, a bad day one naming the host, index and field.
func Evaluate(hosts []HostInput, exceptions []Exception, now time.Time, th Thresholds) (Report, error) {
	rep := Report{At: now, Thresholds: th}
	if err := th.Validate(); err != nil {
		return rep, fmt.Errorf("thresholds: %w", err)
	}
	var errs []error
	for i := range exceptions {
		if err := exceptions[i].Validate(); err != nil {
			errs = append(errs, fmt.Errorf("exceptions[%d]: %w", i, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return rep, err
	}
	rep.Hosts = make([]HostReport, 0, len(hosts))
	for i := range hosts {
		hr, err := evaluateHost(&hosts[i], exceptions, now, &th)
		if err != nil {
			return rep, fmt.Errorf("hosts[%d]: %w", i, err)
		}
		rep.Hosts = append(rep.Hosts, hr)
	}
	rep.Systems = Systems(rep.Hosts)
	return rep, nil
}

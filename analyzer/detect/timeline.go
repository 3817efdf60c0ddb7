package detect

import (
	"fmt"
	"math"
	"time"
)

// offset is Location's fixed UTC offset in seconds.
const offset = 8 * 60 * 60

// dayNum is the civil day number (days since 1970-01-01) of t's date in Location.
func dayNum(t time.Time) int64 {
	s := t.Unix() + offset
	n := s / 86400
	if s%86400 < 0 {
		n-- // floor for instants before 1970
	}
	return n
}

// dayTime is local midnight (Location) of civil day n.
func dayTime(n int64) time.Time { return time.Unix(n*86400-offset, 0).In(Location) }

type dayState uint8

const (
	stGap dayState = iota
	stIdle
	stActive
)

// Signal bits.
const (
	bitCPU uint8 = 1 << iota
	bitNet
	bitInbound
	bitSessions
	bitDisk
	bitAll = bitCPU | bitNet | bitInbound | bitSessions | bitDisk
)

func signalsOf(bits uint8) []Signal {
	if bits == 0 {
		return nil
	}
	var out []Signal
	for i, s := range []Signal{SignalCPU, SignalNetwork, SignalInbound, SignalSessions, SignalDiskWrites} {
		if bits&(1<<i) != 0 {
			out = append(out, s)
		}
	}
	return out
}

// classify decides one day: gap, idle or active, with the signals that exceeded (active) and the signals that
// were not measured. Memory is deliberately not consulted.
func classify(d *Day, th *Thresholds) (st dayState, active, missing uint8) {
	if !(d.Coverage >= th.MinDayCoverage) || math.IsNaN(d.CPUP95) {
		return stGap, 0, 0
	}
	if d.CPUP95 >= th.IdleCPUP95 {
		active |= bitCPU
	}
	if math.IsNaN(d.NetBytes) {
		missing |= bitNet
	} else {
		net := d.NetBytes
		if !math.IsNaN(d.AgentNetBytes) {
			net -= d.AgentNetBytes
		}
		if net >= th.IdleNetBytes {
			active |= bitNet
		}
	}
	if math.IsNaN(d.NewInbound) {
		missing |= bitInbound
	} else if d.NewInbound > th.IdleNewInbound {
		active |= bitInbound
	}
	if math.IsNaN(d.Sessions) {
		missing |= bitSessions
	} else if d.Sessions > th.IdleSessions {
		active |= bitSessions
	}
	if math.IsNaN(d.DiskWriteBytes) {
		missing |= bitDisk
	} else if d.DiskWriteBytes >= th.IdleDiskWriteBytes {
		active |= bitDisk
	}
	if active != 0 {
		return stActive, active, missing
	}
	return stIdle, 0, missing
}

// timeline is a dense per-day view of one host from first to last (the day before now's day).
type timeline struct {
	first, last int64
	idx         []int32 // index into days, −1 when absent
	state       []dayState
	active      []uint8
	missing     []uint8
	days        []Day
}

func validateDay(i int, d *Day) error {
	if d.Date.IsZero() {
		return fmt.Errorf("days[%d]: date: missing", i)
	}
	date := func() string { return d.Date.In(Location).Format(time.DateOnly) }
	if math.IsNaN(d.Coverage) || d.Coverage < 0 || d.Coverage > 1 {
		return fmt.Errorf("days[%d] (%s): coverage: %v not in [0,1]", i, date(), d.Coverage)
	}
	vals := [...]float64{d.CPUP95, d.NetBytes, d.AgentNetBytes, d.NewInbound, d.Sessions, d.DiskWriteBytes, d.FSUsedBytes, d.FSTotalBytes}
	for k, v := range vals {
		if v < 0 || math.IsInf(v, 0) {
			names := [...]string{"cpu_p95", "net_bytes", "agent_net_bytes", "new_inbound", "sessions", "disk_write_bytes", "fs_used_bytes", "fs_total_bytes"}
			return fmt.Errorf("days[%d] (%s): %s: %v is negative or infinite", i, date(), names[k], v)
		}
	}
	return nil
}

// buildTimeline lays the days out densely up to the day before now's day. It always spans at least minSpan days.
func buildTimeline(days []Day, now time.Time, th *Thresholds, minSpan int) (*timeline, error) {
	last := dayNum(now) - 1
	first := last - int64(minSpan) + 1
	for i := range days {
		if n := dayNum(days[i].Date); n < first && !days[i].Date.IsZero() {
			first = n
		}
	}
	size := int(last - first + 1)
	tl := &timeline{
		first: first, last: last, days: days,
		idx:     make([]int32, size),
		state:   make([]dayState, size),
		active:  make([]uint8, size),
		missing: make([]uint8, size),
	}
	for i := range tl.idx {
		tl.idx[i] = -1
	}
	for i := range days {
		d := &days[i]
		if err := validateDay(i, d); err != nil {
			return nil, err
		}
		n := dayNum(d.Date)
		if n > last {
			continue // today or later: incomplete
		}
		k := n - first
		if tl.idx[k] >= 0 {
			return nil, fmt.Errorf("days[%d] (%s): date: duplicate of days[%d]", i, d.Date.In(Location).Format(time.DateOnly), tl.idx[k])
		}
		tl.idx[k] = int32(i)
		tl.state[k], tl.active[k], tl.missing[k] = classify(d, th)
	}
	return tl, nil
}

// at returns the state of civil day n (gap outside the timeline).
func (tl *timeline) at(n int64) dayState {
	if n < tl.first || n > tl.last {
		return stGap
	}
	return tl.state[n-tl.first]
}

// day returns the input day for civil day n, or nil.
func (tl *timeline) day(n int64) *Day {
	if n < tl.first || n > tl.last {
		return nil
	}
	if i := tl.idx[n-tl.first]; i >= 0 {
		return &tl.days[i]
	}
	return nil
}

type winStats struct {
	lo, hi                      int64
	days, covered, idle, active int
	covSum                      float64
	activeBy                    SignalCounts
	missing                     uint8
}

func (w winStats) coverage() float64 {
	if w.days == 0 {
		return 0
	}
	return w.covSum / float64(w.days)
}

// stats summarises civil days [lo, hi].
func (tl *timeline) stats(lo, hi int64) winStats {
	w := winStats{lo: lo, hi: hi}
	if hi < lo {
		return w
	}
	w.days = int(hi - lo + 1)
	for n := max(lo, tl.first); n <= min(hi, tl.last); n++ {
		k := n - tl.first
		if i := tl.idx[k]; i >= 0 {
			w.covSum += tl.days[i].Coverage
		}
		switch tl.state[k] {
		case stIdle:
			w.idle++
			w.covered++
			w.missing |= tl.missing[k]
		case stActive:
			w.active++
			w.covered++
			w.missing |= tl.missing[k]
			a := tl.active[k]
			if a&bitCPU != 0 {
				w.activeBy.CPU++
			}
			if a&bitNet != 0 {
				w.activeBy.Network++
			}
			if a&bitInbound != 0 {
				w.activeBy.Inbound++
			}
			if a&bitSessions != 0 {
				w.activeBy.Sessions++
			}
			if a&bitDisk != 0 {
				w.activeBy.DiskWrites++
			}
		}
	}
	return w
}

// runIdx is an idle run in civil day numbers.
type runIdx struct {
	start, end int64 // civil days; valid when idle > 0
	idle, gaps int
}

func (r runIdx) export() Run {
	if r.idle == 0 {
		return Run{}
	}
	return Run{Start: dayTime(r.start), End: dayTime(r.end), IdleDays: r.idle, GapDays: r.gaps, SpanDays: int(r.end - r.start + 1)}
}

// currentRun is the idle run still going on at the end of the timeline: its last idle day is at most maxGap
// gap days before the last day, and walking back it bridges gaps of at most maxGap consecutive days.
func (tl *timeline) currentRun(maxGap int) runIdx {
	n := tl.last
	trailing := 0
	for n >= tl.first && tl.at(n) == stGap {
		trailing++
		n--
		if trailing > maxGap {
			return runIdx{}
		}
	}
	if n < tl.first || tl.at(n) != stIdle {
		return runIdx{}
	}
	r := runIdx{start: n, end: n}
	pending := 0
	for ; n >= tl.first; n-- {
		switch tl.at(n) {
		case stIdle:
			r.idle++
			r.start = n
			r.gaps += pending
			pending = 0
			continue
		case stGap:
			pending++
			if pending <= maxGap {
				continue
			}
		}
		break
	}
	return r
}

// longestRun is the longest idle run (by idle days) anywhere in the timeline.
func (tl *timeline) longestRun(maxGap int) runIdx {
	var best, cur runIdx
	pending := 0
	for n := tl.first; n <= tl.last; n++ {
		switch tl.at(n) {
		case stIdle:
			if cur.idle == 0 {
				cur = runIdx{start: n}
			} else {
				cur.gaps += pending
			}
			pending = 0
			cur.idle++
			cur.end = n
			if cur.idle > best.idle {
				best = cur
			}
		case stGap:
			pending++
			if pending > maxGap {
				cur = runIdx{}
			}
		case stActive:
			cur = runIdx{}
			pending = 0
		}
	}
	return best
}

// lastActive is the most recent active day, or −1 (ok=false).
func (tl *timeline) lastActive() (int64, bool) {
	for n := tl.last; n >= tl.first; n-- {
		if tl.at(n) == stActive {
			return n, true
		}
	}
	return 0, false
}

// priorYear judges whether idleness over civil days [s, e] is seasonal (see Thresholds.SeasonalSlackDays).
func (tl *timeline) priorYear(s, e int64, th *Thresholds) PriorYear {
	slack := int64(th.SeasonalSlackDays)
	w := tl.stats(s-365-slack, e-365+slack)
	core := tl.stats(s-365, e-365)
	p := PriorYear{
		Start: dayTime(w.lo), End: dayTime(w.hi),
		CoveredDays: w.covered, ActiveDays: w.active,
		CoreCoveredDays: core.covered, CoreIdleDays: core.idle,
		NoData: w.covered == 0,
	}
	span := e - s + 1
	quiet := core.covered == 0 || float64(core.idle) >= th.SeasonalMinPriorIdleShare*float64(core.covered)
	p.Seasonal = span < 365+slack && w.active > 0 && quiet
	return p
}

// diskTrend fits FSUsedBytes over civil days [lo, hi] (present days with FSTotalBytes > 0).
func (tl *timeline) diskTrend(lo, hi int64, minPoints int) *DiskTrend {
	var n, sx, sy, sxx, sxy, syy float64
	var lastUsed, lastTotal float64
	for d := lo; d <= hi; d++ {
		day := tl.day(d)
		if day == nil || !(day.FSTotalBytes > 0) || math.IsNaN(day.FSUsedBytes) {
			continue
		}
		x := float64(d - lo)
		y := day.FSUsedBytes
		n++
		sx += x
		sy += y
		sxx += x * x
		sxy += x * y
		syy += y * y
		lastUsed, lastTotal = y, day.FSTotalBytes
	}
	if int(n) < minPoints {
		return nil
	}
	vx := sxx - sx*sx/n
	if vx <= 0 {
		return nil
	}
	cxy := sxy - sx*sy/n
	vy := syy - sy*sy/n
	slope := cxy / vx
	t := &DiskTrend{Points: int(n), SlopeBytesPerDay: slope, TotalBytes: lastTotal, UsedBytes: lastUsed}
	if vy > 0 {
		t.R2 = cxy * cxy / (vx * vy)
	} else {
		t.R2 = 1 // a flat line is fitted exactly
	}
	if slope > 0 {
		intercept := (sy - slope*sx) / n
		x := (lastTotal - intercept) / slope
		if x > 36500 {
			return t // more than a century away: no projection
		}
		x = max(x, -1) // already past the total: clamped to today below
		full := lo + int64(math.Ceil(x))
		if today := tl.last + 1; full < today {
			full = today // the fit already crossed the total: full now
		}
		t.ProjectedFull = dayTime(full)
	}
	return t
}

package detect

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestClassifyDay(t *testing.T) {
	th := DefaultThresholds()
	d0 := date(2026, 1, 5)
	tests := []struct {
		name    string
		mod     func(*Day)
		want    dayState
		missing uint8
	}{
		{"quiet day", func(*Day) {}, stIdle, 0},
		{"cpu just under", func(d *Day) { d.CPUP95 = 4.999 }, stIdle, 0},
		{"cpu exactly at 5 is active", func(d *Day) { d.CPUP95 = 5 }, stActive, 0},
		{"net just under 5 MB", func(d *Day) { d.NetBytes, d.AgentNetBytes = 4_999_999, 0 }, stIdle, 0},
		{"net exactly 5 MB is active", func(d *Day) { d.NetBytes, d.AgentNetBytes = 5e6, 0 }, stActive, 0},
		{"agent traffic subtracted", func(d *Day) { d.NetBytes, d.AgentNetBytes = 9e6, 6e6 }, stIdle, 0},
		{"agent traffic not enough to subtract", func(d *Day) { d.NetBytes, d.AgentNetBytes = 9e6, 3e6 }, stActive, 0},
		{"one new inbound connection", func(d *Day) { d.NewInbound = 1 }, stActive, 0},
		{"one login", func(d *Day) { d.Sessions = 1 }, stActive, 0},
		{"disk writes just under 50 MB", func(d *Day) { d.DiskWriteBytes = 49_999_999 }, stIdle, 0},
		{"disk writes exactly 50 MB", func(d *Day) { d.DiskWriteBytes = 50e6 }, stActive, 0},
		{"memory alone never active", func(d *Day) { d.MemP95, d.MemMax = 97, 100 }, stIdle, 0},
		{"coverage under 0.8 is a gap", func(d *Day) { d.Coverage = 0.79; d.CPUP95 = 90 }, stGap, 0},
		{"coverage exactly 0.8 counts", func(d *Day) { d.Coverage = 0.8 }, stIdle, 0},
		{"cpu not measured is a gap", func(d *Day) { d.CPUP95 = math.NaN() }, stGap, 0},
		{"sessions not measured", func(d *Day) { d.Sessions = math.NaN() }, stIdle, bitSessions},
		{"network not measured, cpu busy", func(d *Day) { d.NetBytes = math.NaN(); d.CPUP95 = 30 }, stActive, bitNet},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := idleDay(d0)
			tc.mod(&d)
			st, _, missing := classify(&d, &th)
			if st != tc.want || missing != tc.missing {
				t.Errorf("state %d missing %b, want %d %b", st, missing, tc.want, tc.missing)
			}
		})
	}
}

func TestTrulyIdleServer(t *testing.T) {
	th := DefaultThresholds()
	start := date(2025, 1, 1)
	h := hostOf(1, "sys", series(start, 400, allIdle))
	tests := []struct {
		days int // idle days before the evaluation day
		want Kind
	}{
		{3, KindInsufficientData},
		{14, KindWatch},
		{30, KindIdleCandidate},
		{89, KindIdleCandidate},
		{90, KindZombie},
		{179, KindZombie},
		{180, KindComatose},
		{365, KindComatose},
	}
	for _, tc := range tests {
		now := nowOn(start.AddDate(0, 0, tc.days))
		r := mustHost(t, h, nil, now, th)
		if got := idleKind(r); got != tc.want {
			t.Errorf("after %d days: %s, want %s (findings %+v)", tc.days, got, tc.want, r.Findings)
			continue
		}
		if !tc.want.IsIdle() {
			continue
		}
		f, _ := r.idleFinding()
		if f.Evidence.CurrentRun.IdleDays != tc.days || !sameDay(f.Evidence.CurrentRun.Start, start) {
			t.Errorf("after %d days: run %+v", tc.days, f.Evidence.CurrentRun)
		}
		if f.Confidence != ConfidenceHigh || f.Status != StatusOpen || !f.Evidence.LastActiveDay.IsZero() {
			t.Errorf("after %d days: confidence %s status %s last active %v", tc.days, f.Confidence, f.Status, f.Evidence.LastActiveDay)
		}
		if tc.want.idleRank() >= KindIdleCandidate.idleRank() {
			if !hasReason(f, ReasonNoPriorYearData) && tc.days < 365 {
				t.Errorf("after %d days: reasons %v lack %s", tc.days, f.Reasons, ReasonNoPriorYearData)
			}
			if f.Frees == nil || f.Frees.VCPU != 8 || f.Frees.MemGiB != 16 || f.Frees.StorageTB != 0.5 {
				t.Errorf("after %d days: frees %+v", tc.days, f.Frees)
			}
		}
		if tc.want == KindZombie && (f.Evidence.WindowDays != tc.days || f.Evidence.IdleDays != tc.days) {
			t.Errorf("zombie evidence window %d days, %d idle", f.Evidence.WindowDays, f.Evidence.IdleDays)
		}
	}
}

func TestStoppedServerIsZombieDespiteBusyPriorYear(t *testing.T) {
	// Busy every day of 2025, idle since 2026-01-01: the same window a year earlier was busy all through, so
	// this is a change, not a season.
	start := date(2025, 1, 1)
	stop := date(2026, 1, 1)
	h := hostOf(1, "sys", series(start, 500, func(d time.Time) (Day, bool) {
		if d.Before(stop) {
			return busyDay(d), true
		}
		return idleDay(d), true
	}))
	r := mustHost(t, h, nil, nowOn(stop.AddDate(0, 0, 90)), DefaultThresholds())
	f, ok := r.Find(KindZombie)
	if !ok {
		t.Fatalf("want zombie, got %+v", r.Findings)
	}
	py := f.Evidence.PriorYear
	if py == nil || py.NoData || py.Seasonal || py.ActiveDays == 0 || py.CoreIdleDays != 0 {
		t.Errorf("prior year %+v", py)
	}
	if !sameDay(f.Evidence.LastActiveDay, date(2025, 12, 31)) {
		t.Errorf("last active %v", f.Evidence.LastActiveDay)
	}
}

func TestAnnualReportingSystem(t *testing.T) {
	th := DefaultThresholds()
	annual := func(d time.Time) (Day, bool) {
		if d.Month() == time.March {
			return busyDay(d), true
		}
		return idleDay(d), true
	}
	tests := []struct {
		name      string
		from      time.Time
		n         int
		now       time.Time
		want      Kind
		reason    Reason
		runDays   int
		wantPrior bool
	}{
		{"nine idle months, March last year active", date(2025, 1, 1), 760, date(2027, 1, 1), KindWatch, ReasonSeasonalIdle, 275, true},
		{"three idle months, March last year active", date(2025, 1, 1), 760, date(2026, 7, 1), KindWatch, ReasonSeasonalIdle, 91, true},
		{"no data a year earlier: the run decides", date(2026, 3, 1), 320, date(2027, 1, 1), KindComatose, ReasonNoPriorYearData, 275, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := hostOf(1, "report", series(tc.from, tc.n, annual))
			r := mustHost(t, h, nil, nowOn(tc.now), th)
			f, ok := r.idleFinding()
			if !ok || f.Kind != tc.want || !hasReason(f, tc.reason) {
				t.Fatalf("got %+v, want %s with %s", r.Findings, tc.want, tc.reason)
			}
			if f.Evidence.CurrentRun.IdleDays != tc.runDays {
				t.Errorf("run %d idle days, want %d", f.Evidence.CurrentRun.IdleDays, tc.runDays)
			}
			if py := f.Evidence.PriorYear; py == nil || py.Seasonal != tc.wantPrior || py.NoData == tc.wantPrior {
				t.Errorf("prior year %+v", py)
			}
		})
	}
	t.Run("season missed: idle through a whole March", func(t *testing.T) {
		stop := date(2025, 4, 1)
		h := hostOf(1, "report", series(date(2025, 1, 1), 600, func(d time.Time) (Day, bool) {
			if d.Before(stop) {
				return annual(d)
			}
			return idleDay(d), true
		}))
		r := mustHost(t, h, nil, nowOn(date(2026, 6, 1)), th)
		if got := idleKind(r); got != KindComatose {
			t.Fatalf("got %s, want comatose (%+v)", got, r.Findings)
		}
	})
}

func TestMonthEndBatchServer(t *testing.T) {
	th := DefaultThresholds()
	monthEnd := func(d time.Time) (Day, bool) {
		if d.AddDate(0, 0, 3).Month() != d.Month() { // last three days of the month
			return busyDay(d), true
		}
		return idleDay(d), true
	}
	start := date(2026, 1, 1)
	h := hostOf(7, "batch", series(start, 500, monthEnd))
	// Never a zombie or comatose, whatever the day.
	for d := start.AddDate(0, 0, 30); d.Before(start.AddDate(0, 0, 500)); d = d.AddDate(0, 0, 1) {
		r := mustHost(t, h, nil, nowOn(d), th)
		if k := idleKind(r); k != KindWatch && k != KindIdleCandidate {
			t.Fatalf("on %s: %s, want watch or idle-candidate", d.Format(time.DateOnly), k)
		}
	}
	// Mid-June, last 30 days hold May 29-31: 27 idle of 30, exactly the idle-candidate threshold.
	now := nowOn(date(2026, 6, 15))
	r := mustHost(t, h, nil, now, th)
	f, ok := r.Find(KindIdleCandidate)
	if !ok || f.Evidence.IdleDays30 != 27 || f.Evidence.ActiveDays != 3 {
		t.Fatalf("got %+v", r.Findings)
	}
	if f.Evidence.ActiveBy.Sessions != 3 || !sameDay(f.Evidence.LastActiveDay, date(2026, 5, 31)) {
		t.Errorf("evidence %+v", f.Evidence)
	}
	// One idle day fewer: below the threshold.
	th26 := th
	th26.CandidateDays = 28
	if k := idleKind(mustHost(t, h, nil, now, th26)); k != KindWatch {
		t.Errorf("with CandidateDays 28: %s, want watch", k)
	}

	exc := []Exception{{ID: 1, Type: ExceptScheduledBatch, HostID: 7, Owner: "王工", Reason: "月末结算",
		Schedule: "monthly last 3", Created: date(2026, 5, 1), Expires: date(2027, 4, 30)}}
	r = mustHost(t, h, exc, now, th)
	f, _ = r.Find(KindIdleCandidate)
	if f.Status != StatusExcepted || f.Exception == nil || f.Exception.ID != 1 {
		t.Fatalf("with exception: %+v", f)
	}
	if s := f.Evidence.Schedule; s == nil || s.ScheduledDays != 3 || s.ActiveDays != 3 {
		t.Errorf("schedule evidence %+v", f.Evidence.Schedule)
	}
	if f.Evidence.IdleDays30 != 27 {
		t.Errorf("excepted finding lost its evidence: %+v", f.Evidence)
	}

	// With a year of history the same window last year shows the same rhythm: seasonal, watch.
	r = mustHost(t, h, nil, nowOn(date(2027, 2, 15)), th)
	if f, ok := r.Find(KindWatch); !ok || !hasReason(f, ReasonSeasonalIdle) {
		t.Errorf("after a year: %+v", r.Findings)
	}
}

func TestDRStandbyException(t *testing.T) {
	th := DefaultThresholds()
	start := date(2025, 1, 1)
	days := series(start, 500, allIdle)
	for i := range days { // the standby's disk is nearly full
		days[i].FSMaxUsedPct, days[i].FSUsedBytes, days[i].FSTotalBytes = 90, 450e9, 500e9
	}
	h := hostOf(3, "dr", days)
	exc := []Exception{{ID: 9, Type: ExceptDRStandby, HostID: 3, Owner: "李", Reason: "异地灾备",
		Created: date(2025, 3, 1), Expires: date(2026, 3, 1)}}
	if err := exc[0].Validate(); err != nil {
		t.Fatalf("exactly 12 months must be valid: %v", err)
	}

	r := mustHost(t, h, exc, nowOn(date(2025, 6, 1)), th)
	z, ok := r.Find(KindZombie)
	if !ok || z.Status != StatusExcepted || z.Exception.Type != ExceptDRStandby {
		t.Fatalf("live exception: %+v", r.Findings)
	}
	if z.Evidence.CurrentRun.IdleDays != 151 || z.Frees == nil {
		t.Errorf("excepted zombie lost evidence: %+v", z.Evidence.CurrentRun)
	}
	o, ok := r.Find(KindOverloaded)
	if !ok || o.Status != StatusOpen || !hasReason(o, ReasonDiskUsed) {
		t.Errorf("DR exception must not cover overload: %+v", o)
	}
	if p := r.Primary(); p.Kind != KindOverloaded {
		t.Errorf("primary %s, want the open overload", p.Kind)
	}

	// At the expiry instant the exception is no longer live: the finding returns.
	r = mustHost(t, h, exc, date(2026, 3, 1), th)
	c, ok := r.Find(KindComatose)
	if !ok || c.Status != StatusOpen || c.Exception != nil {
		t.Fatalf("after expiry: %+v", r.Findings)
	}
	// Before it was created it does not apply either.
	r = mustHost(t, h, exc, nowOn(date(2025, 2, 20)), th)
	if f, _ := r.idleFinding(); f.Status != StatusOpen {
		t.Errorf("before creation: %+v", f)
	}
}

func TestSeasonalAndSystemScopedException(t *testing.T) {
	th := DefaultThresholds()
	start := date(2025, 1, 1)
	a := hostOf(1, "tax", series(start, 200, allIdle))
	b := hostOf(2, "tax", series(start, 200, allIdle))
	other := hostOf(3, "other", series(start, 200, allIdle))
	exc := []Exception{{Type: ExceptSeasonal, System: "tax", Owner: "张", Reason: "年度汇算",
		Months: []time.Month{time.March, time.April}, Created: date(2025, 1, 1), Expires: date(2025, 12, 31)}}
	rep, err := Evaluate([]HostInput{a, b, other}, exc, nowOn(date(2025, 5, 1)), th)
	if err != nil {
		t.Fatal(err)
	}
	for _, hr := range rep.Hosts {
		f, _ := hr.Find(KindZombie)
		want := StatusExcepted
		if hr.System == "other" {
			want = StatusOpen
		}
		if f.Status != want {
			t.Errorf("host %d (%s): %s, want %s", hr.HostID, hr.System, f.Status, want)
		}
	}
	for _, s := range rep.Systems {
		want := StatusExcepted
		if s.System == "other" {
			want = StatusOpen
		}
		if len(s.Findings) != 1 || s.Findings[0].Kind != KindZombie || s.Findings[0].Status != want {
			t.Errorf("system %s: %+v", s.System, s.Findings)
		}
	}
}

func TestOverloadedFillingDisk(t *testing.T) {
	th := DefaultThresholds()
	start := date(2026, 1, 1)
	// 500 GB used of 1 TB, +10 GB a day: 79% on the last day, full on day 50.
	filling := func(hot int) func(time.Time) (Day, bool) {
		return func(d time.Time) (Day, bool) {
			x := busyDay(d)
			i := float64(dayNum(d) - dayNum(start))
			x.FSTotalBytes, x.FSUsedBytes = 1e12, 500e9+10e9*i
			x.FSMaxUsedPct = x.FSUsedBytes / x.FSTotalBytes * 100
			if dayNum(d) >= dayNum(start)+30-int64(hot) {
				x.CPUP95 = 92
			}
			return x, true
		}
	}
	now := nowOn(start.AddDate(0, 0, 30))
	r := mustHost(t, hostOf(1, "s", series(start, 30, filling(0))), nil, now, th)
	f, ok := r.Find(KindOverloaded)
	if !ok {
		t.Fatalf("want overloaded, got %+v", r.Findings)
	}
	tr := f.Evidence.DiskTrend
	if tr == nil || !near(tr.SlopeBytesPerDay, 10e9, 1e-9) || !sameDay(tr.ProjectedFull, start.AddDate(0, 0, 50)) || tr.R2 < 0.999 {
		t.Fatalf("trend %+v", tr)
	}
	if len(f.Reasons) != 1 || f.Reasons[0] != ReasonDiskProjectedFull || f.Confidence != ConfidenceMedium {
		t.Errorf("reasons %v confidence %s", f.Reasons, f.Confidence)
	}
	// Needs: used in 30 days (1090 GB) at 70% → 1557 GB, minus 1000 GB.
	if f.Needs == nil || !near(f.Needs.StorageTB, 1090e9/0.7/1e12-1, 1e-9) {
		t.Errorf("needs %+v", f.Needs)
	}

	// Horizon exactly reached: full on day 50 is 20 days ahead; with a 20-day horizon still overloaded, 19 not.
	th20 := th
	th20.DiskFullHorizonDays = 20
	if _, ok := mustHost(t, hostOf(1, "s", series(start, 30, filling(0))), nil, now, th20).Find(KindOverloaded); !ok {
		t.Error("projected full exactly at the horizon should count")
	}
	th20.DiskFullHorizonDays = 19
	if _, ok := mustHost(t, hostOf(1, "s", series(start, 30, filling(0))), nil, now, th20).Find(KindOverloaded); ok {
		t.Error("projected full past the horizon should not count")
	}

	// Hot CPU: 7 of 14 days > 80% is overloaded with high confidence, 6 is not (the disk still is).
	for _, tc := range []struct {
		hot  int
		want bool
	}{{6, false}, {7, true}} {
		r := mustHost(t, hostOf(1, "s", series(start, 30, filling(tc.hot))), nil, now, th)
		f, _ := r.Find(KindOverloaded)
		if got := hasReason(f, ReasonCPUHotDays); got != tc.want || f.Evidence.HotDays != tc.hot {
			t.Errorf("%d hot days: reason %v, hot days %d", tc.hot, f.Reasons, f.Evidence.HotDays)
		}
		if tc.want && (f.Confidence != ConfidenceHigh || f.Needs.VCPU != math.Ceil(8*92/60.0)-8) {
			t.Errorf("%d hot days: confidence %s needs %+v", tc.hot, f.Confidence, f.Needs)
		}
	}
}

func TestOverloadThresholdsExactly(t *testing.T) {
	th := DefaultThresholds()
	start := date(2026, 1, 1)
	now := nowOn(start.AddDate(0, 0, 30))
	tests := []struct {
		name   string
		disk   float64
		memP99 float64
		cpuP95 float64
		want   Reason
	}{
		{"disk exactly 85", 85, 50, 40, ""},
		{"disk over 85", 85.1, 50, 40, ReasonDiskUsed},
		{"mem p99 exactly 90", 20, 90, 40, ""},
		{"mem p99 over 90", 20, 90.5, 40, ReasonMemHigh},
		{"cpu p95 exactly 80 every day", 20, 50, 80, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := hostOf(1, "s", series(start, 30, func(d time.Time) (Day, bool) {
				x := busyDay(d)
				x.FSMaxUsedPct, x.CPUP95 = tc.disk, tc.cpuP95
				return x, true
			}))
			h.Window.MemP99 = tc.memP99
			r := mustHost(t, h, nil, now, th)
			f, ok := r.Find(KindOverloaded)
			if tc.want == "" {
				if ok {
					t.Errorf("unexpected overload %v", f.Reasons)
				}
				return
			}
			if !ok || !hasReason(f, tc.want) {
				t.Errorf("got %+v, want %s", r.Findings, tc.want)
			}
		})
	}
}

func TestAgentOutage(t *testing.T) {
	th := DefaultThresholds()
	start := date(2025, 1, 1)
	outFrom, outTo := 100, 120 // 21 days silent
	h := hostOf(1, "s", series(start, 400, func(d time.Time) (Day, bool) {
		i := int(dayNum(d) - dayNum(start))
		return idleDay(d), i < outFrom || i > outTo
	}))
	tests := []struct {
		name    string
		days    int
		want    Kind
		run     int
		longest int
	}{
		{"during the outage: insufficient, never idle", 115, KindInsufficientData, 0, 100},
		// The gap breaks the run: 79 idle days since the outage, not 179 (or 200 days since start).
		{"after the outage the run restarts", 200, KindIdleCandidate, 79, 100},
		{"90 days after the outage: zombie", 211, KindZombie, 90, 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := mustHost(t, h, nil, nowOn(start.AddDate(0, 0, tc.days)), th)
			if got := idleKind(r); got != tc.want {
				t.Fatalf("got %s, want %s (%+v)", got, tc.want, r.Findings)
			}
			ev := r.Findings[0].Evidence
			if ev.CurrentRun.IdleDays != tc.run || ev.LongestRun.IdleDays != tc.longest {
				t.Errorf("run %+v longest %+v", ev.CurrentRun, ev.LongestRun)
			}
		})
	}

	t.Run("short gaps are bridged, not counted", func(t *testing.T) {
		for _, tc := range []struct {
			gap, wantRun, wantGaps int
		}{{2, 98, 2}, {3, 50, 0}} {
			h := hostOf(1, "s", series(start, 100, func(d time.Time) (Day, bool) {
				i := int(dayNum(d) - dayNum(start))
				if i >= 47 && i < 47+tc.gap {
					x := idleDay(d)
					x.Coverage = 0.5 // present but thin: a gap as well
					return x, true
				}
				return idleDay(d), true
			}))
			r := mustHost(t, h, nil, nowOn(start.AddDate(0, 0, 100)), th)
			ev := r.Findings[0].Evidence
			if ev.CurrentRun.IdleDays != tc.wantRun || ev.CurrentRun.GapDays != tc.wantGaps {
				t.Errorf("gap %d: run %+v, want %d idle %d gaps", tc.gap, ev.CurrentRun, tc.wantRun, tc.wantGaps)
			}
		}
	})
}

func TestMemoryOnlyAndAgentTraffic(t *testing.T) {
	th := DefaultThresholds()
	start := date(2025, 1, 1)
	now := nowOn(start.AddDate(0, 0, 95))
	tests := []struct {
		name string
		mod  func(*Day)
		want Kind
	}{
		{"memory busy every day", func(d *Day) { d.MemP95, d.MemMax = 92, 99 }, KindZombie},
		{"agent's own traffic subtracted", func(d *Day) { d.NetBytes, d.AgentNetBytes = 9e6, 6e6 }, KindZombie},
		{"same traffic without the agent's share", func(d *Day) { d.NetBytes, d.AgentNetBytes = 9e6, 0 }, KindOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := hostOf(1, "s", series(start, 95, func(d time.Time) (Day, bool) {
				x := idleDay(d)
				tc.mod(&x)
				return x, true
			}))
			if got := idleKind(mustHost(t, h, nil, now, th)); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestWatchAndUnderused(t *testing.T) {
	th := DefaultThresholds()
	start := date(2026, 1, 1)
	now := nowOn(start.AddDate(0, 0, 60))
	for _, tc := range []struct {
		idle14 int
		want   Kind
	}{{3, KindOK}, {4, KindWatch}} {
		h := hostOf(1, "s", series(start, 60, func(d time.Time) (Day, bool) {
			if int(dayNum(d)-dayNum(start)) >= 60-tc.idle14 {
				return idleDay(d), true
			}
			return busyDay(d), true
		}))
		r := mustHost(t, h, nil, now, th)
		if got := idleKind(r); got != tc.want {
			t.Errorf("%d idle of 14: %s, want %s", tc.idle14, got, tc.want)
		}
	}

	busy := series(start, 60, func(d time.Time) (Day, bool) { return busyDay(d), true })
	for _, tc := range []struct {
		cpu, mem float64
		want     bool
	}{{19.99, 39.99, true}, {20, 30, false}, {12, 40, false}} {
		h := hostOf(1, "s", busy)
		h.Window = Window{CPUP95: tc.cpu, MemP99: tc.mem, Coverage: 1}
		_, got := mustHost(t, h, nil, now, th).Find(KindUnderused)
		if got != tc.want {
			t.Errorf("cpu %v mem %v: underused %v", tc.cpu, tc.mem, got)
		}
	}
	h := hostOf(1, "s", busy)
	h.Window = Window{CPUP95: 12, MemP99: 30, Coverage: 0.9}
	f, ok := mustHost(t, h, nil, now, th).Find(KindUnderused)
	// 8 vCPU at 12% → needs ceil(8×12/60) = 2, frees 6; 16 GiB at 30% → needs ceil(16×30/70) = 7, frees 9.
	if !ok || f.Frees.VCPU != 6 || f.Frees.MemGiB != 9 || f.Frees.StorageTB != 0 || f.Confidence != ConfidenceMedium {
		t.Errorf("underused %+v frees %+v", f, f.Frees)
	}
	h.Window.Coverage = 0.79
	if _, ok := mustHost(t, h, nil, now, th).Find(KindUnderused); ok {
		t.Error("underused on a window under the coverage gate")
	}
}

func TestConfidenceWithUnmeasuredSignals(t *testing.T) {
	th := DefaultThresholds()
	start := date(2025, 1, 1)
	now := nowOn(start.AddDate(0, 0, 100))
	tests := []struct {
		name string
		mod  func(i int, d *Day)
		want Confidence
	}{
		{"all five measured, full coverage", func(int, *Day) {}, ConfidenceHigh},
		{"all measured, coverage 90%", func(_ int, d *Day) { d.Coverage = 0.9 }, ConfidenceMedium},
		{"sessions not counted", func(_ int, d *Day) { d.Sessions = math.NaN() }, ConfidenceMedium},
		{"network missing on one day", func(i int, d *Day) {
			if i == 50 {
				d.NetBytes = math.NaN()
			}
		}, ConfidenceLow},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			i := 0
			h := hostOf(1, "s", series(start, 100, func(d time.Time) (Day, bool) {
				x := idleDay(d)
				tc.mod(i, &x)
				i++
				return x, true
			}))
			f, ok := mustHost(t, h, nil, now, th).Find(KindZombie)
			if !ok || f.Confidence != tc.want {
				t.Errorf("got %+v, want zombie with %s", f, tc.want)
			}
			if (tc.want != ConfidenceHigh && tc.name != "all measured, coverage 90%") != hasReason(f, ReasonSignalsUnmeasured) {
				t.Errorf("reasons %v unmeasured %v", f.Reasons, f.Evidence.Unmeasured)
			}
		})
	}
}

func TestEmptyAndBadInput(t *testing.T) {
	th := DefaultThresholds()
	now := nowOn(date(2026, 1, 1))
	r := mustHost(t, HostInput{HostID: 5}, nil, now, th)
	if len(r.Findings) != 1 || r.Findings[0].Kind != KindInsufficientData || r.Findings[0].Confidence != ConfidenceLow {
		t.Errorf("empty host: %+v", r.Findings)
	}
	rep, err := Evaluate(nil, nil, now, th)
	if err != nil || len(rep.Hosts) != 0 || len(rep.Systems) != 0 {
		t.Errorf("empty fleet: %+v %v", rep, err)
	}
	// Days on or after now's day are ignored.
	future := hostOf(1, "s", series(date(2026, 1, 1), 100, allIdle))
	if k := idleKind(mustHost(t, future, nil, now, th)); k != KindInsufficientData {
		t.Errorf("future days: %s", k)
	}

	days := series(date(2025, 10, 1), 10, allIdle)
	tests := []struct {
		name string
		mod  func([]Day) []Day
		want string
	}{
		{"coverage over 1", func(d []Day) []Day { d[3].Coverage = 1.5; return d }, "days[3] (2025-10-04): coverage"},
		{"coverage NaN", func(d []Day) []Day { d[2].Coverage = math.NaN(); return d }, "days[2] (2025-10-03): coverage"},
		{"negative network", func(d []Day) []Day { d[1].NetBytes = -1; return d }, "days[1] (2025-10-02): net_bytes"},
		{"duplicate date", func(d []Day) []Day { return append(d, idleDay(date(2025, 10, 5))) }, "days[10] (2025-10-05): date: duplicate of days[4]"},
		{"missing date", func(d []Day) []Day { d[0].Date = time.Time{}; return d }, "days[0]: date"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.mod(append([]Day(nil), days...))
			_, err := Evaluate([]HostInput{hostOf(1, "s", days), hostOf(2, "s", d)}, nil, now, th)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "hosts[1]") {
				t.Errorf("error %v, want one naming hosts[1] and %q", err, tc.want)
			}
		})
	}

	bad := th
	bad.IdleCPUP95, bad.WatchDays = 0, 20
	_, err = Evaluate(nil, nil, now, bad)
	var fe *FieldError
	if err == nil || !errors.As(err, &fe) || !strings.Contains(err.Error(), "IdleCPUP95") || !strings.Contains(err.Error(), "WatchDays") {
		t.Errorf("bad thresholds: %v", err)
	}
	if err := DefaultThresholds().Validate(); err != nil {
		t.Errorf("defaults invalid: %v", err)
	}
}

func TestCustomThresholds(t *testing.T) {
	th := DefaultThresholds()
	th.ZombieRunDays, th.ComatoseRunDays = 30, 60
	start := date(2025, 1, 1)
	h := hostOf(1, "s", series(start, 100, allIdle))
	if k := idleKind(mustHost(t, h, nil, nowOn(start.AddDate(0, 0, 30)), th)); k != KindZombie {
		t.Errorf("30 days with ZombieRunDays 30: %s", k)
	}
	f, _ := mustHost(t, h, nil, nowOn(start.AddDate(0, 0, 60)), th).idleFinding()
	if f.Kind != KindComatose || f.Evidence.Thresholds.ComatoseRunDays != 60 {
		t.Errorf("60 days with ComatoseRunDays 60: %s, thresholds recorded %d", f.Kind, f.Evidence.Thresholds.ComatoseRunDays)
	}
}

func TestSystems(t *testing.T) {
	th := DefaultThresholds()
	start := date(2025, 1, 1)
	now := nowOn(start.AddDate(0, 0, 120))
	idle := series(start, 120, allIdle)
	busy := series(start, 120, func(d time.Time) (Day, bool) { return busyDay(d), true })
	outage := series(start, 100, allIdle) // silent for the last 20 days
	full := series(start, 120, func(d time.Time) (Day, bool) {
		x := busyDay(d)
		x.FSMaxUsedPct = 95
		return x, true
	})
	hosts := []HostInput{
		hostOf(1, "all-idle", idle), hostOf(2, "all-idle", idle),
		hostOf(3, "mixed", idle), hostOf(4, "mixed", busy),
		hostOf(5, "blind", idle), hostOf(6, "blind", outage),
		hostOf(7, "hot", busy), hostOf(8, "hot", full),
	}
	rep, err := Evaluate(hosts, nil, now, th)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		kinds []Kind
		hosts []int64
	}{
		"all-idle": {[]Kind{KindZombie}, []int64{1, 2}},
		"blind":    {[]Kind{KindInsufficientData}, []int64{6}},
		"hot":      {[]Kind{KindOverloaded}, []int64{8}},
		"mixed":    {[]Kind{KindOK}, []int64{3, 4}},
	}
	if len(rep.Systems) != len(want) {
		t.Fatalf("%d systems", len(rep.Systems))
	}
	for i, s := range rep.Systems {
		if i > 0 && rep.Systems[i-1].System > s.System {
			t.Errorf("systems not sorted")
		}
		w := want[s.System]
		if len(s.Findings) != len(w.kinds) || len(s.Hosts) != 2 {
			t.Errorf("%s: %+v", s.System, s.Findings)
			continue
		}
		f := s.Findings[0]
		if f.Kind != w.kinds[0] || len(f.HostIDs) != len(w.hosts) || f.HostIDs[0] != w.hosts[0] {
			t.Errorf("%s: %+v, want %v on %v", s.System, f, w.kinds, w.hosts)
		}
		if s.System == "all-idle" && (f.Frees == nil || f.Frees.VCPU != 16 || f.Frees.MemGiB != 32 || f.Frees.StorageTB != 1) {
			t.Errorf("all-idle frees %+v", f.Frees)
		}
		if s.System == "blind" && (len(f.Reasons) == 0 || f.Reasons[0] != ReasonHostsInsufficient) {
			t.Errorf("blind reasons %v", f.Reasons)
		}
	}
}

func TestDayNumbering(t *testing.T) {
	sh, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		sh = time.FixedZone("CST", 8*3600) // no tzdata here: the same offset
	}
	for _, tc := range []struct {
		in   time.Time
		want string
	}{
		{time.Date(2026, 3, 1, 0, 0, 0, 0, sh), "2026-03-01"},
		{time.Date(2026, 3, 1, 23, 59, 59, 0, sh), "2026-03-01"},
		{time.Date(2026, 2, 28, 16, 0, 0, 0, time.UTC), "2026-03-01"}, // 00:00 in Shanghai
		{time.Date(2026, 2, 28, 15, 59, 59, 0, time.UTC), "2026-02-28"},
		{time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), "2026-03-01"}, // a UTC-midnight date keeps its date
		{time.Date(1969, 12, 31, 12, 0, 0, 0, sh), "1969-12-31"},
	} {
		n := dayNum(tc.in)
		if got := dayTime(n).Format(time.DateOnly); got != tc.want {
			t.Errorf("%v: %s, want %s", tc.in, got, tc.want)
		}
		if h, m, s := dayTime(n).Clock(); h+m+s != 0 || dayTime(n).Location() != Location {
			t.Errorf("%v: dayTime not local midnight", tc.in)
		}
	}
}

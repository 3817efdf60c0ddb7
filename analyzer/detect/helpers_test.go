package detect

import (
	"math"
	"testing"
	"time"
)

// date is local midnight of a civil date in Location.
func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, Location) }

// nowOn is an evaluation time during civil day d (10:00 local): days before d are complete.
func nowOn(d time.Time) time.Time { return d.Add(10 * time.Hour) }

// idleDay is a day on which nothing happens except the agent's own traffic and housekeeping writes.
func idleDay(d time.Time) Day {
	return Day{Date: d, Coverage: 1, CPUP95: 1.5, CPUAvg: 0.7, CPUMax: 4, MemP95: 30, MemMax: 32,
		NetBytes: 1.2e6, AgentNetBytes: 0.6e6, DiskWriteBytes: 8e6,
		FSMaxUsedPct: 20, FSUsedBytes: 100e9, FSTotalBytes: 500e9}
}

// busyDay is a day of real work on every signal.
func busyDay(d time.Time) Day {
	x := idleDay(d)
	x.CPUP95, x.CPUAvg, x.CPUMax = 45, 20, 90
	x.NetBytes, x.NewInbound, x.Sessions, x.DiskWriteBytes = 800e6, 1200, 3, 2e9
	return x
}

// series builds n consecutive days from start; f returns the day and whether it is present (false = agent silent).
func series(start time.Time, n int, f func(d time.Time) (Day, bool)) []Day {
	out := make([]Day, 0, n)
	for i := 0; i < n; i++ {
		d := start.AddDate(0, 0, i)
		if day, ok := f(d); ok {
			out = append(out, day)
		}
	}
	return out
}

func allIdle(d time.Time) (Day, bool) { return idleDay(d), true }

// hostOf wraps days in a host with 8 vCPU, 16 GiB, 0.5 TB and a quiet, fully covered 30-day window.
func hostOf(id int64, system string, days []Day) HostInput {
	return HostInput{HostID: id, Host: "h" + string(rune('a'+id%26)), System: system, Department: "dept",
		VCPU: 8, MemBytes: 16 << 30, DiskBytes: 500e9, Days: days,
		Window: Window{CPUP95: 25, MemP99: 50, Coverage: 1}}
}

func mustHost(t *testing.T, h HostInput, exc []Exception, now time.Time, th Thresholds) HostReport {
	t.Helper()
	r, err := EvaluateHost(h, exc, now, th)
	if err != nil {
		t.Fatalf("EvaluateHost: %v", err)
	}
	return r
}

// idleKind returns the kind of the host's idle-class finding or insufficient-data/ok.
func idleKind(r HostReport) Kind {
	if f, ok := r.idleFinding(); ok {
		return f.Kind
	}
	if _, ok := r.Find(KindInsufficientData); ok {
		return KindInsufficientData
	}
	return KindOK
}

func hasReason(f Finding, r Reason) bool {
	for _, x := range f.Reasons {
		if x == r {
			return true
		}
	}
	return false
}

func sameDay(a, b time.Time) bool { return dayNum(a) == dayNum(b) }

func near(a, b, rel float64) bool { return math.Abs(a-b) <= rel*math.Max(math.Abs(a), math.Abs(b)) }

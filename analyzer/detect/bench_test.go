package detect

import (
	"testing"
	"time"
)

// BenchmarkEvaluate1000Hosts400Days evaluates a fleet of 1,000 hosts with 400 days each: a mix of idle, busy,
// month-end batch and filling-disk hosts spread over 50 systems.
func BenchmarkEvaluate1000Hosts400Days(b *testing.B) {
	start := date(2025, 1, 1)
	hosts := make([]HostInput, 1000)
	for i := range hosts {
		kind := i % 4
		days := series(start, 400, func(d time.Time) (Day, bool) {
			switch kind {
			case 0:
				return idleDay(d), true
			case 1:
				return busyDay(d), true
			case 2:
				if d.AddDate(0, 0, 3).Month() != d.Month() {
					return busyDay(d), true
				}
				return idleDay(d), d.Day() != 10 // one silent day a month
			default:
				x := busyDay(d)
				x.FSUsedBytes = 100e9 + 1e9*float64(dayNum(d)-dayNum(start))
				return x, true
			}
		})
		hosts[i] = hostOf(int64(i+1), "sys"+string(rune('A'+i%50)), days)
	}
	now := nowOn(start.AddDate(0, 0, 400))
	th := DefaultThresholds()
	b.ReportAllocs()
	for b.Loop() {
		rep, err := Evaluate(hosts, nil, now, th)
		if err != nil || len(rep.Hosts) != 1000 {
			b.Fatal(err)
		}
	}
}

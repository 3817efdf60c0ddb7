// Package calendar knows China's statutory holidays and adjusted working days (调休) and counts working days.
//
// The table is transcribed from the State Council's annual notices on holiday arrangements (国务院办公厅关于
// 部分节假日安排的通知); tests cross-check it against an independent copy. Years outside the table fall back to
// the plain Monday–Friday week, and Known reports whether a year is covered.
package calendar

import (
	"fmt"
	"time"
)

// Shanghai is China Standard Time (UTC+8, no daylight saving); it does not depend on the system's tzdata.
var Shanghai = time.FixedZone("Asia/Shanghai", 8*3600)

// Kind classifies a calendar day.
type Kind int

const (
	Workday         Kind = iota // an ordinary Monday–Friday
	Weekend                     // an ordinary Saturday or Sunday
	Holiday                     // a statutory day off (including the weekend days folded into a holiday)
	AdjustedWorkday             // a Saturday or Sunday that is a working day because of 调休
)

// String returns a short English name of the kind.
func (k Kind) String() string {
	switch k {
	case Workday:
		return "workday"
	case Weekend:
		return "weekend"
	case Holiday:
		return "holiday"
	case AdjustedWorkday:
		return "adjusted-workday"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// period is a run of consecutive days off, or a single adjusted working day, of one named holiday.
type period struct {
	name     string // Chinese name as in the notice
	from, to string // inclusive, YYYY-MM-DD
	off      bool
}

// table holds the arrangements per year.
var table = map[int][]period{
	2024: {
		{"元旦", "2024-01-01", "2024-01-01", true},
		{"春节", "2024-02-04", "2024-02-04", false},
		{"春节", "2024-02-10", "2024-02-17", true},
		{"春节", "2024-02-18", "2024-02-18", false},
		{"清明节", "2024-04-04", "2024-04-06", true},
		{"清明节", "2024-04-07", "2024-04-07", false},
		{"劳动节", "2024-04-28", "2024-04-28", false},
		{"劳动节", "2024-05-01", "2024-05-05", true},
		{"劳动节", "2024-05-11", "2024-05-11", false},
		{"端午节", "2024-06-10", "2024-06-10", true},
		{"中秋节", "2024-09-14", "2024-09-14", false},
		{"中秋节", "2024-09-15", "2024-09-17", true},
		{"国庆节", "2024-09-29", "2024-09-29", false},
		{"国庆节", "2024-10-01", "2024-10-07", true},
		{"国庆节", "2024-10-12", "2024-10-12", false},
	},
	2025: {
		{"元旦", "2025-01-01", "2025-01-01", true},
		{"春节", "2025-01-26", "2025-01-26", false},
		{"春节", "2025-01-28", "2025-02-04", true},
		{"春节", "2025-02-08", "2025-02-08", false},
		{"清明节", "2025-04-04", "2025-04-06", true},
		{"劳动节", "2025-04-27", "2025-04-27", false},
		{"劳动节", "2025-05-01", "2025-05-05", true},
		{"端午节", "2025-05-31", "2025-06-02", true},
		{"国庆节、中秋节", "2025-09-28", "2025-09-28", false},
		{"国庆节、中秋节", "2025-10-01", "2025-10-08", true},
		{"国庆节、中秋节", "2025-10-11", "2025-10-11", false},
	},
	2026: {
		{"元旦", "2026-01-01", "2026-01-03", true},
		{"元旦", "2026-01-04", "2026-01-04", false},
		{"春节", "2026-02-14", "2026-02-14", false},
		{"春节", "2026-02-15", "2026-02-23", true},
		{"春节", "2026-02-28", "2026-02-28", false},
		{"清明节", "2026-04-04", "2026-04-06", true},
		{"劳动节", "2026-05-01", "2026-05-05", true},
		{"劳动节", "2026-05-09", "2026-05-09", false},
		{"端午节", "2026-06-19", "2026-06-21", true},
		{"国庆节", "2026-09-20", "2026-09-20", false},
		{"中秋节", "2026-09-25", "2026-09-27", true},
		{"国庆节", "2026-10-01", "2026-10-07", true},
		{"国庆节", "2026-10-10", "2026-10-10", false},
	},
}

type dayInfo struct {
	name string
	off  bool
}

type ymd struct {
	y int
	m time.Month
	d int
}

var days = func() map[ymd]dayInfo {
	m := make(map[ymd]dayInfo)
	for _, ps := range table {
		for _, p := range ps {
			from, err1 := time.Parse(time.DateOnly, p.from)
			to, err2 := time.Parse(time.DateOnly, p.to)
			if err1 != nil || err2 != nil || to.Before(from) {
				panic(fmt.Sprintf("calendar: bad period %v", p))
			}
			for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
				m[ymd{d.Year(), d.Month(), d.Day()}] = dayInfo{p.name, p.off}
			}
		}
	}
	return m
}()

// Known reports whether the holiday arrangements of year are in the table.
func Known(year int) bool {
	_, ok := table[year]
	return ok
}

// KindOf classifies the calendar day of t in China Standard Time.
func KindOf(t time.Time) Kind {
	k, _ := Classify(t)
	return k
}

// Classify returns the kind of the day of t (in China Standard Time) and, for holidays and adjusted working days,
// the name of the holiday.
func Classify(t time.Time) (Kind, string) {
	t = t.In(Shanghai)
	if info, ok := days[ymd{t.Year(), t.Month(), t.Day()}]; ok {
		if info.off {
			return Holiday, info.name
		}
		return AdjustedWorkday, info.name
	}
	if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday {
		return Weekend, ""
	}
	return Workday, ""
}

// IsWorkday reports whether the day of t is a working day for government offices.
func IsWorkday(t time.Time) bool {
	k := KindOf(t)
	return k == Workday || k == AdjustedWorkday
}

// AddWorkdays returns the end of the n-th working day after the day of t (n ≥ 0): the deadline of "answer within
// n working days" for a request made at t. The result is 23:59:59.999999999 China Standard Time of that day;
// n = 0 gives the end of t's own day.
func AddWorkdays(t time.Time, n int) time.Time {
	t = t.In(Shanghai)
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, Shanghai)
	for n > 0 {
		d = d.AddDate(0, 0, 1)
		if IsWorkday(d) {
			n--
		}
	}
	return d.AddDate(0, 0, 1).Add(-time.Nanosecond)
}

// WorkdaysBetween counts the working days in the half-open day range (from, to]: the days after from's day up
// to and including to's day. It is 0 when to is on or before from's day.
func WorkdaysBetween(from, to time.Time) int {
	from, to = from.In(Shanghai), to.In(Shanghai)
	d := time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, Shanghai)
	end := time.Date(to.Year(), to.Month(), to.Day(), 0, 0, 0, 0, Shanghai)
	n := 0
	for d.Before(end) {
		d = d.AddDate(0, 0, 1)
		if IsWorkday(d) {
			n++
		}
	}
	return n
}

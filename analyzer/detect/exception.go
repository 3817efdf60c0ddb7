package detect

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ExceptionType is why a host may look idle without being a zombie.
type ExceptionType string

// Exception types.
const (
	// ExceptDRStandby is a disaster-recovery standby: idle by design. Covers idle-class and underused findings.
	ExceptDRStandby ExceptionType = "dr-standby"
	// ExceptScheduledBatch runs on a schedule (Exception.Schedule) and idles otherwise. Covers idle-class
	// findings only (never overload or underused).
	ExceptScheduledBatch ExceptionType = "scheduled-batch"
	// ExceptSeasonal is busy only in some months (Exception.Months). Covers idle-class findings only.
	ExceptSeasonal ExceptionType = "seasonal"
)

// MaxExceptionMonths is the longest an exception may last: Expires ≤ Created + 12 months.
const MaxExceptionMonths = 12

// Exception is an owner's statement that a host (or every host of a system) is idle for a reason. While live
// (Created ≤ now < Expires) it turns the findings it covers into excepted ones; once expired they return.
type Exception struct {
	ID   int64
	Type ExceptionType
	// HostID scopes the exception to one host; when 0, System scopes it to every host of that system.
	HostID int64
	System string
	Owner  string
	Reason string
	// Schedule is required for scheduled-batch and forbidden otherwise; see ParseSchedule.
	Schedule string
	// Months is required for seasonal (the months in which the system is busy) and forbidden otherwise.
	Months           []time.Month
	Created, Expires time.Time
}

// Validate reports every invalid field of e; each error is a *FieldError naming the field.
func (e Exception) Validate() error {
	var errs []error
	bad := func(field, msg string) { errs = append(errs, &FieldError{Field: field, Msg: msg}) }
	switch e.Type {
	case ExceptDRStandby, ExceptScheduledBatch, ExceptSeasonal:
	case "":
		bad("type", "missing (dr-standby, scheduled-batch or seasonal)")
	default:
		bad("type", fmt.Sprintf("unknown %q (dr-standby, scheduled-batch or seasonal)", string(e.Type)))
	}
	if e.HostID < 0 {
		bad("host_id", "must be positive")
	}
	if e.HostID == 0 && strings.TrimSpace(e.System) == "" {
		bad("host_id", "host_id or system is required")
	}
	if strings.TrimSpace(e.Owner) == "" {
		bad("owner", "missing")
	}
	if strings.TrimSpace(e.Reason) == "" {
		bad("reason", "missing")
	}
	if e.Type == ExceptScheduledBatch {
		if strings.TrimSpace(e.Schedule) == "" {
			bad("schedule", "required for scheduled-batch")
		} else if _, err := ParseSchedule(e.Schedule); err != nil {
			bad("schedule", err.Error())
		}
	} else if e.Schedule != "" {
		bad("schedule", "only for scheduled-batch")
	}
	if e.Type == ExceptSeasonal {
		if len(e.Months) == 0 {
			bad("months", "required for seasonal")
		}
		var seen [13]bool
		for _, m := range e.Months {
			switch {
			case m < time.January || m > time.December:
				bad("months", fmt.Sprintf("%d is not a month (1-12)", int(m)))
			case seen[m]:
				bad("months", fmt.Sprintf("%d listed twice", int(m)))
			default:
				seen[m] = true
			}
		}
		if len(e.Months) >= 12 {
			bad("months", "all twelve months listed: not seasonal")
		}
	} else if len(e.Months) > 0 {
		bad("months", "only for seasonal")
	}
	switch {
	case e.Created.IsZero():
		bad("created", "missing")
	case e.Expires.IsZero():
		bad("expires", "missing")
	case !e.Expires.After(e.Created):
		bad("expires", "must be after created")
	case e.Expires.After(e.Created.AddDate(0, MaxExceptionMonths, 0)):
		bad("expires", fmt.Sprintf("more than %d months after created (%s)", MaxExceptionMonths, e.Created.AddDate(0, MaxExceptionMonths, 0).Format(time.DateOnly)))
	}
	return errors.Join(errs...)
}

// Live reports whether e is in force at now: Created ≤ now < Expires.
func (e Exception) Live(now time.Time) bool {
	return !now.Before(e.Created) && now.Before(e.Expires)
}

// Covers reports whether an exception of e's type may except a finding of kind k.
func (e Exception) Covers(k Kind) bool {
	switch e.Type {
	case ExceptDRStandby:
		return k.IsIdle() || k == KindUnderused
	case ExceptScheduledBatch, ExceptSeasonal:
		return k.IsIdle()
	}
	return false
}

// appliesTo reports whether e is scoped to host h.
func (e Exception) appliesTo(h *HostInput) bool {
	if e.HostID != 0 {
		return e.HostID == h.HostID
	}
	return e.System != "" && e.System == h.System
}

// pickException returns the live exception covering kind k for host h: host-scoped before system-scoped,
// then the latest expiry. Nil when none.
func pickException(exc []Exception, h *HostInput, k Kind, now time.Time) *Exception {
	var best *Exception
	for i := range exc {
		e := &exc[i]
		if !e.appliesTo(h) || !e.Live(now) || !e.Covers(k) {
			continue
		}
		if best == nil ||
			(e.HostID != 0 && best.HostID == 0) ||
			((e.HostID != 0) == (best.HostID != 0) && e.Expires.After(best.Expires)) {
			best = e
		}
	}
	return best
}

// Schedule is a parsed day-granularity batch schedule.
type Schedule struct {
	spec     string
	dom      [32]bool // day of month 1..31
	lastN    int      // "monthly last N": the last N days of each month
	dow      [7]bool  // Sunday = 0
	mon      [13]bool // 1..12
	domStar  bool
	dowStar  bool
	cronLike bool
}

// String returns the schedule as written.
func (s Schedule) String() string { return s.spec }

// Matches reports whether the civil date of day (in Location) is a scheduled day.
func (s Schedule) Matches(day time.Time) bool {
	t := day.In(Location)
	y, m, d := t.Date()
	if !s.mon[m] {
		return false
	}
	if s.lastN > 0 {
		dim := time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
		return d > dim-s.lastN
	}
	domOK, dowOK := s.dom[d], s.dow[t.Weekday()]
	if s.cronLike && !s.domStar && !s.dowStar {
		return domOK || dowOK // cron: both restricted → either matches
	}
	return domOK && dowOK
}

var weekdayNames = map[string]int{"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}

var monthNames = map[string]int{"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7,
	"aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}

// ParseSchedule parses a batch schedule at day granularity. Accepted forms (case-insensitive):
//
//	daily
//	weekly mon,wed-fri            weekdays (sun..sat), lists and ranges
//	monthly day 28-31             days of month, lists and ranges (days past a month's end never match)
//	monthly last 3                the last N days of every month (1..28)
//	cron 0 2 28-31 * *            a five-field cron expression (minute hour dom month dow); "cron" is optional.
//	                              Minute and hour are checked but only the day fields matter; lists, ranges,
//	                              steps (*/2, 1-15/3) and names (jan, mon) are accepted; when both dom and dow are
//	                              restricted a day matches either, as in cron.
func ParseSchedule(spec string) (Schedule, error) {
	s := Schedule{spec: spec}
	f := strings.Fields(strings.ToLower(spec))
	all := func(b []bool) {
		for i := range b {
			b[i] = true
		}
	}
	all(s.mon[1:])
	switch {
	case len(f) == 0:
		return s, errors.New("empty schedule")
	case len(f) == 1 && f[0] == "daily":
		all(s.dom[1:])
		all(s.dow[:])
	case f[0] == "weekly":
		if len(f) != 2 {
			return s, fmt.Errorf("%q: want \"weekly mon,fri\"", spec)
		}
		all(s.dom[1:])
		if err := parseField(f[1], 0, 6, weekdayNames, s.dow[:]); err != nil {
			return s, fmt.Errorf("%q: weekdays: %w", spec, err)
		}
	case f[0] == "monthly":
		if len(f) != 3 || (f[1] != "day" && f[1] != "last") {
			return s, fmt.Errorf("%q: want \"monthly day 28-31\" or \"monthly last 3\"", spec)
		}
		all(s.dow[:])
		if f[1] == "last" {
			n, err := strconv.Atoi(f[2])
			if err != nil || n < 1 || n > 28 {
				return s, fmt.Errorf("%q: last: want 1..28 days", spec)
			}
			s.lastN = n
			break
		}
		if err := parseField(f[2], 1, 31, nil, s.dom[:]); err != nil {
			return s, fmt.Errorf("%q: days: %w", spec, err)
		}
	default:
		if f[0] == "cron" {
			f = f[1:]
		}
		if len(f) != 5 {
			return s, fmt.Errorf("%q: unknown form (daily, weekly ..., monthly day ..., monthly last N, or 5-field cron)", spec)
		}
		var minute [60]bool
		var hour [24]bool
		s.cronLike = true
		s.mon = [13]bool{}
		for i, fl := range []struct {
			name   string
			lo, hi int
			names  map[string]int
			dst    []bool
		}{
			{"minute", 0, 59, nil, minute[:]},
			{"hour", 0, 23, nil, hour[:]},
			{"day of month", 1, 31, nil, s.dom[:]},
			{"month", 1, 12, monthNames, s.mon[:]},
			{"day of week", 0, 7, weekdayNames, nil},
		} {
			dst := fl.dst
			var dow [8]bool
			if dst == nil {
				dst = dow[:]
			}
			if err := parseField(f[i], fl.lo, fl.hi, fl.names, dst); err != nil {
				return s, fmt.Errorf("%q: %s: %w", spec, fl.name, err)
			}
			if fl.dst == nil {
				copy(s.dow[:], dow[:7])
				if dow[7] {
					s.dow[0] = true // 7 is Sunday too
				}
			}
		}
		s.domStar = strings.HasPrefix(f[2], "*")
		s.dowStar = strings.HasPrefix(f[4], "*")
	}
	return s, nil
}

// parseField parses a cron-style list of values, ranges and steps into dst (indexed by value).
func parseField(field string, lo, hi int, names map[string]int, dst []bool) error {
	val := func(s string) (int, error) {
		if n, ok := names[s]; ok {
			return n, nil
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < lo || n > hi {
			return 0, fmt.Errorf("%q not in %d-%d", s, lo, hi)
		}
		return n, nil
	}
	for _, part := range strings.Split(field, ",") {
		rng, stepStr, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepStr)
			if err != nil || n < 1 {
				return fmt.Errorf("step %q must be a positive number", stepStr)
			}
			step = n
		}
		a, b := lo, hi
		switch {
		case rng == "*":
		case strings.Contains(rng, "-"):
			x, y, _ := strings.Cut(rng, "-")
			var err error
			if a, err = val(x); err != nil {
				return err
			}
			if b, err = val(y); err != nil {
				return err
			}
			if b < a {
				return fmt.Errorf("range %q is backwards", rng)
			}
		default:
			n, err := val(rng)
			if err != nil {
				return err
			}
			a, b = n, n
			if hasStep {
				b = hi
			}
		}
		for v := a; v <= b; v += step {
			dst[v] = true
		}
	}
	return nil
}

package detect

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestExceptionValidate(t *testing.T) {
	good := Exception{Type: ExceptDRStandby, HostID: 1, Owner: "owner", Reason: "standby",
		Created: date(2026, 1, 31), Expires: date(2027, 1, 31)}
	if err := good.Validate(); err != nil {
		t.Fatalf("good: %v", err)
	}
	tests := []struct {
		name  string
		mod   func(*Exception)
		field string
	}{
		{"no type", func(e *Exception) { e.Type = "" }, "type"},
		{"unknown type", func(e *Exception) { e.Type = "holiday" }, "type"},
		{"no scope", func(e *Exception) { e.HostID = 0 }, "host_id"},
		{"negative host", func(e *Exception) { e.HostID = -3 }, "host_id"},
		{"no owner", func(e *Exception) { e.Owner = "  " }, "owner"},
		{"no reason", func(e *Exception) { e.Reason = "" }, "reason"},
		{"no created", func(e *Exception) { e.Created = time.Time{} }, "created"},
		{"no expiry", func(e *Exception) { e.Expires = time.Time{} }, "expires"},
		{"expiry before creation", func(e *Exception) { e.Expires = date(2025, 12, 1) }, "expires"},
		{"one day over 12 months", func(e *Exception) { e.Expires = date(2027, 2, 1) }, "expires"},
		{"batch without schedule", func(e *Exception) { e.Type = ExceptScheduledBatch }, "schedule"},
		{"batch with bad schedule", func(e *Exception) { e.Type, e.Schedule = ExceptScheduledBatch, "monthly day 0-40" }, "schedule"},
		{"schedule on dr standby", func(e *Exception) { e.Schedule = "daily" }, "schedule"},
		{"seasonal without months", func(e *Exception) { e.Type = ExceptSeasonal }, "months"},
		{"seasonal month 13", func(e *Exception) { e.Type, e.Months = ExceptSeasonal, []time.Month{3, 13} }, "months"},
		{"seasonal month twice", func(e *Exception) { e.Type, e.Months = ExceptSeasonal, []time.Month{3, 3} }, "months"},
		{"months on dr standby", func(e *Exception) { e.Months = []time.Month{3} }, "months"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := good
			tc.mod(&e)
			err := e.Validate()
			var fe *FieldError
			if err == nil || !errors.As(err, &fe) || fe.Field != tc.field {
				t.Errorf("error %v, want one naming %q", err, tc.field)
			}
		})
	}
	sys := good
	sys.HostID, sys.System = 0, "tax"
	if err := sys.Validate(); err != nil {
		t.Errorf("system-scoped: %v", err)
	}
	all := good
	all.Type, all.Months = ExceptSeasonal, []time.Month{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	if err := all.Validate(); err == nil || !strings.Contains(err.Error(), "months") {
		t.Errorf("twelve months: %v", err)
	}
}

func TestExceptionCoversAndInvalidInEvaluate(t *testing.T) {
	for _, tc := range []struct {
		typ  ExceptionType
		kind Kind
		want bool
	}{
		{ExceptDRStandby, KindZombie, true},
		{ExceptDRStandby, KindUnderused, true},
		{ExceptDRStandby, KindOverloaded, false},
		{ExceptScheduledBatch, KindIdleCandidate, true},
		{ExceptScheduledBatch, KindUnderused, false},
		{ExceptScheduledBatch, KindOverloaded, false},
		{ExceptSeasonal, KindComatose, true},
		{ExceptSeasonal, KindInsufficientData, false},
	} {
		if got := (Exception{Type: tc.typ}).Covers(tc.kind); got != tc.want {
			t.Errorf("%s covers %s: %v", tc.typ, tc.kind, got)
		}
	}
	bad := []Exception{{Type: ExceptDRStandby, HostID: 1, Owner: "o", Reason: "r",
		Created: date(2026, 1, 1), Expires: date(2028, 1, 1)}}
	_, err := Evaluate([]HostInput{hostOf(1, "s", nil)}, bad, nowOn(date(2026, 2, 1)), DefaultThresholds())
	if err == nil || !strings.Contains(err.Error(), "exceptions[0]: expires") {
		t.Errorf("Evaluate with a bad exception: %v", err)
	}
	_, err = EvaluateHost(hostOf(1, "s", nil), bad, nowOn(date(2026, 2, 1)), DefaultThresholds())
	if err == nil || !strings.Contains(err.Error(), "expires") {
		t.Errorf("EvaluateHost with a bad exception: %v", err)
	}
}

func TestScheduleBatchCoversOnlyIdle(t *testing.T) {
	start := date(2026, 1, 1)
	days := series(start, 60, func(d time.Time) (Day, bool) {
		x := busyDay(d)
		x.FSMaxUsedPct = 96
		return x, true
	})
	h := hostOf(1, "s", days)
	exc := []Exception{{Type: ExceptScheduledBatch, HostID: 1, Owner: "o", Reason: "r", Schedule: "daily",
		Created: start, Expires: start.AddDate(0, 6, 0)}}
	r := mustHost(t, h, exc, nowOn(start.AddDate(0, 0, 60)), DefaultThresholds())
	f, ok := r.Find(KindOverloaded)
	if !ok || f.Status != StatusOpen || f.Exception != nil {
		t.Errorf("overload under a batch exception: %+v", r.Findings)
	}
}

func TestParseSchedule(t *testing.T) {
	tests := []struct {
		spec string
		yes  []time.Time
		no   []time.Time
	}{
		{"daily", []time.Time{date(2026, 2, 3)}, nil},
		{"monthly last 3", []time.Time{date(2026, 1, 29), date(2026, 1, 31), date(2026, 2, 26), date(2028, 2, 27)},
			[]time.Time{date(2026, 1, 28), date(2026, 2, 25), date(2028, 2, 26)}},
		{"Monthly Day 28-31", []time.Time{date(2026, 2, 28), date(2026, 3, 31)}, []time.Time{date(2026, 2, 27), date(2026, 3, 1)}},
		{"monthly day 1,15", []time.Time{date(2026, 4, 1), date(2026, 4, 15)}, []time.Time{date(2026, 4, 2)}},
		{"weekly mon,wed-fri", []time.Time{date(2026, 3, 2), date(2026, 3, 4), date(2026, 3, 6)}, // Mon, Wed, Fri
			[]time.Time{date(2026, 3, 3), date(2026, 3, 7), date(2026, 3, 8)}},
		// cron: dom and dow both restricted → either.
		{"cron 0 2 1 * mon", []time.Time{date(2026, 3, 1), date(2026, 3, 2)}, []time.Time{date(2026, 3, 3)}},
		{"30 23 */10 jan,mar *", []time.Time{date(2026, 1, 1), date(2026, 1, 11), date(2026, 3, 31)},
			[]time.Time{date(2026, 1, 2), date(2026, 2, 1)}},
		{"0 3 * * 7", []time.Time{date(2026, 3, 1)}, []time.Time{date(2026, 3, 2)}}, // 7 is Sunday
		{"0 3 * * 1-5", []time.Time{date(2026, 3, 2)}, []time.Time{date(2026, 3, 1)}},
	}
	for _, tc := range tests {
		s, err := ParseSchedule(tc.spec)
		if err != nil {
			t.Errorf("%q: %v", tc.spec, err)
			continue
		}
		for _, d := range tc.yes {
			if !s.Matches(d) {
				t.Errorf("%q should match %s", tc.spec, d.Format("2006-01-02 Mon"))
			}
		}
		for _, d := range tc.no {
			if s.Matches(d) {
				t.Errorf("%q should not match %s", tc.spec, d.Format("2006-01-02 Mon"))
			}
		}
		if s.String() != tc.spec {
			t.Errorf("String %q", s.String())
		}
	}
	for _, bad := range []string{"", "hourly", "weekly", "weekly funday", "monthly day", "monthly day 32",
		"monthly day 5-1", "monthly last 0", "monthly last 29", "0 2 * *", "0 24 * * *", "0 2 * 13 *",
		"0 2 */0 * *", "0 2 1,,2 * *", "cron 0 2 * * 8"} {
		if _, err := ParseSchedule(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

package report_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"zhizhi/analyzer/detect"
	"zhizhi/analyzer/report"
	"zhizhi/analyzer/report/reporttest"
	"zhizhi/collector/store"
)

// clock is a settable clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newEngine(t *testing.T, st report.Store, c *clock, opts report.Options) *report.Engine {
	t.Helper()
	opts.Clock = c.now
	e, err := report.New(st, opts)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func hostReport(t *testing.T, snap report.Snapshot, id int64) detect.HostReport {
	t.Helper()
	for _, h := range snap.Report.Hosts {
		if h.HostID == id {
			return h
		}
	}
	t.Fatalf("host %d not evaluated", id)
	return detect.HostReport{}
}

func kinds(h detect.HostReport) []detect.Kind {
	var out []detect.Kind
	for _, f := range h.Findings {
		out = append(out, f.Kind)
	}
	return out
}

// TestSixCases runs store rollups → adapter → detect for the six reference cases of issue 5.
func TestSixCases(t *testing.T) {
	fx := reporttest.Seed(t)
	ctx := context.Background()
	c := &clock{reporttest.Now}
	e := newEngine(t, fx.Store, c, report.Options{})
	exp := reporttest.Now.AddDate(0, 6, 0)
	x, err := e.AddException(ctx, detect.Exception{Type: detect.ExceptDRStandby, HostID: fx.Hosts[reporttest.StandbySystem],
		Owner: "张三", Reason: "异地灾备，每季度切换演练", Created: reporttest.Now.AddDate(0, -1, 0), Expires: exp})
	if err != nil {
		t.Fatalf("add exception: %v", err)
	}
	snap, err := e.Evaluate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Report.Hosts) != 6 {
		t.Fatalf("%d hosts evaluated, want 6", len(snap.Report.Hosts))
	}

	// Month-end batch server: busy the last 4 days of each month, so never a zombie nor an idle candidate.
	batch := hostReport(t, snap, fx.Hosts[reporttest.BatchSystem])
	if f := batch.Primary(); f.Kind != detect.KindWatch {
		t.Errorf("batch server: primary %s (%v), want watch", f.Kind, kinds(batch))
	}
	if _, ok := batch.Find(detect.KindZombie); ok {
		t.Errorf("batch server judged zombie")
	}

	// Annual reporting system: idle since April, busy last March: seasonal, downgraded to watch.
	annual := hostReport(t, snap, fx.Hosts[reporttest.AnnualSystem])
	f, ok := annual.Find(detect.KindWatch)
	if !ok || !slices.Contains(f.Reasons, detect.ReasonSeasonalIdle) {
		t.Errorf("annual system: %v (watch reasons %v), want watch with seasonal-idle", kinds(annual), f.Reasons)
	}
	if _, ok := annual.Find(detect.KindComatose); ok {
		t.Errorf("annual system judged comatose")
	}

	// DR standby: idle for two years, comatose but excepted by its live exception.
	standby := hostReport(t, snap, fx.Hosts[reporttest.StandbySystem])
	f = standby.Primary()
	if f.Kind != detect.KindComatose || f.Status != detect.StatusExcepted || f.Exception == nil || f.Exception.ID != x.ID {
		t.Errorf("standby: %s %s exception %+v, want comatose excepted by %d", f.Kind, f.Status, f.Exception, x.ID)
	}

	// Truly idle server: comatose, open, high confidence, frees the whole host.
	idle := hostReport(t, snap, fx.Hosts[reporttest.IdleSystem])
	f = idle.Primary()
	if f.Kind != detect.KindComatose || f.Status != detect.StatusOpen || f.Confidence != detect.ConfidenceHigh {
		t.Errorf("idle server: %s %s %s, want comatose open high", f.Kind, f.Status, f.Confidence)
	}
	if f.Frees == nil || f.Frees.VCPU != 8 || f.Frees.MemGiB != 16 || f.Frees.StorageTB != 1 {
		t.Errorf("idle server frees %+v, want 8 vCPU, 16 GiB, 1 TB", f.Frees)
	}
	if f.Evidence.Coverage30 < 0.99 || f.Evidence.IdleDays30 != 30 || f.Evidence.CurrentRun.IdleDays < 600 {
		t.Errorf("idle server evidence: coverage %v idle30 %d run %d", f.Evidence.Coverage30, f.Evidence.IdleDays30, f.Evidence.CurrentRun.IdleDays)
	}
	if f.Evidence.WindowCPUP95 < 1.9 || f.Evidence.WindowCPUP95 > 2.1 {
		t.Errorf("idle server window P95 CPU %v, want ≈2 (merged over 30 days)", f.Evidence.WindowCPUP95)
	}

	// Overloaded with a filling disk: hot CPU days, memory, and a projected full date within 30 days.
	over := hostReport(t, snap, fx.Hosts[reporttest.OverSystem])
	f, ok = over.Find(detect.KindOverloaded)
	if !ok {
		t.Fatalf("overloaded server: %v, want overloaded", kinds(over))
	}
	for _, r := range []detect.Reason{detect.ReasonCPUHotDays, detect.ReasonMemHigh, detect.ReasonDiskProjectedFull} {
		if !slices.Contains(f.Reasons, r) {
			t.Errorf("overloaded server reasons %v lack %s", f.Reasons, r)
		}
	}
	if tr := f.Evidence.DiskTrend; tr == nil || tr.ProjectedFull.IsZero() || tr.ProjectedFull.After(reporttest.Now.AddDate(0, 0, 30)) {
		t.Errorf("overloaded server disk trend %+v, want full within 30 days", f.Evidence.DiskTrend)
	}
	if f.Needs == nil || f.Needs.VCPU <= 0 || f.Needs.StorageTB <= 0 {
		t.Errorf("overloaded server needs %+v", f.Needs)
	}

	// Three-week agent outage: idle before and after, but the outage is a gap: insufficient data, never idle.
	outage := hostReport(t, snap, fx.Hosts[reporttest.OutageSystem])
	if got := kinds(outage); !slices.Equal(got, []detect.Kind{detect.KindInsufficientData}) {
		t.Errorf("outage host: %v, want only insufficient-data", got)
	}
	f = outage.Primary()
	if f.Evidence.CurrentRun.IdleDays > 10 {
		t.Errorf("outage host: idle run %d crosses the outage", f.Evidence.CurrentRun.IdleDays)
	}

	// The listing puts open findings first, most severe first, and excepted ones last.
	if len(snap.Rows) == 0 || snap.Rows[0].Finding.Kind != detect.KindComatose || snap.Rows[0].System != reporttest.IdleSystem {
		t.Errorf("first row %+v, want the idle server's comatose finding", snap.Rows[0])
	}
	last := snap.Rows[len(snap.Rows)-1]
	if last.Finding.Status != detect.StatusExcepted || last.DepartmentID == 0 {
		t.Errorf("last row %+v, want the excepted standby with its department id", last)
	}
}

// TestExceptionsCRUDAndExpiry stores, lists, expires and deletes exceptions through the engine.
func TestExceptionsCRUDAndExpiry(t *testing.T) {
	fx := reporttest.Seed(t)
	ctx := context.Background()
	c := &clock{reporttest.Now}
	e := newEngine(t, fx.Store, c, report.Options{})
	host := fx.Hosts[reporttest.IdleSystem]

	// Validation errors name the field; nothing is stored.
	_, err := e.AddException(ctx, detect.Exception{Type: detect.ExceptSeasonal, HostID: host, Owner: "李四", Reason: "年报",
		Expires: reporttest.Now.AddDate(0, 13, 0)})
	fields := map[string]bool{}
	var fe *detect.FieldError
	for _, err := range unjoin(err) {
		if errors.As(err, &fe) {
			fields[fe.Field] = true
		}
	}
	if !fields["Expires"] && !fields["expires"] || !fields["Months"] && !fields["months"] {
		t.Errorf("invalid exception: %v, want errors naming expires and months", err)
	}
	if got, _ := e.Exceptions(ctx); len(got) != 0 {
		t.Fatalf("invalid exception stored: %+v", got)
	}

	x, err := e.AddException(ctx, detect.Exception{Type: detect.ExceptScheduledBatch, System: reporttest.IdleSystem,
		Schedule: "monthly last 3", Owner: "李四", Reason: "月末结转", Expires: reporttest.Now.AddDate(0, 0, 10)})
	if err != nil {
		t.Fatal(err)
	}
	list, err := e.Exceptions(ctx)
	if err != nil || len(list) != 1 || list[0].ID != x.ID || list[0].Schedule != "monthly last 3" || !list[0].Created.Equal(reporttest.Now) {
		t.Fatalf("list = %+v, %v", list, err)
	}
	status := func(at time.Time) detect.Status {
		t.Helper()
		c.t = at
		snap, err := e.Evaluate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return hostReport(t, snap, host).Primary().Status
	}
	if s := status(reporttest.Now); s != detect.StatusExcepted {
		t.Errorf("live exception: status %s, want excepted", s)
	}
	if s := status(reporttest.Now.AddDate(0, 0, 11)); s != detect.StatusOpen {
		t.Errorf("expired exception: status %s, want open (the finding returns)", s)
	}
	c.t = reporttest.Now
	if err := e.DeleteException(ctx, x.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.DeleteException(ctx, x.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second delete: %v, want ErrNotFound", err)
	}
	if s := status(reporttest.Now); s != detect.StatusOpen {
		t.Errorf("deleted exception: status %s, want open", s)
	}
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	if err == nil {
		return nil
	}
	return []error{err}
}

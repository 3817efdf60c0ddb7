package store

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"
)

// TestForwardQueueHoldsRetention: raw retention never deletes samples still queued for an active forwarding
// target; once they are sent, or the target has been inactive longer than the raw retention, it does.
func TestForwardQueueHoldsRetention(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	clk := &fakeClock{t: t0}
	s, _ := openTest(t, Options{Clock: clk.Now, Retention: Retention{Raw: time.Hour}})
	a, _ := enroll(t, s, "社保系统", "人社局")
	r := rand.New(rand.NewPCG(1, 2))
	old := t0.Add(-3 * time.Hour)
	mustIngest(t, s, a, batchOf(a, t0, realisticSample(r, 1, old), realisticSample(r, 2, old.Add(time.Minute))), t0)
	if _, err := s.RollupOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ForwardTrim(ctx, "vm", ForwardBound{}); err != nil {
		t.Fatal(err)
	}
	if err := s.EnforceRetention(ctx); err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, s, `SELECT COUNT(*) FROM samples`); n != 2 {
		t.Fatalf("retention deleted queued samples: %d left, want 2", n)
	}
	b, err := s.ForwardRead(ctx, "vm", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Rows) != 2 || b.From != 0 || b.To != 2 || b.Rows[0].Department != "人社局" || b.Rows[0].System != "社保系统" ||
		b.Rows[0].Hostname != "host-"+a.ID || b.Rows[0].AgentID != a.ID || b.Rows[0].TS != old.UnixMilli() ||
		b.Rows[1].Sample.Seq != 2 {
		t.Fatalf("read %+v", b)
	}
	if err := s.ForwardCommit(ctx, "vm", 1, 2, 2, 0); !errors.Is(err, ErrForwardConflict) {
		t.Fatalf("commit from a stale watermark: %v, want ErrForwardConflict", err)
	}
	if err := s.ForwardCommit(ctx, "vm", 0, 1, 1, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.EnforceRetention(ctx); err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, s, `SELECT COUNT(*) FROM samples`); n != 1 {
		t.Fatalf("after sending one: %d samples left, want the queued 1", n)
	}
	st, err := s.ForwardStatus(ctx, "vm")
	if err != nil {
		t.Fatal(err)
	}
	if st != (ForwardStatus{Watermark: 1, Backlog: 1, Sent: 1}) {
		t.Fatalf("status %+v", st)
	}
	// A target idle for longer than the raw retention (forwarding switched off) no longer holds rows.
	clk.Set(t0.Add(2 * time.Hour))
	if err := s.EnforceRetention(ctx); err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, s, `SELECT COUNT(*) FROM samples`); n != 0 {
		t.Fatalf("inactive target: %d samples left, want 0", n)
	}
}

// TestForwardTrimBounds: the row bound keeps the newest MaxRows; the age bound drops what was ingested more
// than MaxAge ago, by the ingest-time marks; both count what they drop.
func TestForwardTrimBounds(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	clk := &fakeClock{t: t0}
	s, _ := openTest(t, Options{Clock: clk.Now})
	a, _ := enroll(t, s, "sys", "dept")
	r := rand.New(rand.NewPCG(3, 4))
	seq := uint64(0)
	ingest := func(n int) {
		t.Helper()
		b := batchOf(a, clk.Now())
		for range n {
			seq++
			b.Samples = append(b.Samples, realisticSample(r, seq, clk.Now().Add(time.Duration(seq)*time.Second)))
		}
		mustIngest(t, s, a, b, clk.Now())
	}
	trim := func(bound ForwardBound, wantDropped int64, want ForwardStatus) {
		t.Helper()
		n, err := s.ForwardTrim(ctx, "t", bound)
		if err != nil {
			t.Fatal(err)
		}
		st, err := s.ForwardStatus(ctx, "t")
		if err != nil {
			t.Fatal(err)
		}
		if n != wantDropped || st != want {
			t.Fatalf("trim %+v: dropped %d, status %+v; want %d, %+v", bound, n, st, wantDropped, want)
		}
	}
	ingest(10)
	trim(ForwardBound{MaxRows: 4}, 6, ForwardStatus{Watermark: 6, Backlog: 4, Dropped: 6})
	trim(ForwardBound{MaxRows: 4}, 0, ForwardStatus{Watermark: 6, Backlog: 4, Dropped: 6})
	clk.Set(t0.Add(2 * time.Minute))
	ingest(3) // ids 11..13, two minutes after the first mark (max id 10)
	trim(ForwardBound{MaxAge: 90 * time.Second}, 4, ForwardStatus{Watermark: 10, Backlog: 3, Dropped: 10})
	clk.Set(t0.Add(3 * time.Minute))
	trim(ForwardBound{MaxAge: 90 * time.Second}, 0, ForwardStatus{Watermark: 10, Backlog: 3, Dropped: 10})
	clk.Set(t0.Add(4 * time.Minute)) // the mark at 2 min (max id 13) is now older than 90 s
	trim(ForwardBound{MaxAge: 90 * time.Second}, 3, ForwardStatus{Watermark: 13, Backlog: 0, Dropped: 13})
}

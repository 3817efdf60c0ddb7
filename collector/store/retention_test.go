package store

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"zhizhi/agent/wire"
)

func TestRetention(t *testing.T) {
	defer func(c, s int64) { retentionChunk, retentionStmts = c, s }(retentionChunk, retentionStmts)
	retentionChunk, retentionStmts = 3, 4 // many small transactions and repeated chunks per host
	ctx := context.Background()
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	clk := &fakeClock{t: now}
	s, _ := openTest(t, Options{Clock: clk.Now, Retention: Retention{Raw: 7 * 24 * time.Hour}}) // others default
	a, _ := enroll(t, s, "OA", "Finance")
	r := rand.New(rand.NewPCG(11, 11))
	day := 24 * time.Hour
	seq := uint64(0)
	ingestAt := func(age time.Duration, n int) {
		t.Helper()
		var smps []wire.Sample
		for i := range n {
			seq++
			smps = append(smps, realisticSample(r, seq, now.Add(-age).Add(time.Duration(i)*time.Minute)))
		}
		mustIngest(t, s, a, batchOf(a, now, smps...), now)
	}
	ingestAt(40*day, 5)
	ingestAt(10*day, 5)
	ingestAt(1*day, 5)
	if _, err := s.RollupOnce(ctx); err != nil {
		t.Fatal(err)
	}
	ingestAt(9*day, 4) // late and not rolled up yet: must survive retention
	h := hostID(t, s, a.ID)
	rawAges := func() (n int64) {
		return countRows(t, s, `SELECT COUNT(*) FROM samples WHERE host_id = ?`, h)
	}
	rows := func(table string, olderThan time.Duration) int64 {
		return countRows(t, s, `SELECT COUNT(*) FROM `+table+` WHERE ts < ?`, now.Add(-olderThan).Unix())
	}
	m1Before, h1Before, d1Before := rows("rollup_1m", 0), rows("rollup_1h", 0), rows("rollup_1d", 0)

	if err := s.EnforceRetention(ctx); err != nil {
		t.Fatal(err)
	}
	if n := rawAges(); n != 9 { // 1-day-old 5 + unconsumed 4
		t.Fatalf("%d raw samples left, want 9", n)
	}
	if n := countRows(t, s, `SELECT COUNT(*) FROM samples WHERE ts < ? AND id <= (SELECT MIN(watermark) FROM rollup_state)`,
		now.Add(-7*day).UnixMilli()); n != 0 {
		t.Fatalf("%d consumed raw samples older than 7 days left", n)
	}
	if n := rows("rollup_1m", 30*day); n != 0 {
		t.Fatalf("%d 1m rows older than 30 days left", n)
	}
	if m1 := rows("rollup_1m", 0); m1 != m1Before-5*int64(len(wire.HostMetrics)) {
		t.Fatalf("1m rows %d -> %d: expected exactly the 40-day-old minutes to go", m1Before, m1)
	}
	if h1, d1 := rows("rollup_1h", 0), rows("rollup_1d", 0); h1 != h1Before || d1 != d1Before {
		t.Fatalf("hour/day rows changed: %d->%d, %d->%d", h1Before, h1, d1Before, d1)
	}

	// Once rolled up, the late samples go too.
	if _, err := s.RollupOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.EnforceRetention(ctx); err != nil {
		t.Fatal(err)
	}
	if n := rawAges(); n != 5 {
		t.Fatalf("%d raw samples left after rolling up the late ones, want 5", n)
	}

	// Three years on: raw, 1m and 1h are gone, 1d is kept forever.
	clk.Set(now.Add(3 * 365 * day))
	if err := s.EnforceRetention(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Samples != 0 || st.Rollup1m != 0 || st.Rollup1h != 0 || st.Rollup1d == 0 {
		t.Fatalf("after three years: %+v", st)
	}
}

func TestSeriesPicksResolution(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	clk := &fakeClock{t: now}
	s, _ := openTest(t, Options{Clock: clk.Now})
	day := 24 * time.Hour
	cases := []struct {
		name     string
		from, to time.Time
		want     Resolution
	}{
		{"last hour", now.Add(-time.Hour), now, ResRaw},
		{"last 6 hours", now.Add(-6 * time.Hour), now, ResRaw},
		{"an hour 10 days ago (raw expired)", now.Add(-10 * day), now.Add(-10*day + time.Hour), ResMinute},
		{"last 12 hours", now.Add(-12 * time.Hour), now, ResMinute},
		{"last day", now.Add(-day), now, ResMinute},
		{"a day 40 days ago (1m expired)", now.Add(-40 * day), now.Add(-39 * day), ResHour},
		{"last week", now.Add(-7 * day), now, ResHour},
		{"last 60 days", now.Add(-60 * day), now, ResHour},
		{"last 90 days", now.Add(-90 * day), now, ResDay},
		{"last year", now.Add(-365 * day), now, ResDay},
		{"a week three years ago (1h expired)", now.Add(-3 * 365 * day), now.Add(-3*365*day + 7*day), ResDay},
	}
	for _, c := range cases {
		if got := s.PickResolution(c.from, c.to); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}

	a, _ := enroll(t, s, "OA", "Finance")
	r := rand.New(rand.NewPCG(12, 12))
	var smps []wire.Sample
	for i := range 480 { // the last 2 hours at 15 s
		smps = append(smps, realisticSample(r, uint64(i+1), now.Add(-2*time.Hour).Add(time.Duration(i)*15*time.Second)))
	}
	mustIngest(t, s, a, batchOf(a, now, smps...), now)
	if _, err := s.RollupOnce(ctx); err != nil {
		t.Fatal(err)
	}
	h := hostID(t, s, a.ID)

	raw, err := s.Series(ctx, h, wire.MetricMemUsedPct, now.Add(-time.Hour), now)
	if err != nil || raw.Resolution != ResRaw || len(raw.Points) != 240 {
		t.Fatalf("raw series: %s, %d points, %v", raw.Resolution, len(raw.Points), err)
	}
	for i, p := range raw.Points {
		want := smps[240+i]
		if !p.TS.Equal(want.Time) || p.N != 1 || p.Avg != want.Memory.UsedPct || p.Min != p.Max || p.Min != p.Avg {
			t.Fatalf("raw point %d: %+v, want %v at %v", i, p, want.Memory.UsedPct, want.Time)
		}
	}
	mins, err := s.Series(ctx, h, wire.MetricMemUsedPct, now.Add(-12*time.Hour), now)
	if err != nil || mins.Resolution != ResMinute || len(mins.Points) != 120 {
		t.Fatalf("minute series: %s, %d points, %v", mins.Resolution, len(mins.Points), err)
	}
	if p := mins.Points[0]; p.N != 4 || p.Max < p.Avg || p.Avg < p.Min {
		t.Fatalf("minute point %+v", p)
	}
	hours, err := s.Series(ctx, h, wire.FSUsedPctPrefix+"/", now.Add(-7*day), now)
	if err != nil || hours.Resolution != ResHour || len(hours.Points) != 2 || hours.Points[0].P95 == nil {
		t.Fatalf("hour series of a mount: %+v, %v", hours, err)
	}
	none, err := s.Series(ctx, h, "no.such.metric", now.Add(-7*day), now)
	if err != nil || len(none.Points) != 0 {
		t.Fatalf("unknown metric: %+v, %v", none, err)
	}
	if _, err := s.Series(ctx, h+1, wire.MetricMemUsedPct, now.Add(-time.Hour), now); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown host: %v", err)
	}
}

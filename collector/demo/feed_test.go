package demo

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"

	"zhizhi/agent/wire"
	"zhizhi/collector/store"
)

func TestFeedKeepsTheDistrictReporting(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir(), testEnd)
	defer st.Close()
	if _, err := Load(ctx, st, Options{Seed: 9, End: testEnd, Days: 3, HourDays: 1, MinuteHours: 1}); err != nil {
		t.Fatal(err)
	}
	// A real host in the same store is left alone.
	real, _, err := st.EnrollAgent(ctx, "real system", "real department")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Ingest(ctx, real, &wire.Batch{Version: wire.SchemaVersion, Host: &wire.HostFacts{Hostname: "real-01"},
		Samples: []wire.Sample{{Seq: 1, Time: testEnd}}}, testEnd); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	now := testEnd
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(15 * time.Second)
		return now
	}
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- Feed(fctx, st, FeedOptions{Interval: 5 * time.Millisecond, Clock: clock}) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		a, err := st.ListAgents(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if a[0].LastSeq >= 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("feed did not advance: last seq %d", a[0].LastSeq)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	hosts, err := st.Hosts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hosts {
		if h.Hostname == "real-01" {
			if !h.LastSeen.Equal(testEnd) {
				t.Fatalf("the real host was fed: last seen %v", h.LastSeen)
			}
			continue
		}
		if !h.LastSeen.After(testEnd) || h.Latest == nil || !h.Latest.Time.After(testEnd) || h.Latest.CPU == nil {
			t.Fatalf("%s not fed: last seen %v, latest %+v", h.Hostname, h.LastSeen, h.Latest)
		}
	}
	// The fed samples roll up into today's bucket, and the matrix follows.
	if hosts[0].Hostname == "real-01" {
		hosts = hosts[1:]
	}
	before, err := st.SeriesAt(ctx, hosts[0].ID, wire.MetricCPUBusyPct, store.ResDay, testEnd, testEnd.Add(time.Hour))
	if err != nil || len(before.Points) != 1 {
		t.Fatalf("today's row: %v %+v", err, before)
	}
	if _, err := st.RollupOnce(ctx); err != nil {
		t.Fatal(err)
	}
	after, err := st.SeriesAt(ctx, hosts[0].ID, wire.MetricCPUBusyPct, store.ResDay, testEnd, testEnd.Add(time.Hour))
	if err != nil || len(after.Points) != 1 || after.Points[0].N <= before.Points[0].N {
		t.Fatalf("today's row did not grow: %+v -> %+v (%v)", before.Points, after.Points, err)
	}
	vals, err := st.SystemYear(ctx, hosts[0].SystemID, testEnd.Year(), "cpu", store.StatAvg)
	if err != nil {
		t.Fatal(err)
	}
	if v := vals[testEnd.YearDay()-1]; math.IsNaN(v) {
		t.Fatal("no matrix value today")
	}
}

package main

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"zhizhi/collector/ingest"
)

// TestBatchPassesIngest checks that a simulated agent's batch is what the server accepts: it goes through the
// server's own decoder and validator and carries the families the benchmark claims (3 fs, 2 disks, 2 NICs).
func TestBatchPassesIngest(t *testing.T) {
	f := func(idx int, seq uint64) {
		t.Helper()
		rng := rand.New(rand.NewPCG(uint64(idx), 1))
		h := newHost(idx, rng)
		now := time.Now()
		var body bytes.Buffer
		if err := h.batch(&body, "ag-aaaaaaaaaaaa", seq, now, 15*time.Second, rng); err != nil {
			t.Fatal(err)
		}
		b, err := ingest.Decode(&body, "gzip", ingest.Limits{})
		if err != nil {
			t.Fatalf("agent %d: decode: %v", idx, err)
		}
		if err := ingest.Validate(b, "ag-aaaaaaaaaaaa", now, ingest.Limits{}); err != nil {
			t.Fatalf("agent %d: validate: %v", idx, err)
		}
		if len(b.Samples) != 1 || b.Samples[0].Seq != seq || b.Host == nil {
			t.Fatalf("agent %d: %d samples, host %v", idx, len(b.Samples), b.Host)
		}
		s := b.Samples[0]
		if len(s.FS) != 3 || len(s.Disks) != 2 || len(s.Net) != 2 || s.CPU == nil || s.Conns == nil {
			t.Fatalf("agent %d: families fs=%d disk=%d net=%d", idx, len(s.FS), len(s.Disks), len(s.Net))
		}
		n := 0
		s.Flatten(func(string, float64) { n++ })
		if n != 22 {
			t.Fatalf("agent %d: %d metric values, the report says 22", idx, n)
		}
	}
	f(0, 1)
	f(9999, 42)
}

func TestPct(t *testing.T) {
	d := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	f := func(p float64, want time.Duration) {
		t.Helper()
		if got := pct(d, p); got != want {
			t.Errorf("pct(%v) = %v, want %v", p, got, want)
		}
	}
	f(0.5, 5)
	f(0.99, 10)
	f(1, 10)
	f(0, 1)
	if pct(nil, 0.5) != 0 {
		t.Error("pct of nothing is not 0")
	}
}

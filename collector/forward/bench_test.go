package forward

import (
	"context"
	"testing"
	"time"

	"zhizhi/agent/wire"
	"zhizhi/collector/store"
)

// BenchmarkForwardToVictoriaMetrics measures forwarder throughput: b.N raw samples (each a host line and two
// filesystem lines) read from a real store, encoded, gzipped and written to a real VictoriaMetrics.
func BenchmarkForwardToVictoriaMetrics(b *testing.B) {
	vm := startVictoria(b)
	fl := newFleet(b, store.Options{})
	h := fl.hosts[0]
	for done := 0; done < b.N; {
		batch := &wire.Batch{Version: wire.SchemaVersion, AgentID: h.agentID, SentAt: time.Now(),
			Host: &wire.HostFacts{Hostname: h.hostname}}
		for ; done < b.N && len(batch.Samples) < 1000; done++ {
			fl.seq[0]++
			batch.Samples = append(batch.Samples, testSample(fl.seq[0], fl.base.Add(time.Duration(fl.seq[0])*time.Second), 0))
		}
		if _, err := fl.st.Ingest(context.Background(), h.agent, batch, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
	f, err := New(fl.st, fastOpts(vm.url()))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	sent := 0
	for sent < b.N {
		n, err := f.Step(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			b.Fatalf("queue empty after %d of %d samples", sent, b.N)
		}
		sent += n
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "samples/s")
}

// BenchmarkAppendRow measures the line-protocol encoder alone.
func BenchmarkAppendRow(b *testing.B) {
	r := store.ForwardRow{TS: 1700000000123, Hostname: "rs-db-01", AgentID: "ag-abcdefghijkl", System: "社保系统",
		Department: "人社局", Sample: testSample(42, time.Unix(1700000000, 0), 1)}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendRow(buf[:0], &r)
	}
	b.SetBytes(int64(len(buf)))
}

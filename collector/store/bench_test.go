package store

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"zhizhi/agent/wire"
)

// BenchmarkIngest sends one-sample batches from many concurrent agents (as 10,000 agents at 15 s would) and
// reports batches/s and the p99 latency of an acknowledged batch, alone and with the rollup worker running.
func BenchmarkIngest(b *testing.B) {
	b.Run("alone", func(b *testing.B) { benchIngest(b, false) })
	b.Run("with-rollups", func(b *testing.B) { benchIngest(b, true) })
}

func benchIngest(b *testing.B, rollups bool) {
	s, _ := openTest(b, Options{RollupInterval: 200 * time.Millisecond, CoarseRollupInterval: time.Second})
	if rollups {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { s.Run(ctx); close(done) }()
		defer func() { cancel(); <-done }()
	}
	const agents = 256
	as := make([]Agent, agents)
	for i := range as {
		as[i], _ = enroll(b, s, "sys", "dept")
	}
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var next atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(agents / 2) // callers per core; each caller is one agent
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := next.Add(1) - 1
		a := as[i%agents]
		r := rand.New(rand.NewPCG(uint64(i), 1))
		seq := uint64(i / agents * 1e9) // callers sharing an agent use disjoint seq ranges
		var mine []time.Duration
		for pb.Next() {
			seq++
			smp := realisticSample(r, seq, t0.Add(time.Duration(seq)*15*time.Second))
			start := time.Now()
			if _, err := s.Ingest(context.Background(), a, batchOf(a, t0, smp), t0); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(start))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "batches/s")
	if len(lat) > 0 {
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
}

// BenchmarkRollup measures both rollup passes over freshly ingested samples of 100 hosts (40 samples each,
// 10 minutes at 15 s) and reports raw samples rolled up per second.
func BenchmarkRollup(b *testing.B) {
	ctx := context.Background()
	s, _ := openTest(b, Options{})
	const hosts, perHost = 100, 40
	as := make([]Agent, hosts)
	for i := range as {
		as[i], _ = enroll(b, s, "sys", "dept")
	}
	r := rand.New(rand.NewPCG(1, 2))
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	seq := uint64(0)
	b.ReportAllocs()
	b.ResetTimer()
	var rolled int
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		for _, a := range as {
			smps := make([]wire.Sample, perHost)
			for j := range smps {
				smps[j] = realisticSample(r, seq+uint64(j)+1, t0.Add(time.Duration(seq+uint64(j))*15*time.Second))
			}
			mustIngest(b, s, a, batchOf(a, t0, smps...), t0)
		}
		seq += perHost
		b.StartTimer()
		n, err := s.RollupOnce(ctx)
		if err != nil {
			b.Fatal(err)
		}
		rolled += n
	}
	b.StopTimer()
	b.ReportMetric(float64(rolled)/b.Elapsed().Seconds(), "samples/s")
}

// BenchmarkIngestPaced offers one-sample batches at a fixed 700 batches/s (10,000 agents at 15 s) from 500
// agents while the rollup worker runs, and reports the p99 and max latency measured from each batch's
// scheduled send time (so queueing is not hidden). Run it with -benchtime=Nx: N batches take N/700 s.
func BenchmarkIngestPaced(b *testing.B) {
	const rate, agents = 700, 500
	s, _ := openTest(b, Options{RollupInterval: time.Second, CoarseRollupInterval: 5 * time.Second})
	as := make([]Agent, agents)
	for i := range as {
		as[i], _ = enroll(b, s, "sys", "dept")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	r := rand.New(rand.NewPCG(3, 4))
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	samples := make([]wire.Sample, 64)
	for i := range samples {
		samples[i] = realisticSample(r, 0, t0)
	}
	lat := make([]time.Duration, b.N)
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		due := start.Add(time.Duration(i) * time.Second / rate)
		time.Sleep(time.Until(due))
		a := as[i%agents]
		smp := samples[i%len(samples)]
		smp.Seq = uint64(i/agents + 1)
		smp.Time = t0.Add(time.Duration(smp.Seq) * 15 * time.Second)
		wg.Go(func() {
			if _, err := s.Ingest(context.Background(), a, batchOf(a, t0, smp), t0); err != nil {
				b.Error(err)
			}
			lat[i] = time.Since(due)
		})
	}
	wg.Wait()
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "batches/s")
}

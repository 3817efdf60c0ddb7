// Command agentcycle breaks one zhizhi-agent cycle into its parts and measures each with testing.Benchmark
// (time, bytes and allocations per operation) on this machine's real /proc and /sys: collection, the JSON of
// the sample, the spool append, the gzip of the batch (as the agent does it now and two cheaper variants) and
// the HTTP POST to a loopback server. It explains where the agent's CPU per cycle and heap churn go.
//
//	go run ./bench/agentcycle
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"zhizhi/agent"
	"zhizhi/agent/collect"
	"zhizhi/agent/config"
	"zhizhi/agent/deliver"
	"zhizhi/agent/spool"
	"zhizhi/agent/wire"
)

func main() {
	ctx := context.Background()
	cfg := config.Default()
	fam := map[string]time.Duration{}
	var famOrder []string
	obs := func(family string, d time.Duration, _ error) {
		if _, ok := fam[family]; !ok {
			famOrder = append(famOrder, family)
		}
		fam[family] += d
	}
	col := collect.New(agent.CollectConfig(cfg), nil, obs, nil)
	col.Collect(ctx, time.Now()) // first cycle sets the delta baselines
	time.Sleep(100 * time.Millisecond)
	smp := col.Collect(ctx, time.Now())
	smp.Seq = 1
	facts, _ := col.HostFacts(ctx)
	js, _ := json.Marshal(smp)
	batch := wire.Batch{Version: wire.SchemaVersion, AgentID: "ag-aaaaaaaaaaaa", SentAt: time.Now(), Host: &facts, Samples: []wire.Sample{smp}}
	body, _ := deliver.Encode(batch)

	dir, err := os.MkdirTemp("", "zhizhi-agentcycle-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	sp, err := spool.Open(dir, spool.Options{})
	if err != nil {
		panic(err)
	}
	defer sp.Close()

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write([]byte(`{"accepted":1,"duplicates":0,"max_seq":1}`))
	}))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{}}

	var pool = sync.Pool{New: func() any { return gzip.NewWriter(io.Discard) }}
	var seq uint64
	cases := []struct {
		name string
		fn   func()
	}{
		{"collect (all families, real /proc)", func() { col.Collect(ctx, time.Now()) }},
		{"json.Marshal sample", func() { json.Marshal(smp) }},
		{"spool.Append (write + fsync)", func() { seq++; sp.Append(seq, js) }},
		{"deliver.Encode batch (pooled writer, as the agent does)", func() { deliver.Encode(batch) }},
		{"gzip batch, pooled writer (Reset)", func() {
			var buf bytes.Buffer
			zw := pool.Get().(*gzip.Writer)
			zw.Reset(&buf)
			json.NewEncoder(zw).Encode(batch)
			zw.Close()
			pool.Put(zw)
		}},
		{"gzip batch, gzip.BestSpeed NewWriter", func() {
			var buf bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
			json.NewEncoder(zw).Encode(batch)
			zw.Close()
		}},
		{"deliver.Post to loopback (keep-alive)", func() {
			deliver.Post(ctx, client, srv.URL, "zz_token", body, 10*time.Second, time.Now)
		}},
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("agentcycle: %d CPUs, go %s; sample JSON %d B, gzip batch %d B, %d fs, %d disks, %d nics\n",
		runtime.NumCPU(), runtime.Version(), len(js), len(body), len(smp.FS), len(smp.Disks), len(smp.Net))
	fmt.Printf("%-58s %12s %12s %10s\n", "part of a cycle", "µs/op", "B/op", "allocs/op")
	for i, c := range cases {
		r := testing.Benchmark(func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.fn()
			}
		})
		fmt.Printf("%-58s %12.1f %12d %10d\n", c.name, float64(r.NsPerOp())/1e3, r.AllocedBytesPerOp(), r.AllocsPerOp())
		if i == 0 {
			clear(fam)
			famOrder = nil
			const n = 200
			for range n {
				col.Collect(ctx, time.Now())
			}
			for _, f := range famOrder {
				fmt.Printf("    %-54s %12.1f\n", "family "+f+" (wall, mean of 200)", float64(fam[f])/1e3/n)
			}
		}
	}
}

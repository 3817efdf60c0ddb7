package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof" // profiles of the in-process server at /debug/pprof/ on the -pprof address
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"zhizhi/collector/ingest"
	"zhizhi/collector/store"
)

// stageTimes accumulates where the in-process ingest handler spends its time.
type stageTimes struct {
	mu                         sync.Mutex
	n                          int
	auth, decode, valid, write time.Duration
	writeLat                   []time.Duration
}

func (s *stageTimes) add(auth, decode, valid, write time.Duration) {
	s.mu.Lock()
	s.n++
	s.auth += auth
	s.decode += decode
	s.valid += valid
	s.write += write
	s.writeLat = append(s.writeLat, write)
	s.mu.Unlock()
}

func (s *stageTimes) reset() {
	s.mu.Lock()
	s.n, s.auth, s.decode, s.valid, s.write, s.writeLat = 0, 0, 0, 0, 0, nil
	s.mu.Unlock()
}

// inproc runs the server's ingest hot path in this process (store.Open + store.Run, bearer auth through
// store.AuthenticateAgent, ingest.Decode, ingest.Validate, store.Ingest, JSON ack): the same calls as
// server.handleIngest, without the rest of the server, so that it can be profiled. It returns the base URL,
// the per-stage timings and a stop function.
//
// With noRollup, store.Run (rollups and retention) is not started, to show what the rollup passes cost ingest.
// rollupEvery, when positive, replaces the store's default 1-minute rollup interval (5 s).
func inproc(ctx context.Context, dataDir, pprofAddr string, noRollup bool, rollupEvery time.Duration) (string, *stageTimes, func(), error) {
	st, err := store.Open(ctx, filepath.Join(dataDir, "zhizhi.db"), store.Options{RollupInterval: rollupEvery})
	if err != nil {
		return "", nil, nil, err
	}
	runCtx, stopRun := context.WithCancel(ctx)
	runDone := make(chan struct{})
	go func() {
		defer close(runDone)
		if !noRollup {
			st.Run(runCtx)
		}
	}()
	lim := ingest.Limits{MaxAge: store.DefaultRawRetention}
	times := &stageTimes{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("POST /api/v1/ingest", func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		a, err := st.AuthenticateAgent(r.Context(), tok)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		t1 := time.Now()
		b, err := ingest.Decode(http.MaxBytesReader(w, r.Body, lim.WithDefaults().MaxBodyBytes+1), r.Header.Get("Content-Encoding"), lim)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		t2 := time.Now()
		if err := ingest.Validate(b, a.ID, t0, lim); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		t3 := time.Now()
		ack, err := st.Ingest(r.Context(), a, b, t0)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		t4 := time.Now()
		times.add(t1.Sub(t0), t2.Sub(t1), t3.Sub(t2), t4.Sub(t3))
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(ack)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		stopRun()
		st.Close()
		return "", nil, nil, err
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	go hs.Serve(ln)
	if pprofAddr != "" {
		runtime.SetMutexProfileFraction(5)
		runtime.SetBlockProfileRate(int(time.Millisecond))
		go http.ListenAndServe(pprofAddr, nil)
		fmt.Fprintf(os.Stderr, "pprof on http://%s/debug/pprof/\n", pprofAddr)
	}
	stop := func() {
		hs.Close()
		stopRun()
		<-runDone
		st.Close()
	}
	return "http://" + ln.Addr().String(), times, stop, nil
}

// cpuProfile writes a CPU profile of this process to path until the returned function is called.
func cpuProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

func (s *stageTimes) print() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == 0 {
		return
	}
	lat := append([]time.Duration(nil), s.writeLat...)
	sortDurations(lat)
	avg := func(d time.Duration) string { return ms(d / time.Duration(s.n)) }
	fmt.Printf("  in-process stages, mean per report: auth %s, gunzip+decode %s, validate %s, store.Ingest %s\n",
		avg(s.auth), avg(s.decode), avg(s.valid), avg(s.write))
	fmt.Printf("  store.Ingest p50 / p99 / max     %s / %s / %s\n", ms(pct(lat, 0.5)), ms(pct(lat, 0.99)), ms(pct(lat, 1)))
}

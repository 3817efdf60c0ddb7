package agent

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"zhizhi/agent/config"
	"zhizhi/agent/spool"
	"zhizhi/agent/wire"
)

const secretToken = "zz_web-01_TOPSECRETtopsecret_42"

// fakeCollector returns synthetic samples; delay simulates a slow cycle.
type fakeCollector struct {
	delay              time.Duration
	running, maxActive atomic.Int32
	calls              atomic.Int32
	factsCalls         atomic.Int32
	mu                 sync.Mutex
	hostname           string
}

func (f *fakeCollector) Collect(ctx context.Context, now time.Time) wire.Sample {
	n := f.running.Add(1)
	defer f.running.Add(-1)
	for {
		m := f.maxActive.Load()
		if n <= m || f.maxActive.CompareAndSwap(m, n) {
			break
		}
	}
	f.calls.Add(1)
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
		}
	}
	procs := 42
	return wire.Sample{Time: now, CPU: &wire.CPU{BusyPct: 12.5}, Procs: &procs}
}

func (f *fakeCollector) HostFacts(context.Context) (wire.HostFacts, error) {
	f.factsCalls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.hostname == "" {
		return wire.HostFacts{}, errors.New("no facts yet")
	}
	return wire.HostFacts{Hostname: f.hostname, OS: "linux"}, nil
}

func (f *fakeCollector) setHostname(h string) {
	f.mu.Lock()
	f.hostname = h
	f.mu.Unlock()
}

// ingest is a loopback server recording delivered samples.
type ingest struct {
	mu      sync.Mutex
	seqs    []uint64
	seen    map[uint64]bool
	own     []uint64 // AgentNetBytes of the samples that carried it
	hosts   []string
	fail401 int // answer 401 to this many requests first
	hang    bool
	release chan struct{}
}

func (g *ingest) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.hang {
		select {
		case <-r.Context().Done():
		case <-g.release:
		}
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.fail401 > 0 {
		g.fail401--
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(wire.Error{Error: "unknown token"})
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+secretToken {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	zr, err := gzip.NewReader(r.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var b wire.Batch
	if err := json.NewDecoder(zr).Decode(&b); err != nil || b.AgentID != "web-01" {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	// Like the real server, a sample seen before is acknowledged and not stored again: a batch whose answer
	// was cut off (by a shutdown) is sent again.
	if g.seen == nil {
		g.seen = map[uint64]bool{}
	}
	for _, s := range b.Samples {
		if !g.seen[s.Seq] {
			g.seen[s.Seq] = true
			g.seqs = append(g.seqs, s.Seq)
			if s.AgentNetBytes != nil {
				g.own = append(g.own, *s.AgentNetBytes)
			}
		}
	}
	if b.Host != nil {
		g.hosts = append(g.hosts, b.Host.Hostname)
	}
	_ = json.NewEncoder(w).Encode(wire.Ack{Accepted: len(b.Samples)})
}

func (g *ingest) delivered() []uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]uint64(nil), g.seqs...)
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testConfig writes a 0600 token file and returns a config for srvURL with a short interval.
func testConfig(t *testing.T, srvURL string) config.Config {
	t.Helper()
	dir := t.TempDir()
	tf := filepath.Join(dir, "agent.token")
	if err := os.WriteFile(tf, []byte(secretToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := config.Default()
	c.Server = srvURL
	c.TokenFile = tf
	c.Interval = 20 * time.Millisecond
	c.Spool.Dir = filepath.Join(dir, "spool")
	c.Send.Timeout = 2 * time.Second
	return c
}

func startAgent(t *testing.T, a *Agent) (stop func() time.Duration) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	return func() time.Duration {
		start := time.Now()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(FlushTimeout + 3*time.Second):
			t.Fatal("Run did not return")
		}
		return time.Since(start)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRunDeliversInOrderAndNeverLogsToken(t *testing.T) {
	srv := &ingest{fail401: 1}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	cfg := testConfig(t, hs.URL)
	cfg.Log.Level = "debug"
	logs := &syncBuf{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	col := &fakeCollector{hostname: "gov-web-01"}
	a, err := newAgent(cfg, Deps{Logger: logger, Collector: col, Jitter: func() float64 { return 0 }})
	if err != nil {
		t.Fatal(err)
	}
	if a.AgentID() != "web-01" {
		t.Fatalf("agent id %q", a.AgentID())
	}
	stop := startAgent(t, a)
	// The first request gets 401: the sender backs off for minutes, samples keep being spooled.
	waitFor(t, "a 401 and 10 spooled samples", func() bool {
		return a.Stats().Send.SendErrors >= 1 && a.Stats().Collected >= 10
	})
	if got := srv.delivered(); len(got) != 0 {
		t.Fatalf("delivered during auth backoff: %v", got)
	}
	took := stop()
	if took > FlushTimeout+time.Second {
		t.Fatalf("shutdown took %v", took)
	}
	got := srv.delivered()
	collected := a.Stats().Collected
	if uint64(len(got)) != collected || collected < 10 {
		t.Fatalf("delivered %d of %d samples", len(got), collected)
	}
	for i, s := range got {
		if s != uint64(i+1) {
			t.Fatalf("delivered seqs out of order: %v", got)
		}
	}
	if len(srv.hosts) == 0 || srv.hosts[0] != "gov-web-01" {
		t.Fatalf("host facts not sent: %v", srv.hosts)
	}
	out := logs.String()
	if !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "web-01") {
		t.Fatalf("expected an auth error and the agent id in the log:\n%s", out)
	}
	for _, leak := range []string{secretToken, "TOPSECRET", "topsecret_42"} {
		if strings.Contains(out, leak) {
			t.Fatalf("log contains the token (%q):\n%s", leak, out)
		}
	}
}

func TestShutdownBoundedWhileServerHangsAndSeqResumes(t *testing.T) {
	srv := &ingest{hang: true, release: make(chan struct{})}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer close(srv.release)
	cfg := testConfig(t, hs.URL)
	cfg.Send.Timeout = time.Minute
	a, err := newAgent(cfg, Deps{Collector: &fakeCollector{}, Jitter: func() float64 { return 0 }})
	if err != nil {
		t.Fatal(err)
	}
	stop := startAgent(t, a)
	waitFor(t, "5 samples", func() bool { return a.Stats().Collected >= 5 })
	if took := stop(); took > FlushTimeout+time.Second {
		t.Fatalf("shutdown took %v with a hanging server", took)
	}
	n := a.Stats().Collected

	sp, err := spool.Open(cfg.Spool.Dir, spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := sp.Peek(0, 1<<20)
	if err != nil || uint64(len(recs)) != n || sp.LastSeq() != n {
		t.Fatalf("spool after shutdown: %d records (want %d), last %d, %v", len(recs), n, sp.LastSeq(), err)
	}
	var s wire.Sample
	if err := json.Unmarshal(recs[0].Data, &s); err != nil || s.Seq != 1 || s.CPU == nil || s.CPU.BusyPct != 12.5 {
		t.Fatalf("spooled sample %+v %v", s, err)
	}
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}

	// A restarted agent continues the sequence and, the server being back, delivers the backlog in order.
	srv2 := &ingest{}
	hs2 := httptest.NewServer(srv2)
	defer hs2.Close()
	cfg.Server = hs2.URL
	a2, err := newAgent(cfg, Deps{Collector: &fakeCollector{}, Jitter: func() float64 { return 0 }})
	if err != nil {
		t.Fatal(err)
	}
	stop2 := startAgent(t, a2)
	waitFor(t, "backlog and a new sample delivered", func() bool { return uint64(len(srv2.delivered())) > n })
	stop2()
	got := srv2.delivered()
	if uint64(len(got)) != n+a2.Stats().Collected {
		t.Fatalf("delivered %d, want %d+%d", len(got), n, a2.Stats().Collected)
	}
	for i, seq := range got {
		if seq != uint64(i+1) {
			t.Fatalf("seqs after restart: %v", got)
		}
	}
}

func TestCyclesNeverOverlapAndSkipsAreCounted(t *testing.T) {
	hs := httptest.NewServer(&ingest{})
	defer hs.Close()
	cfg := testConfig(t, hs.URL)
	col := &fakeCollector{delay: 70 * time.Millisecond}
	a, err := newAgent(cfg, Deps{Collector: col, Jitter: func() float64 { return 0 }})
	if err != nil {
		t.Fatal(err)
	}
	stop := startAgent(t, a)
	waitFor(t, "4 slow cycles", func() bool { return col.calls.Load() >= 4 })
	stop()
	if m := col.maxActive.Load(); m != 1 {
		t.Fatalf("%d cycles ran at once", m)
	}
	if a.Stats().CyclesSkipped < 4 {
		t.Fatalf("skipped %d ticks, want at least 4 (2+ per 70ms cycle at 20ms)", a.Stats().CyclesSkipped)
	}
}

func TestNextTick(t *testing.T) {
	t0 := time.Unix(1000, 0)
	f := func(now time.Duration, wantNext time.Duration, wantSkipped int) {
		t.Helper()
		next, n := nextTick(t0, t0.Add(now), 10*time.Second)
		if next != t0.Add(wantNext) || n != wantSkipped {
			t.Fatalf("now+%v: next +%v skipped %d, want +%v %d", now, next.Sub(t0), n, wantNext, wantSkipped)
		}
	}
	f(time.Second, 10*time.Second, 0)
	f(10*time.Second, 10*time.Second, 0)
	f(11*time.Second, 20*time.Second, 1)
	f(20*time.Second, 20*time.Second, 1)
	f(35*time.Second, 40*time.Second, 3)
}

func TestHostFactsRefreshedEveryTenMinutes(t *testing.T) {
	hs := httptest.NewServer(&ingest{})
	defer hs.Close()
	cfg := testConfig(t, hs.URL)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	col := &fakeCollector{}
	a, err := newAgent(cfg, Deps{Collector: col, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer a.closeSpool()
	ctx := context.Background()
	a.refreshFacts(ctx) // fails: retried every cycle until it works
	a.cycle(ctx)
	if a.facts.Load() != nil || col.factsCalls.Load() != 2 {
		t.Fatalf("facts %v calls %d", a.facts.Load(), col.factsCalls.Load())
	}
	col.setHostname("a")
	a.cycle(ctx)
	if f := a.facts.Load(); f == nil || f.Hostname != "a" || f.AgentVersion != Version {
		t.Fatalf("facts %+v", f)
	}
	col.setHostname("b")
	now = now.Add(9 * time.Minute)
	a.cycle(ctx)
	if a.facts.Load().Hostname != "a" || col.factsCalls.Load() != 3 {
		t.Fatal("facts re-read before 10 minutes")
	}
	now = now.Add(time.Minute)
	a.cycle(ctx)
	if a.facts.Load().Hostname != "b" || col.factsCalls.Load() != 4 {
		t.Fatal("changed facts not picked up after 10 minutes")
	}
	if a.Stats().Collected != 4 || a.spool.LastSeq() != 4 {
		t.Fatalf("collected %d last seq %d", a.Stats().Collected, a.spool.LastSeq())
	}
}

func TestMetricsEndpoint(t *testing.T) {
	hs := httptest.NewServer(&ingest{})
	defer hs.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := testConfig(t, hs.URL)
	cfg.Metrics.Listen = addr
	a, err := newAgent(cfg, Deps{Collector: &fakeCollector{hostname: "h"}, Jitter: func() float64 { return 0 }})
	if err != nil {
		t.Fatal(err)
	}
	stop := startAgent(t, a)
	defer stop()
	waitFor(t, "delivery", func() bool { return a.Stats().Send.SamplesSent >= 2 })
	var body string
	waitFor(t, "metrics", func() bool {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return strings.Contains(body, "zhizhi_host_cpu_busy_ratio 0.125")
	})
	for _, want := range []string{"zhizhi_agent_samples_sent_total", "zhizhi_agent_spool_bytes", "zhizhi_host_processes 42"} {
		if !strings.Contains(body, want) {
			t.Errorf("missing %s", want)
		}
	}
}

func TestNewErrors(t *testing.T) {
	hs := httptest.NewServer(&ingest{})
	defer hs.Close()
	cfg := testConfig(t, hs.URL)
	cfg.Interval = time.Second
	cfg.Token = "zz_nosecretpart"
	_, err := New(cfg, Deps{Collector: &fakeCollector{}})
	if !errors.Is(err, ErrMalformedToken) || strings.Contains(err.Error(), "nosecretpart") {
		t.Fatalf("malformed inline token: %v", err)
	}
	cfg.Token = ""
	if err := os.WriteFile(cfg.TokenFile, []byte("Bearer hunter2hunter2"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = New(cfg, Deps{Collector: &fakeCollector{}})
	if !errors.Is(err, ErrMalformedToken) || !strings.Contains(err.Error(), cfg.TokenFile) || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("malformed token file: %v", err)
	}
	if err := os.Chmod(cfg.TokenFile, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err = New(cfg, Deps{Collector: &fakeCollector{}}); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("readable token file: %v", err)
	}
	cfg.Interval = 100 * time.Millisecond
	if _, err = New(cfg, Deps{}); err == nil || !strings.Contains(err.Error(), "interval") {
		t.Fatalf("short interval: %v", err)
	}
}

func TestInProcessAgentWithInlineToken(t *testing.T) {
	srv := &ingest{}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	cfg := config.Default()
	cfg.Server = hs.URL
	cfg.Token = secretToken
	cfg.TokenFile = ""
	cfg.Interval = time.Second
	cfg.Spool.Dir = filepath.Join(t.TempDir(), "agent-spool")
	a, err := New(cfg, Deps{Collector: &fakeCollector{hostname: "local"}, Jitter: func() float64 { return 0 }})
	if err != nil {
		t.Fatal(err)
	}
	stop := startAgent(t, a)
	waitFor(t, "first delivery", func() bool { return len(srv.delivered()) >= 1 })
	stop()
}

func TestParseToken(t *testing.T) {
	f := func(tok, wantID string) {
		t.Helper()
		id, err := ParseToken(tok)
		if wantID == "" {
			if !errors.Is(err, ErrMalformedToken) || (len(tok) > 8 && strings.Contains(err.Error(), tok)) {
				t.Fatalf("%q: %v", tok, err)
			}
			return
		}
		if err != nil || id != wantID {
			t.Fatalf("%q: %q %v", tok, id, err)
		}
	}
	f("zz_web-01_abcdefgh12", "web-01")
	f("zz_a1_abc_def_ghij", "a1")
	f("zz_17.host_secretsecret", "17.host")
	f("", "")
	f("zz_", "")
	f("zz__secretsecret", "")
	f("zz_id_short", "")
	f("xx_id_secretsecret", "")
	f("zz_id/x_secretsecret", "")
	f("zz_id_secret secret", "")
	f("zz_id", "")
}

func TestCollectConfigKeepsLoopbackExcluded(t *testing.T) {
	c := config.Default()
	c.Collect.Network.ExcludeInterfaces = []string{"docker*"}
	if got := CollectConfig(c).NetExcludeInterfaces; len(got) != 2 || got[0] != "lo" {
		t.Fatalf("got %v", got)
	}
	if got := CollectConfig(config.Default()).NetExcludeInterfaces; got != nil {
		t.Fatalf("default: %v (collect adds lo itself)", got)
	}
}

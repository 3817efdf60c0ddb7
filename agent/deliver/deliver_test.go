package deliver

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"zhizhi/agent/wire"
)

const testToken = "zz_agent7_SECRETsecretSECRET"

// memQueue is a fake spool.
type memQueue struct {
	mu      sync.Mutex
	recs    []Record
	acks    []uint64
	dropped uint64
}

func newQueue(n int) *memQueue {
	q := &memQueue{dropped: 3}
	for i := 1; i <= n; i++ {
		q.add(uint64(i))
	}
	return q
}

func (q *memQueue) add(seq uint64) {
	data, _ := json.Marshal(wire.Sample{Seq: seq, Time: time.Unix(int64(seq), 0).UTC()})
	q.mu.Lock()
	q.recs = append(q.recs, Record{Seq: seq, Data: data})
	q.mu.Unlock()
}

func (q *memQueue) Peek(maxRecords, maxBytes int) ([]Record, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []Record
	size := 0
	for _, r := range q.recs {
		if len(out) == maxRecords || (len(out) > 0 && size+len(r.Data) > maxBytes) {
			break
		}
		out = append(out, r)
		size += len(r.Data)
	}
	return out, nil
}

func (q *memQueue) Ack(seq uint64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.acks = append(q.acks, seq)
	i := 0
	for i < len(q.recs) && q.recs[i].Seq <= seq {
		i++
	}
	q.recs = q.recs[i:]
	return nil
}

func (q *memQueue) Dropped() uint64 { return q.dropped }

func (q *memQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.recs)
}

func (q *memQueue) ackList() []uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]uint64(nil), q.acks...)
}

// fakeClock advances only when the sender sleeps.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newClock() *fakeClock { return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return ctx.Err()
}

func (c *fakeClock) slept() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// request is what the scripted server saw.
type request struct {
	auth, encoding, ctype string
	batch                 wire.Batch
}

// scripted is an ingest server answering from a script, then with reply (default 200 + Ack).
type scripted struct {
	t      *testing.T
	mu     sync.Mutex
	reqs   []request
	script []func(w http.ResponseWriter, b wire.Batch)
	reply  func(w http.ResponseWriter, b wire.Batch)
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != wire.IngestPath || r.Method != http.MethodPost {
		http.Error(w, "wrong endpoint", http.StatusNotFound)
		return
	}
	zr, err := gzip.NewReader(r.Body)
	if err != nil {
		s.t.Errorf("body not gzip: %v", err)
		return
	}
	var b wire.Batch
	dec := json.NewDecoder(zr)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		s.t.Errorf("body not a wire.Batch: %v", err)
		return
	}
	s.mu.Lock()
	s.reqs = append(s.reqs, request{r.Header.Get("Authorization"), r.Header.Get("Content-Encoding"),
		r.Header.Get("Content-Type"), b})
	var step func(http.ResponseWriter, wire.Batch)
	if len(s.script) > 0 {
		step, s.script = s.script[0], s.script[1:]
	} else {
		step = s.reply
	}
	s.mu.Unlock()
	if step == nil {
		step = ok
	}
	step(w, b)
}

func (s *scripted) requests() []request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]request(nil), s.reqs...)
}

func ok(w http.ResponseWriter, b wire.Batch) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(wire.Ack{Accepted: len(b.Samples), MaxSeq: b.Samples[len(b.Samples)-1].Seq})
}

func status(code int, hdr ...string) func(http.ResponseWriter, wire.Batch) {
	return func(w http.ResponseWriter, _ wire.Batch) {
		for i := 0; i+1 < len(hdr); i += 2 {
			w.Header().Set(hdr[i], hdr[i+1])
		}
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(wire.Error{Error: fmt.Sprintf("scripted %d", code)})
	}
}

type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func setup(t *testing.T, q *memQueue, srv *scripted, mod func(*Config)) (*Sender, *fakeClock, *logBuf) {
	t.Helper()
	srv.t = t
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	clk := newClock()
	logs := &logBuf{}
	cfg := Config{
		Server: hs.URL + "/", Token: testToken, AgentID: "agent7", BatchMaxSamples: 500, Timeout: 5 * time.Second,
		Host:   func() *wire.HostFacts { return &wire.HostFacts{Hostname: "gov-db-01"} },
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:    clk.Now, Sleep: clk.Sleep, Jitter: func() float64 { return 1 },
	}
	if mod != nil {
		mod(&cfg)
	}
	return New(q, cfg), clk, logs
}

// runUntil runs the sender until cond holds, then stops it and checks it returned promptly.
func runUntil(t *testing.T, s *Sender, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			cancel()
			t.Fatal("condition not reached")
		}
		time.Sleep(2 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func seqs(b wire.Batch) []uint64 {
	out := make([]uint64, len(b.Samples))
	for i, s := range b.Samples {
		out[i] = s.Seq
	}
	return out
}

func TestDeliversInOrderWithHeaders(t *testing.T) {
	q := newQueue(1200)
	srv := &scripted{}
	s, _, logs := setup(t, q, srv, func(c *Config) {
		c.Spool = func() *wire.SpoolStats { return &wire.SpoolStats{Bytes: 4096, Records: 7} }
	})
	runUntil(t, s, func() bool { return q.len() == 0 })

	reqs := srv.requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	next := uint64(1)
	for _, r := range reqs {
		if r.auth != "Bearer "+testToken || r.encoding != "gzip" || r.ctype != "application/json" {
			t.Fatalf("headers %+v", r)
		}
		b := r.batch
		if b.Version != wire.SchemaVersion || b.AgentID != "agent7" || b.Dropped != 3 || b.Host == nil ||
			b.Host.Hostname != "gov-db-01" || b.SentAt.IsZero() {
			t.Fatalf("batch header %+v", b)
		}
		if b.Spool == nil || *b.Spool != (wire.SpoolStats{Bytes: 4096, Records: 7}) {
			t.Fatalf("spool backlog %+v, want 4096 bytes in 7 records", b.Spool)
		}
		for _, seq := range seqs(b) {
			if seq != next {
				t.Fatalf("seq %d, want %d", seq, next)
			}
			next++
		}
	}
	if got := fmt.Sprint(q.ackList()); got != "[500 1000 1200]" {
		t.Fatalf("acks %s", got)
	}
	if st := s.Stats(); st.SamplesSent != 1200 || st.Batches != 3 || st.SendErrors != 0 || st.LastSuccess.IsZero() {
		t.Fatalf("stats %+v", st)
	}
	if strings.Contains(logs.String(), testToken) {
		t.Fatal("token logged")
	}
}

func TestBatchBytesCap(t *testing.T) {
	q := &memQueue{}
	big := bytes.Repeat([]byte("x"), 200<<10)
	for i := 1; i <= 5; i++ {
		data, _ := json.Marshal(map[string]any{"seq": i, "ts": time.Unix(1, 0).UTC(), "errors": map[string]string{"pad": string(big)}})
		q.recs = append(q.recs, Record{Seq: uint64(i), Data: data})
	}
	srv := &scripted{}
	s, _, _ := setup(t, q, srv, nil)
	runUntil(t, s, func() bool { return q.len() == 0 })
	for _, r := range srv.requests() {
		if len(r.batch.Samples) > 2 {
			t.Fatalf("batch of %d samples of 200KiB exceeds %d bytes", len(r.batch.Samples), MaxBatchBytes)
		}
	}
}

func TestTransientRetriesWithBackoffAndRetryAfter(t *testing.T) {
	q := newQueue(10)
	srv := &scripted{script: []func(http.ResponseWriter, wire.Batch){
		status(500), status(502), status(429, "Retry-After", "7"), status(408), status(503), status(500),
		status(500), status(500), status(500),
	}}
	s, clk, _ := setup(t, q, srv, nil)
	var mu sync.Mutex
	var queued []int
	s.cfg.Sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		queued = append(queued, q.len())
		mu.Unlock()
		return clk.Sleep(ctx, d)
	}
	runUntil(t, s, func() bool { return q.len() == 0 })
	want := []time.Duration{1, 2, 7, 8, 16, 32, 60, 60, 60}
	got := clk.slept()
	if len(got) != len(want) {
		t.Fatalf("sleeps %v", got)
	}
	for i := range want {
		if got[i] != want[i]*time.Second {
			t.Fatalf("sleep %d = %v, want %v (all %v)", i, got[i], want[i]*time.Second, got)
		}
	}
	for _, n := range queued {
		if n != 10 {
			t.Fatalf("samples acked before a 2xx: queue had %d", n)
		}
	}
	if acks := q.ackList(); len(acks) != 1 || acks[0] != 10 {
		t.Fatalf("acks %v", acks)
	}
	if st := s.Stats(); st.SendErrors != 9 || st.SamplesSent != 10 {
		t.Fatalf("stats %+v", st)
	}
}

func TestBackoffJitterBounds(t *testing.T) {
	s := New(newQueue(0), Config{Server: "http://x"})
	base := BackoffMin
	for i := range 20 {
		d := s.nextBackoff(0)
		if d < base/2 || d >= base*3/2 {
			t.Fatalf("attempt %d: %v outside [%v, %v)", i, d, base/2, base*3/2)
		}
		base = min(2*base, BackoffMax)
	}
	if d := s.nextBackoff(time.Hour); d != MaxRetryAfter {
		t.Fatalf("Retry-After not capped: %v", d)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := func(v string, want time.Duration) {
		t.Helper()
		if got := parseRetryAfter(v, now); got != want {
			t.Fatalf("%q: %v, want %v", v, got, want)
		}
	}
	f("", 0)
	f("30", 30*time.Second)
	f("-1", 0)
	f("soon", 0)
	f(now.Add(90*time.Second).Format(http.TimeFormat), 90*time.Second)
	f(now.Add(-time.Minute).Format(http.TimeFormat), 0)
}

// badSeqServer refuses any batch holding a sample with seq bad, naming it in Field when withField.
func badSeqServer(bad uint64, withField bool) *scripted {
	return &scripted{reply: func(w http.ResponseWriter, b wire.Batch) {
		for i, sm := range b.Samples {
			if sm.Seq == bad {
				e := wire.Error{Error: "cpu.busy_pct out of range"}
				if withField {
					e.Field = fmt.Sprintf("samples[%d].cpu.busy_pct", i)
				}
				w.WriteHeader(http.StatusBadRequest)
				_ = json.NewEncoder(w).Encode(e)
				return
			}
		}
		ok(w, b)
	}}
}

func TestRejectedSampleIsIsolatedAndDropped(t *testing.T) {
	for _, withField := range []bool{true} {
		t.Run(fmt.Sprint("field=", withField), func(t *testing.T) {
			q := newQueue(40)
			srv := badSeqServer(23, withField)
			s, _, logs := setup(t, q, srv, nil)
			runUntil(t, s, func() bool { return q.len() == 0 })
			var delivered []uint64
			for _, r := range srv.requests() {
				if !strings.Contains(fmt.Sprint(seqs(r.batch)), "23") {
					delivered = append(delivered, seqs(r.batch)...)
				}
			}
			if len(delivered) != 39 {
				t.Fatalf("delivered %d samples, want 39: %v", len(delivered), delivered)
			}
			for i := 1; i < len(delivered); i++ {
				if delivered[i] <= delivered[i-1] {
					t.Fatalf("out of order: %v", delivered)
				}
			}
			if n := len(srv.requests()); n > 16 {
				t.Fatalf("%d requests to isolate one sample", n)
			}
			st := s.Stats()
			if st.SamplesRejected != 1 || st.SamplesSent != 39 {
				t.Fatalf("stats %+v", st)
			}
			if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "cpu.busy_pct out of range") {
				t.Fatalf("rejection not logged at error level:\n%s", logs)
			}
		})
	}
}

func TestUnauthorizedKeepsDataAndBacksOffLong(t *testing.T) {
	for _, code := range []int{401, 403} {
		q := newQueue(5)
		srv := &scripted{script: []func(http.ResponseWriter, wire.Batch){status(code), status(code)}}
		s, clk, logs := setup(t, q, srv, nil)
		runUntil(t, s, func() bool { return q.len() == 0 })
		sl := clk.slept()
		if len(sl) != 2 || sl[0] < AuthBackoff || sl[1] < AuthBackoff {
			t.Fatalf("%d: sleeps %v", code, sl)
		}
		if acks := q.ackList(); len(acks) != 1 || acks[0] != 5 {
			t.Fatalf("%d: acks %v", code, acks)
		}
		out := logs.String()
		if !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "token") || strings.Contains(out, testToken) ||
			strings.Contains(out, "SECRET") {
			t.Fatalf("%d: log:\n%s", code, out)
		}
	}
}

// A 400 that names no sample refuses the batch as a whole (agent id, version): nothing is dropped.
func TestBatchLevel400KeepsData(t *testing.T) {
	q := newQueue(40)
	srv := badSeqServer(23, false)
	s, clk, logs := setup(t, q, srv, nil)
	runUntil(t, s, func() bool { return len(clk.slept()) >= 1 })
	if sl := clk.slept(); sl[0] < AuthBackoff {
		t.Fatalf("sleeps %v, want a long backoff", sl)
	}
	if st := s.Stats(); st.SamplesRejected != 0 || st.SamplesSent != 0 {
		t.Fatalf("stats %+v: nothing may be dropped or counted sent", st)
	}
	if q.len() != 40 || len(q.ackList()) != 0 {
		t.Fatalf("queue %d, acks %v: data must be kept", q.len(), q.ackList())
	}
	if !strings.Contains(logs.String(), "level=ERROR") {
		t.Fatalf("not logged at error level:\n%s", logs)
	}
}

func TestOther4xxKeepsData(t *testing.T) {
	q := newQueue(3)
	srv := &scripted{script: []func(http.ResponseWriter, wire.Batch){status(404)}}
	s, clk, _ := setup(t, q, srv, nil)
	runUntil(t, s, func() bool { return q.len() == 0 })
	if sl := clk.slept(); len(sl) != 1 || sl[0] < AuthBackoff {
		t.Fatalf("sleeps %v", sl)
	}
	if st := s.Stats(); st.SamplesRejected != 0 || st.SamplesSent != 3 {
		t.Fatalf("stats %+v", st)
	}
}

func TestNon2xxAnswerWithoutAckIsRetried(t *testing.T) {
	q := newQueue(2)
	srv := &scripted{script: []func(http.ResponseWriter, wire.Batch){
		func(w http.ResponseWriter, _ wire.Batch) { _, _ = io.WriteString(w, "<html>portal</html>") },
	}}
	s, clk, _ := setup(t, q, srv, nil)
	runUntil(t, s, func() bool { return q.len() == 0 })
	if len(clk.slept()) != 1 || len(q.ackList()) != 1 {
		t.Fatalf("sleeps %v acks %v", clk.slept(), q.ackList())
	}
}

func TestNetworkErrorKeepsData(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	q := newQueue(4)
	clk := newClock()
	s := New(q, Config{Server: "http://" + addr, Token: testToken, Now: clk.Now, Sleep: clk.Sleep,
		Jitter: func() float64 { return 1 }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Run(ctx); close(done) }()
	for len(clk.slept()) < 3 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	if q.len() != 4 || len(q.ackList()) != 0 {
		t.Fatalf("queue %d acks %v", q.len(), q.ackList())
	}
	if sl := clk.slept(); sl[0] != time.Second || sl[1] != 2*time.Second {
		t.Fatalf("sleeps %v", sl)
	}
}

func TestReplayIsRateLimited(t *testing.T) {
	q := newQueue(1000)
	srv := &scripted{}
	s, clk, _ := setup(t, q, srv, func(c *Config) { c.BatchMaxSamples = 100; c.ReplayRate = 200 })
	runUntil(t, s, func() bool { return q.len() == 0 })
	var total time.Duration
	for _, d := range clk.slept() {
		total += d
	}
	// The first 100 go at once (burst), the other 900 at 200/s.
	if want := 4500 * time.Millisecond; total < want-10*time.Millisecond || total > want+10*time.Millisecond {
		t.Fatalf("replay slept %v, want about %v (%v)", total, want, clk.slept())
	}
	if len(srv.requests()) != 10 {
		t.Fatalf("%d requests", len(srv.requests()))
	}
}

func TestFlushAndShutdownWhileServerHangs(t *testing.T) {
	release := make(chan struct{})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer hs.Close()
	defer close(release)
	q := newQueue(3)
	s := New(q, Config{Server: hs.URL, Token: testToken, Timeout: time.Minute})

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.Flush(ctx)
	if err == nil || time.Since(start) > 2*time.Second {
		t.Fatalf("Flush: %v after %v", err, time.Since(start))
	}
	if q.len() != 3 {
		t.Fatalf("queue %d after failed flush", q.len())
	}

	rctx, rcancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Run(rctx); close(done) }()
	time.Sleep(100 * time.Millisecond)
	rcancel()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not stop while the server hangs")
	}
	if q.len() != 3 {
		t.Fatalf("queue %d", q.len())
	}
}

func TestFlushSendsEverything(t *testing.T) {
	q := newQueue(1100)
	srv := &scripted{}
	s, clk, _ := setup(t, q, srv, func(c *Config) { c.ReplayRate = 1 })
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if q.len() != 0 || len(clk.slept()) != 0 {
		t.Fatalf("queue %d sleeps %v", q.len(), clk.slept())
	}
}

func TestUnreadableRecordSkipped(t *testing.T) {
	q := newQueue(3)
	q.recs[0].Data = []byte("{broken")
	q.recs[2].Data = []byte("also broken")
	srv := &scripted{}
	s, _, _ := setup(t, q, srv, nil)
	runUntil(t, s, func() bool { return q.len() == 0 })
	if st := s.Stats(); st.SamplesSkipped != 2 || st.SamplesSent != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestWakeDoesNotBlock(t *testing.T) {
	s := New(newQueue(0), Config{Server: "http://x"})
	for range 5 {
		s.Wake()
	}
}

// peekCounter counts the sender's looks at the queue.
type peekCounter struct {
	*memQueue
	peeks atomic.Int64
}

func (p *peekCounter) Peek(maxRecords, maxBytes int) ([]Record, error) {
	p.peeks.Add(1)
	return p.memQueue.Peek(maxRecords, maxBytes)
}

// With Config.Notify an idle sender does not poll the queue: it looks once, sleeps past idlePoll without
// another look, and delivers as soon as the queue notifies.
func TestIdleSenderWaitsOnNotify(t *testing.T) {
	srv := &scripted{t: t}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	q := &peekCounter{memQueue: newQueue(0)}
	notify := make(chan struct{}, 1)
	s := New(q, Config{Server: hs.URL, Token: testToken, AgentID: "agent7", Notify: notify})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	wait := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(2 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s not reached", what)
			}
		}
	}
	wait("first look at the queue", func() bool { return q.peeks.Load() == 1 })
	time.Sleep(idlePoll + 500*time.Millisecond)
	if n := q.peeks.Load(); n != 1 {
		t.Fatalf("idle sender looked at the queue %d times, want 1 (no polling)", n)
	}
	q.add(1)
	notify <- struct{}{}
	wait("delivery after Notify", func() bool { return len(q.ackList()) == 1 })
	if got := srv.requests(); len(got) != 1 || !slices.Equal(seqs(got[0].batch), []uint64{1}) {
		t.Fatalf("requests %+v, want one batch with seq 1", got)
	}
}

// The reused gzip writer (the Sender's and Encode's pool) produces independent, complete bodies: each
// decodes to its own batch, also after the writer was reused for the next one.
func TestReusedGzipWriterRoundTrips(t *testing.T) {
	decode := func(t *testing.T, body []byte) wire.Batch {
		t.Helper()
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("not gzip: %v", err)
		}
		var b wire.Batch
		if err := json.NewDecoder(zr).Decode(&b); err != nil {
			t.Fatalf("not a batch: %v", err)
		}
		return b
	}
	q := newQueue(0)
	s := New(q, Config{AgentID: "agent7"})
	var bodies [][]byte
	for n := 1; n <= 4; n++ {
		recs := make([]Record, n)
		for i := range recs {
			data, _ := json.Marshal(wire.Sample{Seq: uint64(10*n + i), Time: time.Unix(int64(n), 0).UTC()})
			recs[i] = Record{Seq: uint64(10*n + i), Data: data}
		}
		body, err := s.encode(recs)
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, body)
		enc, err := Encode(wire.Batch{Version: wire.SchemaVersion, AgentID: "pool", Samples: []wire.Sample{{Seq: uint64(n)}}})
		if err != nil {
			t.Fatal(err)
		}
		if b := decode(t, enc); b.AgentID != "pool" || !slices.Equal(seqs(b), []uint64{uint64(n)}) {
			t.Fatalf("Encode round %d decoded to %+v", n, b)
		}
	}
	for i, body := range bodies {
		n := i + 1
		b := decode(t, body)
		want := make([]uint64, n)
		for j := range want {
			want[j] = uint64(10*n + j)
		}
		if b.AgentID != "agent7" || !slices.Equal(seqs(b), want) {
			t.Errorf("body %d decoded to agent %q seqs %v, want agent7 %v", n, b.AgentID, seqs(b), want)
		}
	}
}

func BenchmarkEncodeBatch(b *testing.B) {
	data, _ := json.Marshal(wire.Sample{Seq: 1, Time: time.Unix(1, 0).UTC(), Errors: map[string]string{"x": strings.Repeat("y", 900)}})
	s := New(newQueue(0), Config{AgentID: "agent7"})
	recs := []Record{{Seq: 1, Data: data}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.encode(recs); err != nil {
			b.Fatal(err)
		}
	}
}

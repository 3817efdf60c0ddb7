// Package agent runs the collection loop and delivery of one zhizhi agent.
package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"zhizhi/agent/collect"
	"zhizhi/agent/config"
	"zhizhi/agent/deliver"
	"zhizhi/agent/metrics"
	"zhizhi/agent/spool"
	"zhizhi/agent/wire"
)

// Version is the agent version reported in host facts and build info; set with -ldflags -X.
var Version = "dev"

// Timing of the runtime.
const (
	HostFactsEvery = 10 * time.Minute
	// FlushTimeout bounds the last delivery attempt at shutdown.
	FlushTimeout = 3 * time.Second
)

// Collector reads samples and host facts; *collect.Collector satisfies it.
type Collector interface {
	Collect(ctx context.Context, now time.Time) wire.Sample
	HostFacts(ctx context.Context) (wire.HostFacts, error)
}

// Spool is the durable queue between collection and delivery; see NewSpool for the real one.
type Spool interface {
	deliver.Queue
	Append(seq uint64, data []byte) error
	LastSeq() uint64
	// Usage returns the bytes on disk and the records not yet acknowledged.
	Usage() (bytes, records int64)
	Close() error
}

// Deps are optional collaborators; zero values mean the real ones built from the config.
type Deps struct {
	Logger    *slog.Logger
	Collector Collector    // nil = collect.New over the real host
	Spool     Spool        // nil = NewSpool(cfg.Spool)
	Client    *http.Client // nil = HTTPClient(cfg)
	Now       func() time.Time
	// Jitter returns a fraction in [0, 1) of the interval to wait before the first cycle (nil = random).
	Jitter func() float64
	// AfterFirstCycle runs once, after the first collection cycle (nil = nothing). The stand-alone agent
	// releases the executable pages that only start-up touched there (DropExecutablePages).
	AfterFirstCycle func()
}

// Agent collects samples into the spool and delivers them.
type Agent struct {
	cfg     config.Config
	log     *slog.Logger
	col     Collector
	spool   Spool
	sender  *deliver.Sender
	metrics *metrics.Metrics
	now     func() time.Time
	jitter  func() float64
	agentID string
	// afterFirst is Deps.AfterFirstCycle.
	afterFirst func()

	facts   atomic.Pointer[wire.HostFacts]
	factsAt time.Time
	// traffic counts the agent's own connections to the server; trafficSeen is its total at the last cycle.
	traffic     trafficCounter
	trafficSeen uint64
	skipped     atomic.Uint64
	collected   atomic.Uint64
	closeOnce   sync.Once
}

// New builds an agent from a validated configuration: it resolves the token (cfg.Token, else cfg.TokenFile),
// derives the agent id from it and opens the spool. Run starts it. An in-process agent (the server's
// `zhizhi up`) passes cfg.Token directly and a spool dir under its data dir.
func New(cfg config.Config, deps Deps) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return newAgent(cfg, deps)
}

func newAgent(cfg config.Config, deps Deps) (*Agent, error) {
	token, err := cfg.ResolveToken()
	if err != nil {
		return nil, err
	}
	id, err := ParseToken(token)
	if err != nil {
		if cfg.Token == "" {
			return nil, fmt.Errorf("token file %s: %w", cfg.TokenFile, err)
		}
		return nil, err
	}
	cfg.Token = token
	logger := deps.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	a := &Agent{cfg: cfg, log: logger.With("component", "agent"), now: deps.Now, jitter: deps.Jitter, agentID: id,
		afterFirst: deps.AfterFirstCycle}
	if a.now == nil {
		a.now = time.Now
	}
	if a.jitter == nil {
		a.jitter = rand.Float64
	}
	client := deps.Client
	if client == nil {
		if client, err = HTTPClient(cfg); err != nil {
			return nil, err
		}
	}
	// Count the agent's own traffic (HTTPClient always builds an *http.Transport).
	if tr, ok := client.Transport.(*http.Transport); ok {
		dial := tr.DialContext
		if dial == nil {
			dial = (&net.Dialer{}).DialContext
		}
		tr = tr.Clone()
		tr.DialContext = a.traffic.dialer(dial)
		client = &http.Client{Transport: tr, Timeout: client.Timeout, CheckRedirect: client.CheckRedirect, Jar: client.Jar}
	}
	if cfg.Metrics.Listen != "" {
		a.metrics = metrics.New(Version, metrics.Sources{
			SpoolBytes:      func() int64 { b, _ := a.spool.Usage(); return b },
			SpoolRecords:    func() int64 { _, r := a.spool.Usage(); return r },
			SamplesDropped:  func() uint64 { return a.spool.Dropped() },
			SamplesSent:     func() uint64 { return a.sender.Stats().SamplesSent },
			SamplesRejected: func() uint64 { return a.sender.Stats().SamplesRejected },
			SendErrors:      func() uint64 { return a.sender.Stats().SendErrors },
			CyclesSkipped:   a.skipped.Load,
			LastSendSuccess: func() time.Time { return a.sender.Stats().LastSuccess },
		})
	}
	a.col = deps.Collector
	if a.col == nil {
		var obs collect.Observer
		if a.metrics != nil {
			obs = a.metrics.ObserveCollect
		}
		a.col = collect.New(CollectConfig(cfg), nil, obs, logger)
	}
	a.spool = deps.Spool
	if a.spool == nil {
		if a.spool, err = NewSpool(cfg.Spool, logger); err != nil {
			return nil, err
		}
	}
	// A spool that notifies on append lets the idle sender sleep without a polling timer.
	var notify <-chan struct{}
	if n, ok := a.spool.(interface{ Notify() <-chan struct{} }); ok {
		notify = n.Notify()
	}
	a.sender = deliver.New(a.spool, deliver.Config{
		Server: cfg.Server, Token: token, AgentID: id, BatchMaxSamples: cfg.Send.BatchMaxSamples,
		ReplayRate: cfg.Send.ReplayRate, Timeout: cfg.Send.Timeout, Client: client,
		Host: a.facts.Load, Logger: logger, Now: a.now, Notify: notify,
		Spool: func() *wire.SpoolStats { b, r := a.spool.Usage(); return &wire.SpoolStats{Bytes: b, Records: r} },
	})
	return a, nil
}

// AgentID returns the id parsed from the token.
func (a *Agent) AgentID() string { return a.agentID }

// Stats are the agent's counters.
type Stats struct {
	Collected     uint64
	CyclesSkipped uint64
	Send          deliver.Stats
}

// Stats returns the counters so far.
func (a *Agent) Stats() Stats {
	return Stats{Collected: a.collected.Load(), CyclesSkipped: a.skipped.Load(), Send: a.sender.Stats()}
}

// MetricsHandler returns the Prometheus handler, or nil when metrics.listen is empty.
func (a *Agent) MetricsHandler() http.Handler {
	if a.metrics == nil {
		return nil
	}
	return a.metrics.Handler()
}

// CollectConfig maps the agent configuration to the collector's.
func CollectConfig(cfg config.Config) collect.Config {
	fs := cfg.Collect.Filesystems
	c := collect.Config{
		FSIncludeMounts: fs.IncludeMounts, FSExcludeMounts: fs.ExcludeMounts,
		FSIncludeTypes: fs.IncludeTypes, FSExcludeTypes: fs.ExcludeTypes,
		StatfsTimeout: fs.StatfsTimeout, AgentVersion: Version,
	}
	if ex := cfg.Collect.Network.ExcludeInterfaces; len(ex) > 0 {
		c.NetExcludeInterfaces = ex
		if !slices.Contains(ex, "lo") {
			c.NetExcludeInterfaces = append([]string{"lo"}, ex...)
		}
	}
	return c
}

// HTTPClient builds the client used to reach the server from the tls and send.timeout settings.
func HTTPClient(cfg config.Config) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// An isolated network: never route through a proxy from the environment.
	tr.Proxy = nil
	// InsecureSkipVerify is an explicit opt-in of the configuration.
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.TLS.InsecureSkipVerify} //nolint:gosec
	if cfg.TLS.CAFile != "" {
		pem, err := os.ReadFile(cfg.TLS.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.ca_file %s: no PEM certificate found", cfg.TLS.CAFile)
		}
		tc.RootCAs = pool
	}
	tr.TLSClientConfig = tc
	tr.MaxIdleConnsPerHost = 2
	return &http.Client{Transport: tr, Timeout: cfg.Send.Timeout}, nil
}

// Run collects every interval and delivers in the background until ctx ends, then stops collecting, flushes
// for at most FlushTimeout, closes the spool and returns. It must be called once.
func (a *Agent) Run(ctx context.Context) error {
	defer a.closeSpool()
	a.log.Info("agent starting", "agent_id", a.agentID, "server", a.cfg.Server, "interval", a.cfg.Interval,
		"spool", a.cfg.Spool.Dir, "version", Version)

	var msrv *http.Server
	if a.metrics != nil {
		ln, err := net.Listen("tcp", a.cfg.Metrics.Listen)
		if err != nil {
			return fmt.Errorf("metrics.listen: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", a.metrics.Handler())
		msrv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := msrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				a.log.Error("metrics endpoint stopped", "err", err)
			}
		}()
		a.log.Info("metrics endpoint listening", "addr", ln.Addr().String())
	}

	a.refreshFacts(ctx)

	sendCtx, stopSend := context.WithCancel(context.WithoutCancel(ctx))
	sendDone := make(chan struct{})
	go func() {
		defer close(sendDone)
		_ = a.sender.Run(sendCtx)
	}()

	a.loop(ctx)

	// Shutdown: stop the sender, try one last bounded flush, then close the spool (fsync).
	stopSend()
	<-sendDone
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), FlushTimeout)
	if err := a.sender.Flush(fctx); err != nil {
		a.log.Warn("final flush incomplete; samples stay in the spool", "err", err)
	}
	cancel()
	if msrv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = msrv.Shutdown(sctx)
		cancel()
	}
	err := a.closeSpool()
	a.log.Info("agent stopped", "collected", a.collected.Load(), "sent", a.sender.Stats().SamplesSent)
	return err
}

func (a *Agent) closeSpool() (err error) {
	a.closeOnce.Do(func() {
		if err = a.spool.Close(); err != nil {
			err = fmt.Errorf("close spool: %w", err)
			a.log.Error("closing spool", "err", err)
		}
	})
	return err
}

// primeGap is the least time between the priming read at start and the first sample, so that the first
// sample's CPU use and traffic deltas cover a real interval.
const primeGap = time.Second

// loop runs cycles on interval boundaries after a random start delay; a cycle that overruns skips ticks.
// A priming read at start (discarded) gives the collector its baseline counters, so that even the first
// spooled sample carries CPU use and traffic.
func (a *Agent) loop(ctx context.Context) {
	iv := a.cfg.Interval
	pctx, cancel := context.WithTimeout(ctx, max(iv, 5*time.Second))
	a.col.Collect(pctx, a.now())
	cancel()
	next := a.now().Add(max(time.Duration(a.jitter()*float64(iv)), primeGap))
	for {
		if !a.waitUntil(ctx, next) {
			return
		}
		a.cycle(ctx)
		if ctx.Err() != nil {
			return
		}
		if a.afterFirst != nil {
			a.afterFirst()
			a.afterFirst = nil
		}
		var skipped int
		next, skipped = nextTick(next, a.now(), iv)
		if skipped > 0 {
			a.skipped.Add(uint64(skipped))
			a.log.Warn("collection cycle overran the interval; skipping ticks", "skipped", skipped)
		}
	}
}

// nextTick returns the first tick after prev (spaced by iv) that is later than now, and how many ticks were
// skipped because they had already passed.
func nextTick(prev, now time.Time, iv time.Duration) (time.Time, int) {
	next := prev.Add(iv)
	if !next.Before(now) {
		return next, 0
	}
	n := int((now.Sub(next) + iv - 1) / iv) // ticks at or before now, counting next itself
	return next.Add(time.Duration(n) * iv), n
}

func (a *Agent) waitUntil(ctx context.Context, t time.Time) bool {
	d := t.Sub(a.now())
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// cycle collects one sample and appends it to the spool.
func (a *Agent) cycle(ctx context.Context) {
	if f := a.facts.Load(); f == nil || a.now().Sub(a.factsAt) >= HostFactsEvery {
		a.refreshFacts(ctx)
	}
	cctx, cancel := context.WithTimeout(ctx, max(a.cfg.Interval, 5*time.Second))
	s := a.col.Collect(cctx, a.now())
	cancel()
	if ctx.Err() != nil {
		return // shutting down: a sample cut short is not worth keeping
	}
	total := a.traffic.Total()
	if s.IntervalSeconds > 0 {
		own := total - a.trafficSeen
		s.AgentNetBytes = &own
	}
	a.trafficSeen = total
	s.Seq = a.spool.LastSeq() + 1
	data, err := json.Marshal(s)
	if err != nil {
		a.log.Error("encoding sample", "err", err)
		return
	}
	if err := a.spool.Append(s.Seq, data); err != nil {
		a.log.Error("spooling sample", "seq", s.Seq, "err", err)
		return
	}
	a.collected.Add(1)
	if len(s.Errors) > 0 {
		a.log.Debug("families failed", "seq", s.Seq, "errors", s.Errors)
	}
	if a.metrics != nil {
		a.metrics.SetSample(s)
	}
	a.sender.Wake()
}

// refreshFacts reads host facts and logs when they changed.
func (a *Agent) refreshFacts(ctx context.Context) {
	fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	a.factsAt = a.now()
	f, err := a.col.HostFacts(fctx)
	if err != nil {
		a.log.Warn("reading host facts", "err", err)
		return
	}
	if f.AgentVersion == "" {
		f.AgentVersion = Version
	}
	old := a.facts.Load()
	if old == nil || !reflect.DeepEqual(*old, f) {
		if old != nil {
			a.log.Info("host facts changed", "hostname", f.Hostname, "kernel", f.Kernel, "cpus", f.CPUCores,
				"mem_total_bytes", f.MemTotalBytes)
		}
		a.facts.Store(&f)
	}
}

// spoolAdapter gives *spool.Spool the Spool interface.
type spoolAdapter struct{ s *spool.Spool }

// NewSpool opens the spool directory (created if missing) with the configured size cap.
func NewSpool(cfg config.Spool, logger *slog.Logger) (Spool, error) {
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool.dir: %w", err)
	}
	s, err := spool.Open(cfg.Dir, spool.Options{MaxBytes: cfg.MaxBytes, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("open spool %s: %w", cfg.Dir, err)
	}
	return spoolAdapter{s}, nil
}

func (a spoolAdapter) Append(seq uint64, data []byte) error { return a.s.Append(seq, data) }
func (a spoolAdapter) LastSeq() uint64                      { return a.s.LastSeq() }
func (a spoolAdapter) Ack(seq uint64) error                 { return a.s.Ack(seq) }
func (a spoolAdapter) Dropped() uint64                      { return a.s.Stats().Dropped }
func (a spoolAdapter) Close() error                         { return a.s.Close() }

// Notify forwards the spool's append notifications.
func (a spoolAdapter) Notify() <-chan struct{} { return a.s.Notify() }

func (a spoolAdapter) Usage() (int64, int64) {
	st := a.s.Stats()
	return st.Bytes, st.Records
}

func (a spoolAdapter) Peek(maxRecords, maxBytes int) ([]deliver.Record, error) {
	recs, err := a.s.Peek(maxRecords, maxBytes)
	if err != nil {
		return nil, err
	}
	out := make([]deliver.Record, len(recs))
	for i, r := range recs {
		out[i] = deliver.Record{Seq: r.Seq, Data: r.Data}
	}
	return out, nil
}

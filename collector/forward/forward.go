// Package forward copies every raw sample from the store to an InfluxDB v2 write endpoint (InfluxDB 2.x,
// InfluxDB 3's v2 compatibility API, VictoriaMetrics) through a durable, bounded queue kept in the store.
//
// The queue is the store's watermark over raw samples (store.ForwardRead/ForwardCommit/ForwardTrim): the
// forwarder reads rows past it, writes them with influxdb-client-go's WriteAPIBlocking under a per-request
// timeout, and advances the watermark only after a 2xx, so nothing is lost across engine outages or restarts
// (a crash between the 2xx and the commit resends one batch). The library's async WriteAPI is not used: it
// drops points silently and can block (see PITFALLS.md). Ingest never waits for the forwarder.
package forward

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
	"zhizhi/agent/backoff"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	influxhttp "github.com/influxdata/influxdb-client-go/v2/api/http"

	"zhizhi/collector/store"
)

// Defaults for Options.
const (
	DefaultName         = "default"
	DefaultBatchSize    = 1000
	DefaultTimeout      = 10 * time.Second
	DefaultMinBackoff   = time.Second
	DefaultMaxBackoff   = time.Minute
	DefaultPollInterval = time.Second
	DefaultMaxRows      = 10_000_000
	DefaultMaxAge       = 24 * time.Hour
)

// Queue is the durable queue the forwarder drains; *store.Store implements it.
type Queue interface {
	ForwardRead(ctx context.Context, name string, limit int) (store.ForwardBatch, error)
	ForwardCommit(ctx context.Context, name string, from, to, sent, dropped int64) error
	ForwardTrim(ctx context.Context, name string, bound store.ForwardBound) (int64, error)
	ForwardStatus(ctx context.Context, name string) (store.ForwardStatus, error)
}

// Options configure a Forwarder. URL is required; the others have defaults.
type Options struct {
	// URL is the engine's root: http://influxdb:8086, http://victoriametrics:8428, or for a VictoriaMetrics
	// cluster http://vminsert:8480/insert/<tenant>/influx. The client appends /api/v2/write.
	URL string
	// Org, Bucket and Token address the write (VictoriaMetrics ignores them). Token is never logged.
	Org, Bucket, Token string
	// Name identifies the queue in the store (default "default").
	Name string
	// BatchSize is the most samples per write request (default 1000; each sample is 1 + filesystems lines).
	BatchSize int
	// Timeout bounds each write request, so an engine that accepts but never answers cannot stall the
	// forwarder (default 10 s).
	Timeout time.Duration
	// MinBackoff and MaxBackoff bound the jittered exponential backoff after a failed write (1 s, 1 min).
	MinBackoff, MaxBackoff time.Duration
	// PollInterval is how often an idle forwarder looks for new samples (default 1 s).
	PollInterval time.Duration
	// MaxRows and MaxAge bound the queue: beyond them the oldest samples are dropped and counted (defaults
	// 10 million samples, 24 h since ingest). A negative value means no bound of that kind (the raw retention
	// still caps the age).
	MaxRows int64
	MaxAge  time.Duration
	// HTTPClient, when set, carries the requests (e.g. custom TLS); nil means a client of its own.
	HTTPClient *http.Client
	// Logger receives operational messages; nil discards them.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Name == "" {
		o.Name = DefaultName
	}
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = DefaultMinBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	o.MaxBackoff = max(o.MaxBackoff, o.MinBackoff)
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	switch {
	case o.MaxRows == 0:
		o.MaxRows = DefaultMaxRows
	case o.MaxRows < 0:
		o.MaxRows = 0
	}
	switch {
	case o.MaxAge == 0:
		o.MaxAge = DefaultMaxAge
	case o.MaxAge < 0:
		o.MaxAge = 0
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Stats are the forwarder's counters. Sent and Dropped are the persisted totals of the queue (they survive
// restarts); Errors counts failed write attempts since the process started.
type Stats struct {
	Backlog     int64     // samples queued
	Sent        int64     // samples written with a 2xx answer
	Dropped     int64     // samples dropped: over the bound, undecodable, or rejected by the engine as invalid
	Errors      int64     // failed write attempts
	LastSuccess time.Time // time of the last successful write; zero before the first
}

// Forwarder drains the store's forwarding queue into an InfluxDB v2 write endpoint. Run (or Step) must not be
// called concurrently; Stats and Collector are safe at any time.
type Forwarder struct {
	q      Queue
	opts   Options
	log    *slog.Logger
	client influxdb2.Client
	w      api.WriteAPIBlocking

	limit int    // current batch size: halved on 400/413 answers, grown back on success
	buf   []byte // line-protocol buffer, reused

	backlog, sent, dropped, errs, lastOK atomic.Int64
	closeOnce                            sync.Once
}

// New returns a forwarder over q. It does not contact the engine; Run does.
func New(q Queue, opts Options) (*Forwarder, error) {
	opts = opts.withDefaults()
	u, err := url.Parse(opts.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("forward url %q: want http(s)://host[:port][/path]", opts.URL)
	}
	if u.User != nil {
		return nil, fmt.Errorf("forward url: put credentials in the token file, not in the URL")
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	// Millisecond precision: our lines carry ms timestamps. The library's own retries belong to the async API
	// only; WriteAPIBlocking sends exactly once per call, and we retry ourselves.
	copts := influxdb2.DefaultOptions().
		SetPrecision(time.Millisecond).
		SetUseGZip(true).
		SetHTTPClient(hc).
		SetLogLevel(0)
	client := influxdb2.NewClientWithOptions(opts.URL, opts.Token, copts)
	f := &Forwarder{
		q: q, opts: opts, client: client,
		w:     client.WriteAPIBlocking(opts.Org, opts.Bucket),
		log:   opts.Logger.With("component", "forward", "target", opts.Name),
		limit: opts.BatchSize,
	}
	return f, nil
}

// Close releases the HTTP client's idle connections. Call it after Run returned.
func (f *Forwarder) Close() { f.closeOnce.Do(f.client.Close) }

// Stats returns the counters as of the last pass.
func (f *Forwarder) Stats() Stats {
	s := Stats{Backlog: f.backlog.Load(), Sent: f.sent.Load(), Dropped: f.dropped.Load(), Errors: f.errs.Load()}
	if ms := f.lastOK.Load(); ms > 0 {
		s.LastSuccess = time.UnixMilli(ms)
	}
	return s
}

// Run forwards until ctx is done, then returns nil. Failed writes are retried with jittered exponential
// backoff; the queue keeps everything meanwhile (within its bound).
func (f *Forwarder) Run(ctx context.Context) error {
	f.log.Info("forwarding raw samples", "url", f.opts.URL, "org", f.opts.Org, "bucket", f.opts.Bucket,
		"max_rows", f.opts.MaxRows, "max_age", f.opts.MaxAge)
	bo := backoff.Backoff{Min: f.opts.MinBackoff, Max: f.opts.MaxBackoff}
	var failing bool
	for ctx.Err() == nil {
		n, err := f.Step(ctx)
		var wait time.Duration
		switch {
		case err != nil && ctx.Err() != nil:
			return nil
		case err != nil:
			wait = bo.Next()
			if !failing {
				f.log.Warn("forward failed; retrying with backoff (samples stay queued)", "err", err, "retry_in", wait)
			} else {
				f.log.Debug("forward failed again", "err", err, "retry_in", wait)
			}
			failing = true
		case n == 0:
			bo.Reset()
			wait = f.opts.PollInterval
		default:
			bo.Reset()
			if failing {
				f.log.Info("forwarding again", "backlog", f.backlog.Load())
				failing = false
			}
			continue
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
	return nil
}

// errRejected marks a write the engine refused as invalid (HTTP 400, 422); the forwarder retries it in
// smaller batches and drops a single rejected sample.
var errRejected = errors.New("rejected by the engine")

// Step runs one pass: it enforces the queue's bound, writes up to one batch of queued samples and advances the
// watermark after a 2xx. It returns the number of samples it consumed (sent or dropped); 0 with a nil error
// means the queue is empty.
func (f *Forwarder) Step(ctx context.Context) (int, error) {
	defer f.refresh(ctx)
	name := f.opts.Name
	dropped, err := f.q.ForwardTrim(ctx, name, store.ForwardBound{MaxRows: f.opts.MaxRows, MaxAge: f.opts.MaxAge})
	if err != nil {
		return 0, err
	}
	b, err := f.q.ForwardRead(ctx, name, f.limit)
	if err != nil {
		return int(dropped), err
	}
	if b.To == b.From {
		return int(dropped), nil
	}
	f.buf = f.buf[:0]
	for i := range b.Rows {
		f.buf = AppendRow(f.buf, &b.Rows[i])
	}
	if len(f.buf) > 0 {
		if err := f.write(ctx); err != nil {
			f.errs.Add(1)
			if !errors.Is(err, errRejected) {
				return int(dropped), err
			}
			if len(b.Rows) > 1 {
				f.limit = max(1, len(b.Rows)/2) // find the bad sample by halving
				return int(dropped), err
			}
			f.log.Error("forward: the engine rejected a sample; dropped", "sample_id", b.Rows[0].ID, "err", err)
			if cerr := f.q.ForwardCommit(ctx, name, b.From, b.To, 0, b.Skipped+1); cerr != nil {
				return int(dropped), cerr
			}
			return int(dropped) + 1 + int(b.Skipped), nil
		}
		f.lastOK.Store(time.Now().UnixMilli())
	}
	if err := f.q.ForwardCommit(ctx, name, b.From, b.To, int64(len(b.Rows)), b.Skipped); err != nil {
		return int(dropped), err
	}
	f.limit = min(f.opts.BatchSize, f.limit*2)
	return int(dropped) + len(b.Rows) + int(b.Skipped), nil
}

// write sends f.buf in one request bounded by the per-request timeout.
func (f *Forwarder) write(ctx context.Context) error {
	wctx, cancel := context.WithTimeout(ctx, f.opts.Timeout)
	defer cancel()
	// The body must end without a newline: the client joins records with "\n".
	body := f.buf
	if n := len(body); n > 0 && body[n-1] == '\n' {
		body = body[:n-1]
	}
	err := f.w.WriteRecord(wctx, string(body))
	if err == nil {
		return nil
	}
	var he *influxhttp.Error
	if errors.As(err, &he) {
		switch he.StatusCode {
		case http.StatusBadRequest, http.StatusUnprocessableEntity:
			return fmt.Errorf("write: %w: %w", errRejected, err)
		case http.StatusRequestEntityTooLarge:
			f.limit = max(1, f.limit/2)
		}
		if he.StatusCode == 0 && wctx.Err() != nil && ctx.Err() == nil {
			return fmt.Errorf("write: no answer within %s: %w", f.opts.Timeout, err)
		}
	}
	return fmt.Errorf("write: %w", err)
}

// refresh updates the backlog and the persisted totals after a pass.
func (f *Forwarder) refresh(ctx context.Context) {
	if ctx.Err() != nil {
		return
	}
	st, err := f.q.ForwardStatus(ctx, f.opts.Name)
	if err != nil {
		f.log.Warn("forward status", "err", err)
		return
	}
	f.backlog.Store(st.Backlog)
	f.sent.Store(st.Sent)
	f.dropped.Store(st.Dropped)
}

// backoff is jittered exponential backoff: each wait doubles up to max, times a random factor in [0.5, 1.5).

// Package deliver drains the agent's spool to the server: batches, gzip, bearer auth, retries and replay limits.
package deliver

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"zhizhi/agent/backoff"

	"golang.org/x/time/rate"

	"zhizhi/agent/wire"
)

// Limits on one batch: the sender never holds more than one batch of sample data in memory.
const (
	MaxBatchSamples = 500
	MaxBatchBytes   = 512 << 10
)

// Backoff bounds for transient failures (5xx, 408, 429, network errors) and for authorisation failures.
const (
	BackoffMin  = time.Second
	BackoffMax  = 60 * time.Second
	AuthBackoff = 5 * time.Minute
	// MaxRetryAfter caps a server's Retry-After.
	MaxRetryAfter = 10 * time.Minute
	// idlePoll is how often an idle sender without Config.Notify looks at the queue when nobody calls Wake.
	idlePoll = 2 * time.Second
)

// Record is one spooled sample: its sequence number and JSON encoding.
type Record struct {
	Seq  uint64
	Data []byte
}

// Queue is the part of the spool the sender uses; Peek returns the oldest unacknowledged records in order.
type Queue interface {
	Peek(maxRecords, maxBytes int) ([]Record, error)
	Ack(seq uint64) error
	// Dropped is the cumulative number of samples the spool discarded (over its cap).
	Dropped() uint64
}

// Config configures a Sender.
type Config struct {
	Server  string // base URL; wire.IngestPath is appended
	Token   string // bearer token; never logged
	AgentID string
	// BatchMaxSamples caps samples per request (0 or above MaxBatchSamples = MaxBatchSamples).
	BatchMaxSamples int
	// ReplayRate is samples per second, applied whenever a backlog is sent (0 = unlimited).
	ReplayRate float64
	Timeout    time.Duration // per request; 0 = 10s
	Client     *http.Client  // nil = http.DefaultClient-like client with Timeout
	// Host returns the current host facts sent with every batch (nil = none).
	Host func() *wire.HostFacts
	// Spool returns the spool's backlog, sent with every batch for the console's agent health (nil = none).
	Spool func() *wire.SpoolStats
	// Notify, when set, receives a value after samples were queued (the spool's Notify): an idle sender then
	// waits on it and on Wake only, with no polling timer. Nil = also look at the queue every 2 s when idle.
	Notify <-chan struct{}
	Logger *slog.Logger
	// Now, Sleep and Jitter are injectable for tests. Sleep returns ctx.Err() when ctx ends first;
	// Jitter returns a factor in [0.5, 1.5).
	Now    func() time.Time
	Sleep  func(ctx context.Context, d time.Duration) error
	Jitter func() float64
}

// Stats are cumulative counters of a Sender.
type Stats struct {
	SamplesSent     uint64 // acknowledged by the server
	SamplesRejected uint64 // refused by the server as invalid (400) and dropped
	SamplesSkipped  uint64 // unreadable spool records dropped without sending
	Batches         uint64 // successful requests
	SendErrors      uint64 // failed requests of any kind
	LastSuccess     time.Time
}

// Sender delivers spooled samples to the server; one goroutine calls Run.
type Sender struct {
	q       Queue
	cfg     Config
	url     string
	log     *slog.Logger
	limiter *rate.Limiter
	wake    chan struct{}

	// limit shrinks the next batch while isolating a sample the server refuses (0 = no limit).
	limit   int
	backoff backoff.Backoff // transient failures; Jitter is cfg.Jitter

	zmu sync.Mutex   // guards zw (Run and Flush may overlap at shutdown)
	zw  *gzip.Writer // reused for every batch

	sent, rejected, skipped, batches, errs atomic.Uint64
	mu                                     sync.Mutex
	lastSuccess                            time.Time
}

// New returns a Sender reading q.
func New(q Queue, cfg Config) *Sender {
	if cfg.BatchMaxSamples <= 0 || cfg.BatchMaxSamples > MaxBatchSamples {
		cfg.BatchMaxSamples = MaxBatchSamples
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: cfg.Timeout}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = backoff.Sleep
	}
	if cfg.Jitter == nil {
		cfg.Jitter = backoff.Jitter
	}
	s := &Sender{
		q:    q,
		cfg:  cfg,
		url:  strings.TrimRight(cfg.Server, "/") + wire.IngestPath,
		log:  cfg.Logger.With("component", "deliver"),
		wake: make(chan struct{}, 1),
	}
	s.backoff = backoff.Backoff{Min: BackoffMin, Max: BackoffMax, Jitter: cfg.Jitter}
	if cfg.ReplayRate > 0 {
		s.limiter = rate.NewLimiter(rate.Limit(cfg.ReplayRate), cfg.BatchMaxSamples)
	}
	return s
}

// Wake tells an idle sender that new samples were spooled. It never blocks.
func (s *Sender) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Stats returns the counters so far.
func (s *Sender) Stats() Stats {
	s.mu.Lock()
	last := s.lastSuccess
	s.mu.Unlock()
	return Stats{
		SamplesSent: s.sent.Load(), SamplesRejected: s.rejected.Load(), SamplesSkipped: s.skipped.Load(),
		Batches: s.batches.Load(), SendErrors: s.errs.Load(), LastSuccess: last,
	}
}

// outcome classifies one attempt.
type outcome int

const (
	outEmpty     outcome = iota // nothing to send
	outSent                     // acknowledged
	outRejected                 // refused as invalid: dropped or narrowed, retry at once
	outTransient                // retry with exponential backoff
	outAuth                     // retry after AuthBackoff
)

// attemptResult is one attempt's outcome and the server's Retry-After, if any.
type attemptResult struct {
	out        outcome
	retryAfter time.Duration
}

// Run sends until ctx ends, keeping every sample it could not deliver in the queue.
func (s *Sender) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		res, err := s.attempt(ctx, true)
		if ctx.Err() != nil {
			break
		}
		switch res.out {
		case outEmpty:
			s.backoff.Reset()
			s.idle(ctx)
		case outSent, outRejected:
			s.backoff.Reset()
		case outTransient:
			d := s.nextBackoff(res.retryAfter)
			s.log.Warn("send failed, will retry", "err", err, "retry_in", d.Round(time.Millisecond))
			_ = s.cfg.Sleep(ctx, d)
		case outAuth:
			d := AuthBackoff
			if res.retryAfter > d {
				d = res.retryAfter
			}
			s.log.Error("server refused the agent token; keeping samples, check the token file",
				"err", err, "retry_in", d)
			_ = s.cfg.Sleep(ctx, d)
		}
	}
	return nil
}

// idle waits until ctx ends, Wake is called or the queue notifies; without Config.Notify it also returns
// after idlePoll.
func (s *Sender) idle(ctx context.Context) {
	if s.cfg.Notify != nil {
		select {
		case <-ctx.Done():
		case <-s.wake:
		case <-s.cfg.Notify:
		}
		return
	}
	t := time.NewTimer(idlePoll)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-s.wake:
	case <-t.C:
	}
}

// Flush sends what is queued, one try per batch, until the queue is empty, an attempt fails or ctx ends.
// The replay rate does not apply. It is meant for shutdown, under a short deadline.
func (s *Sender) Flush(ctx context.Context) error {
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("flush: %w", err)
		}
		res, err := s.attempt(ctx, false)
		switch res.out {
		case outEmpty:
			return nil
		case outSent, outRejected:
			continue
		default:
			return fmt.Errorf("flush: %w", err)
		}
	}
}

// nextBackoff returns the wait after a transient failure: Retry-After when given, else 1s, 2s, 4s … 60s × jitter.
func (s *Sender) nextBackoff(retryAfter time.Duration) time.Duration {
	d := s.backoff.Next() // advances the sequence even when the server says when to come back
	if retryAfter > 0 {
		return min(retryAfter, MaxRetryAfter)
	}
	return d
}

// errStatus is an HTTP answer other than 2xx.
type errStatus struct {
	code int
	body wire.Error
}

func (e *errStatus) Error() string {
	msg := fmt.Sprintf("server answered %d %s", e.code, http.StatusText(e.code))
	if e.body.Error != "" {
		msg += ": " + e.body.Error
	}
	if e.body.Field != "" {
		msg += " (field " + e.body.Field + ")"
	}
	return msg
}

var sampleIndex = regexp.MustCompile(`^samples\[(\d+)\]`)

// attempt peeks one batch and posts it.
func (s *Sender) attempt(ctx context.Context, limited bool) (attemptResult, error) {
	n := s.cfg.BatchMaxSamples
	if s.limit > 0 {
		n = min(n, s.limit)
	}
	recs, err := s.q.Peek(n, MaxBatchBytes)
	if err != nil {
		s.errs.Add(1)
		return attemptResult{out: outTransient}, fmt.Errorf("read spool: %w", err)
	}
	if len(recs) == 0 {
		return attemptResult{out: outEmpty}, nil
	}
	recs, err = s.dropUnreadable(recs)
	if err != nil {
		s.errs.Add(1)
		return attemptResult{out: outTransient}, err
	}
	if len(recs) == 0 {
		return attemptResult{out: outRejected}, nil
	}
	if limited && s.limiter != nil {
		now := s.cfg.Now()
		r := s.limiter.ReserveN(now, len(recs))
		if d := r.DelayFrom(now); d > 0 {
			if err := s.cfg.Sleep(ctx, d); err != nil {
				r.CancelAt(s.cfg.Now())
				return attemptResult{out: outTransient}, err
			}
		}
	}
	last := recs[len(recs)-1].Seq
	ack, retryAfter, err := s.post(ctx, recs)
	var st *errStatus
	switch {
	case err == nil:
		if err := s.q.Ack(last); err != nil {
			s.errs.Add(1)
			return attemptResult{out: outTransient}, fmt.Errorf("ack spool: %w", err)
		}
		s.sent.Add(uint64(len(recs)))
		s.batches.Add(1)
		s.mu.Lock()
		s.lastSuccess = s.cfg.Now()
		s.mu.Unlock()
		s.limit = 0
		s.log.Debug("batch delivered", "samples", len(recs), "last_seq", last,
			"accepted", ack.Accepted, "duplicates", ack.Duplicates)
		return attemptResult{out: outSent}, nil
	case errors.As(err, &st) && st.code == http.StatusBadRequest && !sampleIndex.MatchString(st.body.Field):
		// The batch itself was refused (agent id, version, host facts): no sample is at fault, and dropping
		// would lose good data. Keep everything and wait long; the error log tells the operator why.
		s.errs.Add(1)
		s.log.Error("server refused the batch, not a sample in it; keeping the data", "err", err)
		return attemptResult{out: outAuth, retryAfter: retryAfter}, err
	case errors.As(err, &st) && (st.code == http.StatusBadRequest || st.code == http.StatusRequestEntityTooLarge):
		s.errs.Add(1)
		if len(recs) > 1 {
			// Narrow down to the refused sample so that the good ones around it are delivered.
			next := len(recs) / 2
			if m := sampleIndex.FindStringSubmatch(st.body.Field); m != nil {
				if i, _ := strconv.Atoi(m[1]); i < len(recs) {
					next = max(i, 1)
				}
			}
			s.limit = next
			s.log.Warn("server refused a batch, narrowing it down", "err", err, "samples", len(recs), "next", next)
			return attemptResult{out: outRejected}, err
		}
		if err := s.q.Ack(last); err != nil {
			return attemptResult{out: outTransient}, fmt.Errorf("ack spool: %w", err)
		}
		s.rejected.Add(1)
		s.limit = 0
		s.log.Error("server refused a sample; dropping it", "err", err, "seq", last)
		return attemptResult{out: outRejected}, err
	case errors.As(err, &st) && (st.code == http.StatusUnauthorized || st.code == http.StatusForbidden):
		s.errs.Add(1)
		return attemptResult{out: outAuth, retryAfter: retryAfter}, err
	case errors.As(err, &st) && st.code >= 400 && st.code < 500 &&
		st.code != http.StatusRequestTimeout && st.code != http.StatusTooManyRequests:
		// 404, 405, 409 …: a misconfigured server URL or proxy; keep the data and wait long.
		s.errs.Add(1)
		return attemptResult{out: outAuth, retryAfter: retryAfter}, err
	default:
		s.errs.Add(1)
		return attemptResult{out: outTransient, retryAfter: retryAfter}, err
	}
}

// dropUnreadable acknowledges leading records that are not JSON (they can never be sent) and removes any
// later ones from the batch by cutting it before them.
func (s *Sender) dropUnreadable(recs []Record) ([]Record, error) {
	for i, r := range recs {
		if json.Valid(r.Data) {
			continue
		}
		if i > 0 {
			return recs[:i], nil
		}
		if err := s.q.Ack(r.Seq); err != nil {
			return nil, fmt.Errorf("ack spool: %w", err)
		}
		s.skipped.Add(1)
		s.log.Error("dropping unreadable spool record", "seq", r.Seq)
		return nil, nil
	}
	return recs, nil
}

// batchJSON is wire.Batch with samples kept as the spooled JSON.
type batchJSON struct {
	Version int               `json:"version"`
	AgentID string            `json:"agent_id"`
	SentAt  time.Time         `json:"sent_at"`
	Dropped uint64            `json:"dropped"`
	Spool   *wire.SpoolStats  `json:"spool,omitempty"`
	Host    *wire.HostFacts   `json:"host,omitempty"`
	Samples []json.RawMessage `json:"samples"`
}

// Encode builds the gzip-compressed JSON body of a batch.
func Encode(b wire.Batch) ([]byte, error) {
	zw, _ := gzipPool.Get().(*gzip.Writer)
	defer gzipPool.Put(zw)
	return gzipJSON(zw, b)
}

// gzipLevel is the compression of batch bodies. A batch is a few KB of JSON: BestSpeed compresses it nearly
// as well as the default level, and leaves the default level's hash chains (512 KB) untouched, so they
// never become resident memory.
const gzipLevel = gzip.BestSpeed

// gzipPool holds writers for Encode; creating one allocates and zeroes ~800 KB of deflate state.
var gzipPool = sync.Pool{New: func() any { return newGzipWriter() }}

func newGzipWriter() *gzip.Writer {
	zw, err := gzip.NewWriterLevel(io.Discard, gzipLevel)
	if err != nil {
		panic(err) // gzipLevel is a valid constant level
	}
	return zw
}

// gzipJSON encodes v as JSON through zw, which is reset to a new buffer first and may be reused afterwards.
func gzipJSON(zw *gzip.Writer, v any) ([]byte, error) {
	var buf bytes.Buffer
	zw.Reset(&buf)
	if err := json.NewEncoder(zw).Encode(v); err != nil {
		return nil, fmt.Errorf("encode batch: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compress batch: %w", err)
	}
	zw.Reset(io.Discard) // drop the reference to buf
	return buf.Bytes(), nil
}

func (s *Sender) encode(recs []Record) ([]byte, error) {
	b := batchJSON{Version: wire.SchemaVersion, AgentID: s.cfg.AgentID, SentAt: s.cfg.Now().UTC(),
		Dropped: s.q.Dropped(), Samples: make([]json.RawMessage, len(recs))}
	if s.cfg.Host != nil {
		b.Host = s.cfg.Host()
	}
	if s.cfg.Spool != nil {
		b.Spool = s.cfg.Spool()
	}
	for i, r := range recs {
		b.Samples[i] = r.Data
	}
	// One writer for the Sender's lifetime: a sync.Pool would lose it at every GC and allocate it again.
	s.zmu.Lock()
	defer s.zmu.Unlock()
	if s.zw == nil {
		s.zw = newGzipWriter()
	}
	return gzipJSON(s.zw, b)
}

// post sends one batch and decodes the answer.
func (s *Sender) post(ctx context.Context, recs []Record) (wire.Ack, time.Duration, error) {
	body, err := s.encode(recs)
	if err != nil {
		return wire.Ack{}, 0, err
	}
	return Post(ctx, s.cfg.Client, s.url, s.cfg.Token, body, s.cfg.Timeout, s.cfg.Now)
}

// Post sends a gzip-compressed batch body to url with the bearer token and returns the server's Ack, or an
// error and the Retry-After the server asked for. It is shared with `zhizhi-agent check`.
func Post(ctx context.Context, c *http.Client, url, token string, body []byte, timeout time.Duration,
	now func() time.Time) (wire.Ack, time.Duration, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return wire.Ack{}, 0, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return wire.Ack{}, 0, fmt.Errorf("post %s: %w", url, scrub(err, token))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return wire.Ack{}, 0, fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		st := &errStatus{code: resp.StatusCode}
		if json.Unmarshal(data, &st.body) != nil || st.body.Error == "" {
			st.body = wire.Error{Error: strings.TrimSpace(truncate(string(data), 200))}
		}
		return wire.Ack{}, parseRetryAfter(resp.Header.Get("Retry-After"), now()), st
	}
	var ack wire.Ack
	if err := json.Unmarshal(data, &ack); err != nil {
		return wire.Ack{}, 0, fmt.Errorf("answer %d is not an ack: %w", resp.StatusCode, err)
	}
	return ack, 0, nil
}

// StatusCode returns the HTTP status of an error returned by Post, or 0.
func StatusCode(err error) int {
	var st *errStatus
	if errors.As(err, &st) {
		return st.code
	}
	return 0
}

// scrub removes the token from an error text, in case a transport echoes request headers.
func scrub(err error, token string) error {
	if token != "" && strings.Contains(err.Error(), token) {
		return errors.New(strings.ReplaceAll(err.Error(), token, "<token>"))
	}
	return err
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// parseRetryAfter accepts delay-seconds or an HTTP date; anything else is 0.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

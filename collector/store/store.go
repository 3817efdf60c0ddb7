// Package store is zhizhi's embedded SQLite store: entities, durable ingest, rollups, retention and queries.
//
// One database file in WAL mode holds departments, systems, agents, hosts, raw samples (the source of truth)
// and 1-minute, 1-hour and 1-day rollups. All writes go through one connection: Ingest calls are queued to a
// single writer goroutine that commits many batches per transaction (group commit, synchronous=FULL) and
// acknowledges them only after the commit. Reads use a separate pool of read-only connections, so queries
// never block ingest. A rollup worker (Run) folds raw samples into rollups past a persisted watermark, in the
// same transaction that advances it, so a crash never counts a sample twice.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Errors returned by the store; check them with errors.Is.
var (
	// ErrNotFound reports an unknown agent, host or other entity.
	ErrNotFound = errors.New("not found")
	// ErrRevoked reports an agent whose token was revoked.
	ErrRevoked = errors.New("agent revoked")
	// ErrUnauthorized reports an unknown or malformed agent token.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrClosed reports a call on a closed store.
	ErrClosed = errors.New("store closed")
	// ErrBusy reports an Ingest refused because the ingest queue is full; the caller should retry later
	// (the HTTP layer answers 503 with Retry-After, and agents keep the batch in their spool).
	ErrBusy = errors.New("store busy: ingest queue full")
)

// Defaults for Options and Retention.
const (
	DefaultRollupInterval       = 5 * time.Second
	DefaultCoarseRollupInterval = time.Minute
	DefaultRetentionInterval    = time.Hour
	DefaultMaxBatchesPerCommit  = 256
	DefaultMaxQueuedBatches     = 4 * DefaultMaxBatchesPerCommit
	DefaultAuthCacheTTL         = 30 * time.Second
	DefaultRawRetention         = 7 * 24 * time.Hour
	DefaultMinuteRetention      = 30 * 24 * time.Hour
	DefaultHourRetention        = 730 * 24 * time.Hour
)

// Options configure a Store. The zero value is usable.
type Options struct {
	// Logger receives operational messages; nil discards them.
	Logger *slog.Logger
	// Clock is the server clock; nil means time.Now.
	Clock func() time.Time
	// Location aligns 1-day rollup buckets to local midnight; nil means Asia/Shanghai (UTC+8).
	Location *time.Location
	// Retention says how long each resolution is kept.
	Retention Retention
	// RollupInterval is how often Run folds new raw samples into the 1-minute rollups (default 5 s).
	RollupInterval time.Duration
	// CoarseRollupInterval is how often Run folds new raw samples into the 1-hour and 1-day rollups
	// (default 1 min; they need not be fresher, and larger passes merge more samples per bucket write).
	CoarseRollupInterval time.Duration
	// RetentionInterval is how often Run enforces retention (default 1 h).
	RetentionInterval time.Duration
	// MaxBatchesPerCommit bounds how many queued Ingest batches share one transaction (default 256).
	MaxBatchesPerCommit int
	// MaxQueuedBatches bounds how many Ingest batches wait for the writer (default 4 × MaxBatchesPerCommit);
	// beyond it Ingest returns ErrBusy at once instead of queueing without bound.
	MaxQueuedBatches int
	// AuthCacheTTL is how long AuthenticateAgent trusts a token it has already checked (default 30 s; negative
	// disables the cache). RevokeAgent in this process invalidates at once; a revoke by another process (the
	// CLI on the same file) takes effect within the TTL.
	AuthCacheTTL time.Duration
}

// Retention says how long each resolution is kept. A zero Raw, Minute or Hour means the default (7 days,
// 30 days, 730 days); a zero Day means forever. A negative value means forever for any resolution.
type Retention struct{ Raw, Minute, Hour, Day time.Duration }

func (r Retention) withDefaults() Retention {
	if r.Raw == 0 {
		r.Raw = DefaultRawRetention
	}
	if r.Minute == 0 {
		r.Minute = DefaultMinuteRetention
	}
	if r.Hour == 0 {
		r.Hour = DefaultHourRetention
	}
	return r
}

// Store is the embedded database. Its methods are safe for concurrent use.
type Store struct {
	log            *slog.Logger
	clock          func() time.Time
	loc            *time.Location
	ret            Retention
	rollupEvery    time.Duration
	coarseEvery    time.Duration
	retentionEvery time.Duration
	maxBatches     int
	maxQueued      int
	path           string

	auth authCache // agents.go

	wdb *sql.DB // the single write connection
	rdb *sql.DB // read-only connections

	mu         sync.RWMutex // guards closed and sending on reqs
	closed     bool
	reqs       chan *ingestReq
	writerDone chan struct{}
	ins        ingestStmts

	rollupMu sync.Mutex // one rollup or retention pass at a time
	cacheMu  sync.Mutex
	metricID map[string]int64
	series   map[[2]int64]bool

	// testHookBeforeRollupCommit, when set, runs just before a rollup transaction of pass commits; an error
	// aborts the transaction and the pass, as a crash would.
	testHookBeforeRollupCommit func(pass string) error
}

// Open opens (creating if needed) the database at path, applies pending migrations and starts the ingest
// writer. It fails when the database was written by a newer zhizhi.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	s := &Store{
		log:            opts.Logger,
		clock:          opts.Clock,
		loc:            opts.Location,
		ret:            opts.Retention.withDefaults(),
		rollupEvery:    opts.RollupInterval,
		coarseEvery:    opts.CoarseRollupInterval,
		retentionEvery: opts.RetentionInterval,
		maxBatches:     opts.MaxBatchesPerCommit,
		maxQueued:      opts.MaxQueuedBatches,
		path:           path,
		metricID:       map[string]int64{},
		series:         map[[2]int64]bool{},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("component", "store")
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.loc == nil {
		loc, err := time.LoadLocation("Asia/Shanghai")
		if err != nil {
			loc = time.FixedZone("CST", 8*3600) // no tzdata: China has no DST, a fixed zone is exact
		}
		s.loc = loc
	}
	if s.rollupEvery <= 0 {
		s.rollupEvery = DefaultRollupInterval
	}
	if s.coarseEvery <= 0 {
		s.coarseEvery = DefaultCoarseRollupInterval
	}
	if s.retentionEvery <= 0 {
		s.retentionEvery = DefaultRetentionInterval
	}
	if s.maxBatches <= 0 {
		s.maxBatches = DefaultMaxBatchesPerCommit
	}
	if s.maxQueued <= 0 {
		s.maxQueued = 4 * s.maxBatches
	}
	s.auth.ttl = opts.AuthCacheTTL
	if s.auth.ttl == 0 {
		s.auth.ttl = DefaultAuthCacheTTL
	}

	base := "file:" + path + "?_busy_timeout=10000"
	wdb, err := sql.Open("sqlite", base+"&_journal_mode=WAL&_synchronous=FULL&_foreign_keys=1&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	wdb.SetConnMaxIdleTime(0)
	if err := wdb.PingContext(ctx); err != nil {
		wdb.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := migrate(ctx, wdb, s.clock()); err != nil {
		wdb.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	rdb, err := sql.Open("sqlite", base+"&_query_only=1")
	if err != nil {
		wdb.Close()
		return nil, fmt.Errorf("open %s read-only: %w", path, err)
	}
	rdb.SetMaxOpenConns(4)
	rdb.SetMaxIdleConns(4)
	s.wdb, s.rdb = wdb, rdb
	if err := s.ins.prepare(ctx, wdb); err != nil {
		s.ins.close()
		wdb.Close()
		rdb.Close()
		return nil, err
	}
	s.reqs = make(chan *ingestReq, s.maxQueued)
	s.writerDone = make(chan struct{})
	go s.writer()
	return s, nil
}

// Close stops accepting ingest, commits what is queued and closes the database. Call it after Run returned.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.reqs)
	s.mu.Unlock()
	<-s.writerDone
	s.ins.close()
	// Checkpoint so the WAL does not outlive the process; failure only leaves a larger WAL behind.
	if _, err := s.wdb.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		s.log.Warn("wal checkpoint on close", "err", err)
	}
	return errors.Join(s.rdb.Close(), s.wdb.Close())
}

// Run folds raw samples into rollups and enforces retention (once at start, then every RetentionInterval)
// until ctx is done, then returns nil. Errors of individual passes are logged and retried on the next tick.
func (s *Store) Run(ctx context.Context) error {
	if err := s.EnforceRetention(ctx); err != nil && ctx.Err() == nil {
		s.log.Error("retention", "err", err)
	}
	fine := time.NewTicker(s.rollupEvery)
	defer fine.Stop()
	coarse := time.NewTicker(s.coarseEvery)
	defer coarse.Stop()
	retention := time.NewTicker(s.retentionEvery)
	defer retention.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-fine.C:
			if _, err := s.rollup(ctx, passFine); err != nil && ctx.Err() == nil {
				s.log.Error("rollup 1m", "err", err)
			}
		case <-coarse.C:
			if _, err := s.rollup(ctx, passCoarse); err != nil && ctx.Err() == nil {
				s.log.Error("rollup 1h/1d", "err", err)
			}
		case <-retention.C:
			if err := s.EnforceRetention(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("retention", "err", err)
			}
		}
	}
}

package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"zhizhi/agent/wire"
	"zhizhi/collector/sketch"
)

// Resolution names a series resolution.
type Resolution string

// Resolutions, finest first.
const (
	ResRaw    Resolution = "raw"
	ResMinute Resolution = "1m"
	ResHour   Resolution = "1h"
	ResDay    Resolution = "1d"
)

func (r Resolution) table() (string, error) {
	switch r {
	case ResMinute:
		return "rollup_1m", nil
	case ResHour:
		return "rollup_1h", nil
	case ResDay:
		return "rollup_1d", nil
	}
	return "", fmt.Errorf("unknown rollup resolution %q", r)
}

// BucketStart returns the start of the res bucket holding t: UTC minute or hour, or midnight in the store's
// Location for 1d. Raw returns t.
func (s *Store) BucketStart(res Resolution, t time.Time) time.Time {
	switch res {
	case ResMinute:
		return time.Unix(floorDiv(t.Unix(), 60)*60, 0)
	case ResHour:
		return time.Unix(floorDiv(t.Unix(), 3600)*3600, 0)
	case ResDay:
		l := t.In(s.loc)
		return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, s.loc)
	}
	return t
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// The two rollup passes keep separate watermarks: the fine pass (1m) runs every RollupInterval, the coarse
// pass (1h, 1d, with quantile sketches) every CoarseRollupInterval, so each hourly and daily bucket is
// rewritten about once a minute rather than every few seconds.
//
// A pass consumes the raw rows (watermark, target] and must never count one twice, yet must not hold the
// write lock for long (ingest waits for it). So it runs in steps, each its own short transaction:
//  1. record target as rollup_state.pending (and create missing metric ids);
//  2. merge the aggregated buckets, rollupKeysPerTx per transaction, stamping each row with wm = target; a
//     row already stamped with target is skipped;
//  3. set watermark = target and clear pending.
//
// After a crash, a pending pass is redone over exactly the same raw rows; the stamps make step 2 idempotent.
const (
	passFine   = "fine"
	passCoarse = "coarse"
)

// rollupChunk bounds the raw rows one pass consumes; rollupKeysPerTx bounds the buckets merged per write
// transaction, and rollupTxBudget the time one such transaction spends merging: the single write
// connection is shared with ingest, whose group commits wait for the whole transaction (variables for tests).
// Between transactions the pass yields while ingest batches are queued (yieldToIngest).
var (
	rollupChunk     = 20000
	rollupKeysPerTx = 500
	rollupTxBudget  = 8 * time.Millisecond
	// matrixDaysPerTx bounds the host-days one matrix refresh transaction recomputes.
	matrixDaysPerTx = 256
)

// yieldToIngest waits, a little, while ingest batches are queued, so that a pending group commit takes the
// write connection before the next rollup transaction does. It gives up after maxYield so a saturated ingest
// queue cannot starve the rollups for ever.
func (s *Store) yieldToIngest(ctx context.Context) {
	const maxYield = 200 * time.Millisecond
	deadline := time.Now().Add(maxYield)
	for len(s.reqs) > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(500 * time.Microsecond)
	}
}

// RollupOnce folds every raw sample not yet rolled up into the 1m, 1h and 1d rollups and returns the number
// of raw samples consumed (by the pass that consumed the most: the two passes keep separate watermarks).
func (s *Store) RollupOnce(ctx context.Context) (int, error) {
	fine, err := s.rollup(ctx, passFine)
	if err != nil {
		return fine, err
	}
	coarse, err := s.rollup(ctx, passCoarse)
	return max(fine, coarse), err
}

// rollup runs one pass until it has caught up with the raw samples committed when it started.
func (s *Store) rollup(ctx context.Context, pass string) (int, error) {
	s.rollupMu.Lock()
	defer s.rollupMu.Unlock()
	total := 0
	for {
		n, more, err := s.rollupStep(ctx, pass)
		total += n
		if err != nil || !more {
			return total, err
		}
	}
}

// aggKey identifies one rollup bucket.
type aggKey struct {
	host   int64
	metric string
	res    Resolution
	ts     int64 // bucket start, unix seconds
}

type agg struct {
	n             int64
	min, max, sum float64
	// coarse buckets keep a quantile sketch; its first few values are held inline and the sketch is only
	// built when needed (a coarse pass over 10,000 hosts holds ~500,000 buckets of 1–4 values each).
	coarse bool
	few    [4]float64
	sk     *sketch.Sketch
}

func (a *agg) add(v float64) {
	if a.n == 0 {
		a.min, a.max = v, v
	} else {
		a.min, a.max = min(a.min, v), max(a.max, v)
	}
	if a.coarse {
		if a.sk == nil && a.n < int64(len(a.few)) {
			a.few[a.n] = v
		} else {
			a.sketch().Add(v)
		}
	}
	a.n++
	a.sum += v
}

// sketch returns the bucket's sketch, building it from the inline values. Call it before a.n changes
// other than through add.
func (a *agg) sketch() *sketch.Sketch {
	if a.sk == nil {
		a.sk = sketch.New()
		for _, v := range a.few[:min(a.n, int64(len(a.few)))] {
			a.sk.Add(v)
		}
	}
	return a.sk
}

// rollupStep consumes up to rollupChunk raw rows past the pass's watermark (or finishes a pending pass) and
// reports whether more rows may be waiting.
func (s *Store) rollupStep(ctx context.Context, pass string) (n int, more bool, err error) {
	var wm int64
	var pending sql.NullInt64
	if err := s.rdb.QueryRowContext(ctx, `SELECT watermark, pending FROM rollup_state WHERE pass = ?`, pass).Scan(&wm, &pending); err != nil {
		return 0, false, fmt.Errorf("rollup %s: read watermark: %w", pass, err)
	}
	// Raw rows past the watermark are immutable (inserted once; retention never deletes them), so they are
	// read and aggregated outside any write transaction.
	var rows *sql.Rows
	if pending.Valid {
		rows, err = s.rdb.QueryContext(ctx, `SELECT id, host_id, payload FROM samples WHERE id > ? AND id <= ? ORDER BY id`,
			wm, pending.Int64)
	} else {
		rows, err = s.rdb.QueryContext(ctx, `SELECT id, host_id, payload FROM samples WHERE id > ? ORDER BY id LIMIT ?`,
			wm, rollupChunk)
	}
	if err != nil {
		return 0, false, fmt.Errorf("rollup %s: read samples: %w", pass, err)
	}
	aggs := map[aggKey]*agg{}
	last := wm
	var smp wire.Sample
	var payload []byte
	for rows.Next() {
		var id, host int64
		if err := rows.Scan(&id, &host, &payload); err != nil {
			rows.Close()
			return 0, false, fmt.Errorf("rollup %s: scan sample: %w", pass, err)
		}
		n, last = n+1, id
		if err := decodePayload(payload, &smp); err != nil {
			// A payload this binary cannot read is skipped, not retried forever.
			s.log.Error("rollup: undecodable sample skipped", "sample_id", id, "err", err)
			continue
		}
		s.aggregate(aggs, pass, host, &smp)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, false, fmt.Errorf("rollup %s: read samples: %w", pass, err)
	}
	target := last
	if pending.Valid {
		target = pending.Int64 // redo exactly the range recorded before the crash
	} else if n == 0 {
		return 0, false, nil
	}
	if err := s.mergeRollups(ctx, pass, aggs, wm, target, pending.Valid); err != nil {
		return 0, false, err
	}
	return n, pending.Valid || n >= rollupChunk, nil
}

// aggregate adds one sample's values to the buckets of the pass's resolutions.
func (s *Store) aggregate(aggs map[aggKey]*agg, pass string, host int64, smp *wire.Sample) {
	t := smp.Time
	if pass == passFine {
		ts := s.BucketStart(ResMinute, t).Unix()
		smp.Flatten(func(name string, v float64) {
			if strings.HasPrefix(name, wire.FSUsedPctPrefix) || math.IsNaN(v) || math.IsInf(v, 0) {
				return
			}
			k := aggKey{host, name, ResMinute, ts}
			a := aggs[k]
			if a == nil {
				a = &agg{}
				aggs[k] = a
			}
			a.add(v)
		})
		return
	}
	hour, day := s.BucketStart(ResHour, t).Unix(), s.BucketStart(ResDay, t).Unix()
	smp.Flatten(func(name string, v float64) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return
		}
		for _, k := range [2]aggKey{{host, name, ResHour, hour}, {host, name, ResDay, day}} {
			a := aggs[k]
			if a == nil {
				a = &agg{coarse: true}
				aggs[k] = a
			}
			a.add(v)
		}
	})
}

// mergeRollups runs steps 1–3 of a pass (see the comment on passFine) for the buckets in aggs, moving the watermark from wm
// to target. resumed says step 1 already happened before a crash.
func (s *Store) mergeRollups(ctx context.Context, pass string, aggs map[aggKey]*agg, wm, target int64, resumed bool) error {
	// Step 0: create missing metric ids and register missing series, in short transactions of their own
	// (at start-up a pass meets every host's series for the first time: 10,000 hosts × 25 metrics). Both
	// are idempotent inserts, harmless if the pass then fails.
	var ids map[string]int64
	if err := s.rollupTx(ctx, pass, func(tx *sql.Tx) error {
		var err error
		ids, err = s.metricIDs(ctx, tx, aggs)
		return err
	}); err != nil {
		return err
	}
	missing := s.missingSeries(aggs, ids)
	for len(missing) > 0 {
		s.yieldToIngest(ctx)
		batch := missing[:min(len(missing), seriesPerTx)]
		missing = missing[len(batch):]
		if err := s.rollupTx(ctx, pass, func(tx *sql.Tx) error {
			return s.insertSeries(ctx, tx, batch)
		}); err != nil {
			return err
		}
	}
	s.commitSeriesCache(aggs, ids)

	// Step 1: record the pending target.
	s.yieldToIngest(ctx)
	err := s.rollupTx(ctx, pass, func(tx *sql.Tx) error {
		if !resumed {
			res, err := tx.ExecContext(ctx, `UPDATE rollup_state SET pending = ? WHERE pass = ? AND watermark = ? AND pending IS NULL`,
				target, pass, wm)
			if err != nil {
				return fmt.Errorf("record pending pass: %w", err)
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return fmt.Errorf("rollup state moved concurrently")
			}
		}
		return nil
	})
	if err != nil {
		return err
	}

	// Step 2: merge the buckets in short transactions.
	keys := make([]aggKey, 0, len(aggs))
	for k := range aggs {
		keys = append(keys, k)
	}
	// Sorted keys make neighbouring upserts touch neighbouring index pages.
	slices.SortFunc(keys, func(a, b aggKey) int {
		return cmp.Or(cmp.Compare(a.host, b.host), strings.Compare(a.metric, b.metric), strings.Compare(string(a.res), string(b.res)),
			cmp.Compare(a.ts, b.ts))
	})
	touched := matrixTouched(keys) // matrix.go
	for len(keys) > 0 {
		s.yieldToIngest(ctx)
		done := 0
		err := s.rollupTx(ctx, pass, func(tx *sql.Tx) error {
			m := newMerger(tx, target)
			defer m.close()
			start := time.Now()
			for _, k := range keys[:min(len(keys), rollupKeysPerTx)] {
				if err := m.merge(ctx, k.res, k.host, ids[k.metric], k.ts, aggs[k]); err != nil {
					return fmt.Errorf("merge %s of host %d at %s %d: %w", k.metric, k.host, k.res, k.ts, err)
				}
				if done++; time.Since(start) >= rollupTxBudget {
					break
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range keys[:done] {
			delete(aggs, k) // merged: free its sketch now
		}
		keys = keys[done:]
	}

	// Step 2b: refresh the yearly matrix of the touched system-days, once per pass rather than per
	// transaction. It recomputes from rollup_1d, so it is idempotent: a crash before step 3 redoes it.
	bySystem, err := s.groupBySystem(ctx, touched)
	if err != nil {
		return fmt.Errorf("rollup %s: %w", pass, err)
	}
	for len(bySystem) > 0 {
		s.yieldToIngest(ctx)
		// Cut after matrixDaysPerTx host-days, but only between systems: each system-year is refreshed by
		// exactly one transaction of the pass.
		n := min(len(bySystem), matrixDaysPerTx)
		for n < len(bySystem) && bySystem[n].system == bySystem[n-1].system {
			n++
		}
		batch := make([]hostDay, n)
		for i, sd := range bySystem[:n] {
			batch[i] = sd.hostDay
		}
		bySystem = bySystem[n:]
		if err := s.rollupTx(ctx, pass, func(tx *sql.Tx) error {
			return s.refreshMatrix(ctx, tx, batch)
		}); err != nil {
			return err
		}
	}
	s.yieldToIngest(ctx)

	// Step 3: the pass is complete.
	return s.rollupTx(ctx, pass, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE rollup_state SET watermark = ?, pending = NULL WHERE pass = ? AND pending = ?`,
			target, pass, target)
		if err != nil {
			return fmt.Errorf("advance watermark: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("rollup state moved concurrently")
		}
		return nil
	})
}

// systemHostDay is a touched host-day with the host's system (0 when unknown).
type systemHostDay struct {
	hostDay
	system int64
}

// groupBySystem returns the distinct touched host-days ordered by system, then host and day.
func (s *Store) groupBySystem(ctx context.Context, touched []hostDay) ([]systemHostDay, error) {
	if len(touched) == 0 {
		return nil, nil
	}
	systemOf := map[int64]int64{}
	rows, err := s.rdb.QueryContext(ctx, `SELECT h.id, a.system_id FROM hosts h JOIN agents a ON a.id = h.agent_id`)
	if err != nil {
		return nil, fmt.Errorf("matrix: systems of hosts: %w", err)
	}
	for rows.Next() {
		var h, sys int64
		if err := rows.Scan(&h, &sys); err != nil {
			rows.Close()
			return nil, fmt.Errorf("matrix: systems of hosts: %w", err)
		}
		systemOf[h] = sys
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("matrix: systems of hosts: %w", err)
	}
	out := make([]systemHostDay, 0, len(touched))
	for _, hd := range touched {
		out = append(out, systemHostDay{hd, systemOf[hd.host]})
	}
	slices.SortFunc(out, func(a, b systemHostDay) int {
		return cmp.Or(cmp.Compare(a.system, b.system), cmp.Compare(a.host, b.host), cmp.Compare(a.day, b.day))
	})
	return slices.Compact(out), nil
}

// rollupTx runs fn in a write transaction and commits it.
func (s *Store) rollupTx(ctx context.Context, pass string, fn func(*sql.Tx) error) error {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("rollup %s: begin: %w", pass, err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if err := fn(tx); err != nil {
		return fmt.Errorf("rollup %s: %w", pass, err)
	}
	if h := s.testHookBeforeRollupCommit; h != nil {
		if err := h(pass); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("rollup %s: commit: %w", pass, err)
	}
	return nil
}

// metricIDs returns the id of every metric in aggs, creating missing ones in tx. The cache is only filled
// for ids that already existed or after tx commits (see commitSeriesCache).
func (s *Store) metricIDs(ctx context.Context, tx *sql.Tx, aggs map[aggKey]*agg) (map[string]int64, error) {
	ids := map[string]int64{}
	s.cacheMu.Lock()
	for k := range aggs {
		if id, ok := s.metricID[k.metric]; ok {
			ids[k.metric] = id
		}
	}
	s.cacheMu.Unlock()
	for k := range aggs {
		if _, ok := ids[k.metric]; ok {
			continue
		}
		var id int64
		err := tx.QueryRowContext(ctx, `INSERT INTO metrics (name) VALUES (?)
			ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id`, k.metric).Scan(&id)
		if err != nil {
			return nil, fmt.Errorf("metric %q: %w", k.metric, err)
		}
		ids[k.metric] = id
	}
	return ids, nil
}

func (s *Store) registerSeries(ctx context.Context, tx *sql.Tx, aggs map[aggKey]*agg, ids map[string]int64) error {
	return s.insertSeries(ctx, tx, s.missingSeries(aggs, ids))
}

// seriesPerTx bounds the series one registration transaction inserts (a variable for tests).
var seriesPerTx = 2000

// missingSeries returns the (host, metric id) pairs of aggs not in the series cache.
func (s *Store) missingSeries(aggs map[aggKey]*agg, ids map[string]int64) [][2]int64 {
	s.cacheMu.Lock()
	var missing [][2]int64
	seen := map[[2]int64]bool{}
	for k := range aggs {
		p := [2]int64{k.host, ids[k.metric]}
		if !s.series[p] && !seen[p] {
			seen[p] = true
			missing = append(missing, p)
		}
	}
	s.cacheMu.Unlock()
	return missing
}

func (s *Store) insertSeries(ctx context.Context, tx *sql.Tx, missing [][2]int64) error {
	for _, p := range missing {
		if _, err := tx.ExecContext(ctx, `INSERT INTO series (host_id, metric_id) VALUES (?, ?) ON CONFLICT DO NOTHING`,
			p[0], p[1]); err != nil {
			return fmt.Errorf("register series: %w", err)
		}
	}
	return nil
}

func (s *Store) commitSeriesCache(aggs map[aggKey]*agg, ids map[string]int64) {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	for name, id := range ids {
		s.metricID[name] = id
	}
	for k := range aggs {
		s.series[[2]int64{k.host, ids[k.metric]}] = true
	}
}

// merger holds the statements that merge partial aggregates into existing rollup rows.
type merger struct {
	tx     *sql.Tx
	target int64 // the pass's target watermark, stamped on every row it merges
	stmts  map[string]*sql.Stmt
	enc    []byte
}

func newMerger(tx *sql.Tx, target int64) *merger {
	return &merger{tx: tx, target: target, stmts: map[string]*sql.Stmt{}}
}

func (m *merger) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	if st, ok := m.stmts[q]; ok {
		return st, nil
	}
	st, err := m.tx.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	m.stmts[q] = st
	return st, nil
}

func (m *merger) close() {
	for _, st := range m.stmts {
		st.Close()
	}
}

func (m *merger) merge(ctx context.Context, res Resolution, host, metric, ts int64, a *agg) error {
	table, err := res.table()
	if err != nil {
		return err
	}
	if !a.coarse {
		// Minute buckets: min/max/sum/count merge in SQL, unless this pass already merged into the row.
		st, err := m.stmt(ctx, `INSERT INTO `+table+` (host_id, metric_id, ts, n, min, max, sum, wm) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (host_id, metric_id, ts) DO UPDATE SET n = n + excluded.n, min = min(min, excluded.min),
			max = max(max, excluded.max), sum = sum + excluded.sum, wm = excluded.wm WHERE wm < excluded.wm`)
		if err != nil {
			return err
		}
		_, err = st.ExecContext(ctx, host, metric, ts, a.n, a.min, a.max, a.sum, m.target)
		return err
	}
	sk := a.sketch() // before a.n takes the stored count
	sel, err := m.stmt(ctx, `SELECT n, min, max, sum, p95, sketch, wm FROM `+table+` WHERE host_id = ? AND metric_id = ? AND ts = ?`)
	if err != nil {
		return err
	}
	var n, wm int64
	var mn, mx, sum float64
	var p95 sql.NullFloat64
	var blob []byte
	err = sel.QueryRowContext(ctx, host, metric, ts).Scan(&n, &mn, &mx, &sum, &p95, &blob, &wm)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return err
	case wm >= m.target:
		return nil // merged by this pass before a crash
	default:
		a.min, a.max = min(a.min, mn), max(a.max, mx)
		a.n += n
		a.sum += sum
	}
	q, _ := sk.Quantile(0.95)
	if n > 0 {
		if len(blob) > 0 {
			old, derr := sketch.Decode(blob)
			if derr != nil {
				return fmt.Errorf("stored sketch: %w", derr)
			}
			sk.Merge(old)
			q, _ = sk.Quantile(0.95)
		} else if p95.Valid {
			// A bulk-loaded row (InsertRollups) has a p95 but no sketch: the merged p95 cannot be exact, keep
			// the larger of the two as a conservative estimate and keep the sketch of the new values only.
			q = max(q, p95.Float64)
		}
	}
	// The sketch is accurate to 1% of the value; the bucket's exact extremes bound it (no 100.5% CPU).
	q = min(max(q, a.min), a.max)
	m.enc = sk.AppendBinary(m.enc[:0])
	up, err := m.stmt(ctx, `INSERT INTO `+table+` (host_id, metric_id, ts, n, min, max, sum, p95, sketch, wm)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (host_id, metric_id, ts) DO UPDATE SET n = excluded.n,
		min = excluded.min, max = excluded.max, sum = excluded.sum, p95 = excluded.p95, sketch = excluded.sketch,
		wm = excluded.wm`)
	if err != nil {
		return err
	}
	_, err = up.ExecContext(ctx, host, metric, ts, a.n, a.min, a.max, a.sum, q, m.enc, m.target)
	return err
}

// RollupRow is one rollup bucket for InsertRollups. P95 is ignored for 1m rows; NaN stores no p95.
type RollupRow struct {
	HostID        int64
	Metric        string
	Res           Resolution
	TS            time.Time // any time inside the bucket; it is aligned with BucketStart
	N             int64
	Min, Max, Sum float64
	P95           float64
}

// InsertRollups bulk-loads rollup rows (e.g. simulated history), replacing rows with the same key. The rows
// carry no quantile sketch; a later raw sample merged into such a 1h or 1d bucket keeps max(p95, new p95).
func (s *Store) InsertRollups(ctx context.Context, rows []RollupRow) error {
	s.rollupMu.Lock()
	defer s.rollupMu.Unlock()
	const chunk = 5000
	for len(rows) > 0 {
		k := min(len(rows), chunk)
		if err := s.insertRollups(ctx, rows[:k]); err != nil {
			return err
		}
		rows = rows[k:]
	}
	return nil
}

func (s *Store) insertRollups(ctx context.Context, rows []RollupRow) error {
	aggs := map[aggKey]*agg{} // only used for metric ids and the series registry
	for i, r := range rows {
		if _, err := r.Res.table(); err != nil {
			return fmt.Errorf("insert rollups: row %d: %w", i, err)
		}
		if r.Metric == "" || r.HostID <= 0 || r.N <= 0 {
			return fmt.Errorf("insert rollups: row %d: need a host id, a metric and a positive count", i)
		}
		aggs[aggKey{host: r.HostID, metric: r.Metric}] = nil
	}
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("insert rollups: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	ids, err := s.metricIDs(ctx, tx, aggs)
	if err != nil {
		return fmt.Errorf("insert rollups: %w", err)
	}
	stmts := map[Resolution]*sql.Stmt{}
	for i, r := range rows {
		st := stmts[r.Res]
		if st == nil {
			table, _ := r.Res.table()
			if st, err = tx.PrepareContext(ctx, `INSERT OR REPLACE INTO `+table+
				` (host_id, metric_id, ts, n, min, max, sum, p95) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`); err != nil {
				return fmt.Errorf("insert rollups: %w", err)
			}
			defer st.Close()
			stmts[r.Res] = st
		}
		var p95 any
		if r.Res != ResMinute && !math.IsNaN(r.P95) {
			p95 = r.P95
		}
		if _, err := st.ExecContext(ctx, r.HostID, ids[r.Metric], s.BucketStart(r.Res, r.TS).Unix(), r.N, r.Min, r.Max,
			r.Sum, p95); err != nil {
			return fmt.Errorf("insert rollups: row %d: %w", i, err)
		}
	}
	if err := s.registerSeries(ctx, tx, aggs, ids); err != nil {
		return fmt.Errorf("insert rollups: %w", err)
	}
	var days []hostDay // matrix.go
	for _, r := range rows {
		if r.Res == ResDay && slices.Contains(matrixMetricNames, r.Metric) {
			days = append(days, hostDay{r.HostID, s.BucketStart(ResDay, r.TS).Unix()})
		}
	}
	if err := s.refreshMatrix(ctx, tx, days); err != nil {
		return fmt.Errorf("insert rollups: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("insert rollups: commit: %w", err)
	}
	s.commitSeriesCache(aggs, ids)
	return nil
}

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"zhizhi/agent/wire"
)

// The forwarding queue (schema in forward_schema.go) is a watermark over the raw samples table per target:
// raw rows past it are queued. A forwarder reads them with ForwardRead, writes them to its engine and, after a
// 2xx, advances the watermark with ForwardCommit. ForwardTrim bounds the queue by rows and by ingest age.

// ErrForwardConflict reports a ForwardCommit whose starting watermark is no longer the stored one (another
// forwarder of the same name, or a trim in between): the caller rereads and tries again.
var ErrForwardConflict = errors.New("forward watermark moved")

// forwardMarkEvery is how often ForwardTrim records an ingest-time mark (a variable for tests).
var forwardMarkEvery = time.Minute

// ForwardRow is one queued raw sample with the labels of its host.
type ForwardRow struct {
	ID         int64 // samples.id
	TS         int64 // sample time, unix ms
	Hostname   string
	AgentID    string
	System     string
	Department string
	Sample     wire.Sample
}

// ForwardBatch is what ForwardRead returns: the queued rows in (From, To] in id order. Skipped counts rows of
// that range whose payload could not be decoded; they are not in Rows and count as dropped when committed.
type ForwardBatch struct {
	From, To int64
	Rows     []ForwardRow
	Skipped  int64
}

// ForwardStatus is a target's queue: its watermark, the rows past it and its persisted totals. Backlog counts
// sample ids past the watermark, which is the number of queued rows (ids are dense there).
type ForwardStatus struct {
	Watermark int64
	Backlog   int64
	Sent      int64
	Dropped   int64
}

// ForwardBound bounds a target's queue. A zero field means no bound of that kind.
type ForwardBound struct {
	// MaxRows is the most rows kept queued; the oldest beyond it are dropped.
	MaxRows int64
	// MaxAge drops queued rows ingested longer ago than this (server clock, to about a minute). It is capped
	// below the raw retention so that retention never deletes a row the bound still keeps.
	MaxAge time.Duration
}

// ensureForward creates the target's state row, with its watermark just before the oldest raw row: everything
// still held in the raw table is forwarded (within the bound).
func (s *Store) ensureForward(ctx context.Context, tx *sql.Tx, name string, now time.Time) error {
	if name == "" {
		return fmt.Errorf("forward target name is empty")
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO forward_state (name, watermark, updated_at)
		VALUES (?, (SELECT COALESCE(MIN(id), 1) - 1 FROM samples), ?) ON CONFLICT (name) DO NOTHING`,
		name, now.UnixMilli())
	return err
}

// ForwardRead returns up to limit queued rows of target name, oldest first, with their host labels. It only
// reads, and never blocks ingest.
func (s *Store) ForwardRead(ctx context.Context, name string, limit int) (ForwardBatch, error) {
	if limit <= 0 {
		return ForwardBatch{}, fmt.Errorf("forward read: limit %d must be positive", limit)
	}
	var wm int64
	err := s.rdb.QueryRowContext(ctx, `SELECT watermark FROM forward_state WHERE name = ?`, name).Scan(&wm)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return ForwardBatch{}, fmt.Errorf("forward read %s: watermark: %w", name, err)
	}
	b := ForwardBatch{From: wm, To: wm}
	rows, err := s.rdb.QueryContext(ctx, `SELECT s.id, s.ts, s.payload, h.hostname, h.agent_id, sy.name, d.name
		FROM samples s
		JOIN hosts h ON h.id = s.host_id
		JOIN agents a ON a.id = h.agent_id
		JOIN systems sy ON sy.id = a.system_id
		JOIN departments d ON d.id = sy.department_id
		WHERE s.id > ? ORDER BY s.id LIMIT ?`, wm, limit)
	if err != nil {
		return ForwardBatch{}, fmt.Errorf("forward read %s: %w", name, err)
	}
	defer rows.Close()
	var payload []byte
	for rows.Next() {
		var r ForwardRow
		if err := rows.Scan(&r.ID, &r.TS, &payload, &r.Hostname, &r.AgentID, &r.System, &r.Department); err != nil {
			return ForwardBatch{}, fmt.Errorf("forward read %s: scan: %w", name, err)
		}
		b.To = r.ID
		if err := decodePayload(payload, &r.Sample); err != nil {
			s.log.Error("forward: undecodable sample skipped", "sample_id", r.ID, "err", err)
			b.Skipped++
			continue
		}
		b.Rows = append(b.Rows, r)
	}
	if err := rows.Err(); err != nil {
		return ForwardBatch{}, fmt.Errorf("forward read %s: %w", name, err)
	}
	return b, nil
}

// ForwardCommit moves target name's watermark from from to to and adds sent and dropped to its totals, in one
// transaction. It returns ErrForwardConflict when the stored watermark is not from.
func (s *Store) ForwardCommit(ctx context.Context, name string, from, to, sent, dropped int64) error {
	if to < from || sent < 0 || dropped < 0 {
		return fmt.Errorf("forward commit %s: bad range (%d, %d] sent %d dropped %d", name, from, to, sent, dropped)
	}
	now := s.clock()
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("forward commit %s: %w", name, err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if err := s.ensureForward(ctx, tx, name, now); err != nil {
		return fmt.Errorf("forward commit %s: %w", name, err)
	}
	res, err := tx.ExecContext(ctx, `UPDATE forward_state SET watermark = ?, sent = sent + ?, dropped = dropped + ?,
		updated_at = ? WHERE name = ? AND watermark = ?`, to, sent, dropped, now.UnixMilli(), name, from)
	if err != nil {
		return fmt.Errorf("forward commit %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("forward commit %s from %d: %w", name, from, ErrForwardConflict)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("forward commit %s: %w", name, err)
	}
	return nil
}

// ForwardTrim enforces bound on target name's queue: it drops the oldest queued rows beyond MaxRows and those
// ingested more than MaxAge ago, adds them to the dropped total and returns how many it dropped. It also
// records an ingest-time mark and the target's activity about once a minute, so it should run on every pass of
// the forwarder, whether the engine answers or not. When there is nothing to do it only reads, and never takes
// the write lock.
func (s *Store) ForwardTrim(ctx context.Context, name string, bound ForwardBound) (int64, error) {
	now := s.clock()
	maxAge := bound.MaxAge
	if s.ret.Raw > 0 && (maxAge <= 0 || maxAge > s.ret.Raw-forwardMarkEvery) {
		maxAge = s.ret.Raw - forwardMarkEvery // retention must not reach rows the bound keeps
	}
	// Read phase, on the read connections. Rows in (watermark, cut] are immutable while the target is active
	// (retention keeps them, inserts get higher ids), so counting them here is exact; the write phase only
	// applies the result if the watermark did not move meanwhile.
	var wm int64
	var lastMark, top sql.NullInt64
	err := s.rdb.QueryRowContext(ctx, `SELECT watermark, (SELECT MAX(at) FROM forward_marks), (SELECT MAX(id) FROM samples)
		FROM forward_state WHERE name = ?`, name).Scan(&wm, &lastMark, &top)
	if errors.Is(err, sql.ErrNoRows) {
		if err := s.createForward(ctx, name, now); err != nil {
			return 0, err
		}
		return s.ForwardTrim(ctx, name, bound)
	}
	if err != nil {
		return 0, fmt.Errorf("forward trim %s: read state: %w", name, err)
	}
	markDue := !lastMark.Valid || now.UnixMilli()-lastMark.Int64 >= forwardMarkEvery.Milliseconds()
	cut := wm
	if bound.MaxRows > 0 && top.Valid {
		// Ids past the watermark are dense (AUTOINCREMENT, and retention keeps queued rows), so the newest
		// MaxRows rows are the ids above MAX(id) - MaxRows.
		cut = max(cut, top.Int64-bound.MaxRows)
	}
	var ageMark sql.NullInt64 // the newest mark older than the age bound
	if maxAge > 0 {
		var id sql.NullInt64
		if err := s.rdb.QueryRowContext(ctx, `SELECT at, id FROM forward_marks WHERE at <= ? ORDER BY at DESC LIMIT 1`,
			now.Add(-maxAge).UnixMilli()).Scan(&ageMark, &id); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return 0, fmt.Errorf("forward trim %s: age bound: %w", name, err)
		}
		if id.Valid {
			cut = max(cut, id.Int64)
		}
	}
	if !markDue && cut <= wm {
		return 0, nil
	}
	var dropped int64
	if cut > wm {
		if err := s.rdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM samples WHERE id > ? AND id <= ?`, wm, cut).Scan(&dropped); err != nil {
			return 0, fmt.Errorf("forward trim %s: count: %w", name, err)
		}
	}

	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("forward trim %s: %w", name, err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if markDue {
		if _, err := tx.ExecContext(ctx, `INSERT INTO forward_marks (at, id)
			VALUES (?, (SELECT COALESCE(MAX(id), 0) FROM samples)) ON CONFLICT (at) DO NOTHING`, now.UnixMilli()); err != nil {
			return 0, fmt.Errorf("forward trim %s: mark: %w", name, err)
		}
	}
	if ageMark.Valid { // marks before the newest one past the bound are of no further use
		if _, err := tx.ExecContext(ctx, `DELETE FROM forward_marks WHERE at < ?`, ageMark.Int64); err != nil {
			return 0, fmt.Errorf("forward trim %s: prune marks: %w", name, err)
		}
	}
	res, err := tx.ExecContext(ctx, `UPDATE forward_state SET watermark = ?, dropped = dropped + ?, updated_at = ?
		WHERE name = ? AND watermark = ?`, cut, dropped, now.UnixMilli(), name, wm)
	if err != nil {
		return 0, fmt.Errorf("forward trim %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return 0, fmt.Errorf("forward trim %s from %d: %w", name, wm, ErrForwardConflict)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("forward trim %s: %w", name, err)
	}
	if dropped > 0 {
		s.log.Warn("forward: queue over its bound, oldest samples dropped", "target", name, "dropped", dropped,
			"max_rows", bound.MaxRows, "max_age", maxAge)
	}
	return dropped, nil
}

// createForward creates target name's state row when missing.
func (s *Store) createForward(ctx context.Context, name string, now time.Time) error {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("forward %s: %w", name, err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if err := s.ensureForward(ctx, tx, name, now); err != nil {
		return fmt.Errorf("forward %s: %w", name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("forward %s: %w", name, err)
	}
	return nil
}

// ForwardStatus returns target name's watermark, backlog and totals in O(log n); an unknown target has all
// zeros except its backlog (every raw row).
func (s *Store) ForwardStatus(ctx context.Context, name string) (ForwardStatus, error) {
	var st ForwardStatus
	err := s.rdb.QueryRowContext(ctx, `SELECT watermark, sent, dropped FROM forward_state WHERE name = ?`, name).
		Scan(&st.Watermark, &st.Sent, &st.Dropped)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return ForwardStatus{}, fmt.Errorf("forward status %s: %w", name, err)
	}
	var top int64
	if err := s.rdb.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM samples`).Scan(&top); err != nil {
		return ForwardStatus{}, fmt.Errorf("forward status %s: backlog: %w", name, err)
	}
	st.Backlog = max(0, top-st.Watermark)
	return st, nil
}

// forwardHold returns the lowest watermark of the forwarding targets active within the raw retention: raw
// rows past it are queued and retention keeps them. ok is false when no target is active.
func (s *Store) forwardHold(ctx context.Context, now time.Time) (wm int64, ok bool, err error) {
	var v sql.NullInt64
	since := int64(0)
	if s.ret.Raw > 0 {
		since = now.Add(-s.ret.Raw).UnixMilli()
	}
	if err := s.rdb.QueryRowContext(ctx, `SELECT MIN(watermark) FROM forward_state WHERE updated_at >= ?`, since).Scan(&v); err != nil {
		return 0, false, fmt.Errorf("forward watermark: %w", err)
	}
	return v.Int64, v.Valid, nil
}

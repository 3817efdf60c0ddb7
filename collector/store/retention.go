package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Retention work is split into short transactions so it never holds the write lock for long: each commits
// after about retentionChunk deleted rows or retentionStmts statements (variables for tests).
var (
	retentionChunk int64 = 5000
	retentionStmts int64 = 500
)

// EnforceRetention deletes raw samples and rollup rows older than their retention (Options.Retention,
// measured from Options.Clock). Raw samples not yet consumed by both rollup passes, or still queued for an
// active forwarding target (forward.go), are never deleted.
func (s *Store) EnforceRetention(ctx context.Context) error {
	now := s.clock()
	c := &chunker{db: s.wdb}
	defer c.abort()
	if s.ret.Raw > 0 {
		if err := s.expireRaw(ctx, c, now.Add(-s.ret.Raw)); err != nil {
			return err
		}
	}
	for _, r := range []struct {
		res Resolution
		ret time.Duration
	}{{ResMinute, s.ret.Minute}, {ResHour, s.ret.Hour}, {ResDay, s.ret.Day}} {
		if r.ret <= 0 {
			continue
		}
		if err := s.expireRollups(ctx, c, r.res, now.Add(-r.ret)); err != nil {
			return err
		}
	}
	return c.flush()
}

func (s *Store) expireRaw(ctx context.Context, c *chunker, cutoff time.Time) error {
	var wm int64
	if err := s.rdb.QueryRowContext(ctx, `SELECT MIN(watermark) FROM rollup_state`).Scan(&wm); err != nil {
		return fmt.Errorf("retention: read watermark: %w", err)
	}
	if fw, ok, err := s.forwardHold(ctx, s.clock()); err != nil { // forward.go: keep the forwarding queue
		return fmt.Errorf("retention: %w", err)
	} else if ok {
		wm = min(wm, fw)
	}
	hosts, err := s.int64s(ctx, `SELECT id FROM hosts ORDER BY id`)
	if err != nil {
		return fmt.Errorf("retention: %w", err)
	}
	var deleted int64
	for _, h := range hosts {
		for {
			n, err := c.exec(ctx, `DELETE FROM samples WHERE id IN
				(SELECT id FROM samples WHERE host_id = ? AND ts < ? AND id <= ? LIMIT ?)`,
				h, cutoff.UnixMilli(), wm, retentionChunk)
			if err != nil {
				return fmt.Errorf("retention: raw samples of host %d: %w", h, err)
			}
			deleted += n
			if n < retentionChunk {
				break
			}
		}
	}
	if deleted > 0 {
		s.log.Info("retention: raw samples deleted", "rows", deleted, "before", cutoff)
	}
	return nil
}

func (s *Store) expireRollups(ctx context.Context, c *chunker, res Resolution, cutoff time.Time) error {
	table, err := res.table()
	if err != nil {
		return err
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT host_id, metric_id FROM series`)
	if err != nil {
		return fmt.Errorf("retention: list series: %w", err)
	}
	var pairs [][2]int64
	for rows.Next() {
		var p [2]int64
		if err := rows.Scan(&p[0], &p[1]); err != nil {
			rows.Close()
			return fmt.Errorf("retention: list series: %w", err)
		}
		pairs = append(pairs, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("retention: list series: %w", err)
	}
	var deleted int64
	for _, p := range pairs {
		n, err := c.exec(ctx, `DELETE FROM `+table+` WHERE host_id = ? AND metric_id = ? AND ts < ?`,
			p[0], p[1], cutoff.Unix())
		if err != nil {
			return fmt.Errorf("retention: %s host %d metric %d: %w", table, p[0], p[1], err)
		}
		deleted += n
	}
	if deleted > 0 {
		s.log.Info("retention: rollup rows deleted", "resolution", string(res), "rows", deleted, "before", cutoff)
	}
	return nil
}

func (s *Store) int64s(ctx context.Context, q string, args ...any) ([]int64, error) {
	rows, err := s.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// chunker runs statements in transactions it commits every retentionChunk rows or retentionStmts statements.
type chunker struct {
	db          *sql.DB
	tx          *sql.Tx
	rows, stmts int64
}

func (c *chunker) exec(ctx context.Context, q string, args ...any) (int64, error) {
	if c.tx == nil {
		tx, err := c.db.BeginTx(ctx, nil)
		if err != nil {
			return 0, err
		}
		c.tx = tx
	}
	res, err := c.tx.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	c.rows += n
	c.stmts++
	if c.rows >= retentionChunk || c.stmts >= retentionStmts {
		if err := c.flush(); err != nil {
			return 0, err
		}
	}
	return n, nil
}

func (c *chunker) flush() error {
	if c.tx == nil {
		return nil
	}
	err := c.tx.Commit()
	c.tx, c.rows, c.stmts = nil, 0, 0
	if err != nil {
		return fmt.Errorf("retention: commit: %w", err)
	}
	return nil
}

func (c *chunker) abort() {
	if c.tx != nil {
		c.tx.Rollback() //nolint:errcheck // only after an earlier error
		c.tx = nil
	}
}

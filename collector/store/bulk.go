package store

import (
	"context"
	"fmt"
	"math"
	"strings"
)

// bulkRowsPerStmt is how many rows one multi-row INSERT carries (8 parameters each, well under SQLite's limit).
const bulkRowsPerStmt = 128

// BulkInsertRollups is InsertRollups for large loads (simulated history): the rows are written in one
// transaction with multi-row INSERT statements, replacing rows with the same key, and the district matrix is
// refreshed for the 1d rows in the same transaction. Callers pass chunks of some ten thousand rows; rows
// sorted by host, metric and time insert fastest.
func (s *Store) BulkInsertRollups(ctx context.Context, rows []RollupRow) error {
	if len(rows) == 0 {
		return nil
	}
	s.rollupMu.Lock()
	defer s.rollupMu.Unlock()
	aggs := map[aggKey]*agg{} // only used for metric ids and the series registry
	var touched []aggKey
	byRes := map[Resolution][]int{}
	for i, r := range rows {
		if _, err := r.Res.table(); err != nil {
			return fmt.Errorf("bulk insert rollups: row %d: %w", i, err)
		}
		if r.Metric == "" || r.HostID <= 0 || r.N <= 0 {
			return fmt.Errorf("bulk insert rollups: row %d: need a host id, a metric and a positive count", i)
		}
		aggs[aggKey{host: r.HostID, metric: r.Metric}] = nil
		byRes[r.Res] = append(byRes[r.Res], i)
		if r.Res == ResDay {
			touched = append(touched, aggKey{host: r.HostID, metric: r.Metric, res: ResDay, ts: s.BucketStart(ResDay, r.TS).Unix()})
		}
	}
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("bulk insert rollups: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	ids, err := s.metricIDs(ctx, tx, aggs)
	if err != nil {
		return fmt.Errorf("bulk insert rollups: %w", err)
	}
	args := make([]any, 0, 8*bulkRowsPerStmt)
	for _, res := range []Resolution{ResMinute, ResHour, ResDay} {
		idx := byRes[res]
		if len(idx) == 0 {
			continue
		}
		table, _ := res.table()
		full, err := tx.PrepareContext(ctx, bulkInsertSQL(table, bulkRowsPerStmt))
		if err != nil {
			return fmt.Errorf("bulk insert rollups: %w", err)
		}
		defer full.Close()
		for len(idx) > 0 {
			k := min(len(idx), bulkRowsPerStmt)
			args = args[:0]
			for _, i := range idx[:k] {
				r := &rows[i]
				var p95 any
				if res != ResMinute && !math.IsNaN(r.P95) {
					p95 = r.P95
				}
				args = append(args, r.HostID, ids[r.Metric], s.BucketStart(res, r.TS).Unix(), r.N, r.Min, r.Max, r.Sum, p95)
			}
			st := full
			if k < bulkRowsPerStmt {
				if st, err = tx.PrepareContext(ctx, bulkInsertSQL(table, k)); err != nil {
					return fmt.Errorf("bulk insert rollups: %w", err)
				}
				defer st.Close()
			}
			if _, err := st.ExecContext(ctx, args...); err != nil {
				return fmt.Errorf("bulk insert rollups: rows %d..: %w", idx[0], err)
			}
			idx = idx[k:]
		}
	}
	if err := s.registerSeries(ctx, tx, aggs, ids); err != nil {
		return fmt.Errorf("bulk insert rollups: %w", err)
	}
	if err := s.refreshMatrix(ctx, tx, matrixTouched(touched)); err != nil {
		return fmt.Errorf("bulk insert rollups: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("bulk insert rollups: commit: %w", err)
	}
	s.commitSeriesCache(aggs, ids)
	return nil
}

func bulkInsertSQL(table string, n int) string {
	var b strings.Builder
	b.WriteString(`INSERT OR REPLACE INTO ` + table + ` (host_id, metric_id, ts, n, min, max, sum, p95) VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?)")
	}
	return b.String()
}

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"zhizhi/collector/sketch"
)

// Exception is a stored analyzer exception (see zhizhi/analyzer/detect.Exception, which validates it). The
// store checks only what it needs to keep the row meaningful; the analyzer validates the rest before Add.
type Exception struct {
	ID   int64
	Type string
	// HostID scopes the exception to one host; when 0, System scopes it to every host of that system.
	HostID   int64
	System   string
	Owner    string
	Reason   string
	Schedule string
	Months   []int // 1..12
	Created  time.Time
	Expires  time.Time
}

// AddException stores e and returns it with its new ID.
func (s *Store) AddException(ctx context.Context, e Exception) (Exception, error) {
	switch {
	case e.Type == "":
		return Exception{}, fmt.Errorf("add exception: type: required")
	case e.HostID == 0 && e.System == "":
		return Exception{}, fmt.Errorf("add exception: host_id or system: required")
	case e.Created.IsZero() || e.Expires.IsZero():
		return Exception{}, fmt.Errorf("add exception: created and expires: required")
	}
	months := make([]string, len(e.Months))
	for i, m := range e.Months {
		if m < 1 || m > 12 {
			return Exception{}, fmt.Errorf("add exception: months[%d]: %d is not a month", i, m)
		}
		months[i] = strconv.Itoa(m)
	}
	res, err := s.wdb.ExecContext(ctx, `INSERT INTO analyzer_exceptions
		(type, host_id, system, owner, reason, schedule, months, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.Type, e.HostID, e.System, e.Owner, e.Reason, e.Schedule, strings.Join(months, ","),
		e.Created.UnixMilli(), e.Expires.UnixMilli())
	if err != nil {
		return Exception{}, fmt.Errorf("add exception: %w", err)
	}
	if e.ID, err = res.LastInsertId(); err != nil {
		return Exception{}, fmt.Errorf("add exception: %w", err)
	}
	e.Created, e.Expires = time.UnixMilli(e.Created.UnixMilli()), time.UnixMilli(e.Expires.UnixMilli())
	return e, nil
}

// Exceptions returns every stored exception, expired ones included, by ID.
func (s *Store) Exceptions(ctx context.Context) ([]Exception, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, type, host_id, system, owner, reason, schedule, months,
		created_at, expires_at FROM analyzer_exceptions ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("exceptions: %w", err)
	}
	defer rows.Close()
	var out []Exception
	for rows.Next() {
		var e Exception
		var months string
		var created, expires int64
		if err := rows.Scan(&e.ID, &e.Type, &e.HostID, &e.System, &e.Owner, &e.Reason, &e.Schedule, &months,
			&created, &expires); err != nil {
			return nil, fmt.Errorf("exceptions: %w", err)
		}
		for _, f := range strings.Split(months, ",") {
			if m, err := strconv.Atoi(f); err == nil {
				e.Months = append(e.Months, m)
			}
		}
		e.Created, e.Expires = time.UnixMilli(created), time.UnixMilli(expires)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("exceptions: %w", err)
	}
	return out, nil
}

// DeleteException removes one exception; ErrNotFound when there is none with that ID.
func (s *Store) DeleteException(ctx context.Context, id int64) error {
	res, err := s.wdb.ExecContext(ctx, `DELETE FROM analyzer_exceptions WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete exception %d: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("delete exception %d: %w", id, err)
	} else if n == 0 {
		return fmt.Errorf("delete exception %d: %w", id, ErrNotFound)
	}
	return nil
}

// DailyRollup is one 1-day rollup bucket of one metric of one host.
type DailyRollup struct {
	Metric        string
	Day           time.Time // local midnight (Options.Location)
	N             int64
	Min, Max, Sum float64
	P95           float64 // NaN when the bucket has none
}

// DailyRollups returns host hostID's 1-day buckets of metrics whose start lies in [from, to), ordered by
// metric and day. Unknown metrics give nothing.
func (s *Store) DailyRollups(ctx context.Context, hostID int64, metrics []string, from, to time.Time) ([]DailyRollup, error) {
	if len(metrics) == 0 {
		return nil, nil
	}
	args := []any{hostID, s.BucketStart(ResDay, from).Unix(), to.Unix()}
	for _, m := range metrics {
		args = append(args, m)
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT m.name, r.ts, r.n, r.min, r.max, r.sum, r.p95
		FROM rollup_1d r JOIN metrics m ON m.id = r.metric_id
		WHERE r.host_id = ? AND r.ts >= ? AND r.ts < ? AND m.name IN (?`+strings.Repeat(",?", len(metrics)-1)+`)
		ORDER BY m.name, r.ts`, args...)
	if err != nil {
		return nil, fmt.Errorf("daily rollups of host %d: %w", hostID, err)
	}
	defer rows.Close()
	var out []DailyRollup
	for rows.Next() {
		var d DailyRollup
		var ts int64
		var p95 sql.NullFloat64
		if err := rows.Scan(&d.Metric, &ts, &d.N, &d.Min, &d.Max, &d.Sum, &p95); err != nil {
			return nil, fmt.Errorf("daily rollups of host %d: %w", hostID, err)
		}
		d.Day = time.Unix(ts, 0).In(s.loc)
		d.P95 = math.NaN()
		if p95.Valid {
			d.P95 = p95.Float64
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("daily rollups of host %d: %w", hostID, err)
	}
	return out, nil
}

// WindowQuantile returns the q-quantile of every sample of metric on host hostID in the 1-day buckets starting
// in [from, to), by merging the daily quantile sketches (never by averaging daily percentiles), and the number
// of samples it covers; ok is false when there are none.
//
// A bucket without a sketch (bulk-loaded with InsertRollups) contributes its p95 (or, lacking one, its
// maximum) weighted by its sample count: an upper-leaning approximation for high quantiles, used only for
// loaded history.
func (s *Store) WindowQuantile(ctx context.Context, hostID int64, metric string, from, to time.Time, q float64) (v float64, n int64, ok bool, err error) {
	if q < 0 || q > 1 || math.IsNaN(q) {
		return 0, 0, false, fmt.Errorf("window quantile: q %v outside [0, 1]", q)
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT r.n, r.min, r.max, r.p95, r.sketch FROM rollup_1d r JOIN metrics m ON m.id = r.metric_id
		WHERE r.host_id = ? AND m.name = ? AND r.ts >= ? AND r.ts < ?`,
		hostID, metric, s.BucketStart(ResDay, from).Unix(), to.Unix())
	if err != nil {
		return 0, 0, false, fmt.Errorf("window quantile of host %d %s: %w", hostID, metric, err)
	}
	defer rows.Close()
	merged := sketch.New()
	lo, hi := math.Inf(1), math.Inf(-1)
	for rows.Next() {
		var cnt int64
		var mn, mx float64
		var p95 sql.NullFloat64
		var blob []byte
		if err := rows.Scan(&cnt, &mn, &mx, &p95, &blob); err != nil {
			return 0, 0, false, fmt.Errorf("window quantile of host %d %s: %w", hostID, metric, err)
		}
		n += cnt
		lo, hi = min(lo, mn), max(hi, mx)
		if len(blob) > 0 {
			sk, derr := sketch.Decode(blob)
			if derr == nil {
				merged.Merge(sk)
				continue
			}
			if !errors.Is(derr, sketch.ErrCorrupt) {
				return 0, 0, false, fmt.Errorf("window quantile of host %d %s: %w", hostID, metric, derr)
			}
		}
		val := mx
		if p95.Valid {
			val = p95.Float64
		}
		merged.AddN(val, uint64(cnt))
	}
	if err := rows.Err(); err != nil {
		return 0, 0, false, fmt.Errorf("window quantile of host %d %s: %w", hostID, metric, err)
	}
	v, ok = merged.Quantile(q)
	if ok {
		// The sketch is accurate to 1% of the value; the exact extremes bound it (a CPU never shows 100.5%).
		v = min(max(v, lo), hi)
	}
	return v, n, ok, nil
}

package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"zhizhi/agent/wire"
)

// HostSummary is a host with its agent, system and newest sample, for the overview.
type HostSummary struct {
	ID                  int64
	AgentID, Hostname   string
	System, Department  string
	SystemID            int64
	Facts               *wire.HostFacts
	FirstSeen, LastSeen time.Time
	Latest              *wire.Sample
	ClockSkew           time.Duration
	Dropped             uint64
}

// SystemSummary is a system with its host count and the newest last_seen of its hosts.
type SystemSummary struct {
	ID         int64
	Name       string
	Department string
	Hosts      int
	LastSeen   time.Time // zero when no host has reported
}

const hostSelect = `SELECT h.id, h.agent_id, h.hostname, s.name, d.name, s.id, h.facts, h.first_seen, h.last_seen,
	h.latest, a.clock_skew_ms, a.dropped
	FROM hosts h JOIN agents a ON a.id = h.agent_id JOIN systems s ON s.id = a.system_id
	JOIN departments d ON d.id = s.department_id`

func scanHost(sc interface{ Scan(...any) error }) (HostSummary, error) {
	var h HostSummary
	var facts, latest sql.NullString
	var first, last, skew, dropped int64
	if err := sc.Scan(&h.ID, &h.AgentID, &h.Hostname, &h.System, &h.Department, &h.SystemID, &facts, &first, &last,
		&latest, &skew, &dropped); err != nil {
		return HostSummary{}, err
	}
	h.FirstSeen, h.LastSeen = time.UnixMilli(first), time.UnixMilli(last)
	h.ClockSkew = time.Duration(skew) * time.Millisecond
	h.Dropped = uint64(dropped)
	if facts.Valid {
		h.Facts = new(wire.HostFacts)
		if err := json.Unmarshal([]byte(facts.String), h.Facts); err != nil {
			return HostSummary{}, fmt.Errorf("host %d facts: %w", h.ID, err)
		}
	}
	if latest.Valid {
		h.Latest = new(wire.Sample)
		if err := json.Unmarshal([]byte(latest.String), h.Latest); err != nil {
			return HostSummary{}, fmt.Errorf("host %d latest sample: %w", h.ID, err)
		}
	}
	return h, nil
}

// Hosts returns every host that has reported, ordered by department, system and hostname.
func (s *Store) Hosts(ctx context.Context) ([]HostSummary, error) {
	rows, err := s.rdb.QueryContext(ctx, hostSelect+` ORDER BY d.name, s.name, h.hostname, h.id`)
	if err != nil {
		return nil, fmt.Errorf("hosts: %w", err)
	}
	defer rows.Close()
	var out []HostSummary
	for rows.Next() {
		h, err := scanHost(rows)
		if err != nil {
			return nil, fmt.Errorf("hosts: %w", err)
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("hosts: %w", err)
	}
	return out, nil
}

// Host returns one host, or ErrNotFound.
func (s *Store) Host(ctx context.Context, id int64) (HostSummary, error) {
	h, err := scanHost(s.rdb.QueryRowContext(ctx, hostSelect+` WHERE h.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return HostSummary{}, fmt.Errorf("host %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return HostSummary{}, fmt.Errorf("host %d: %w", id, err)
	}
	return h, nil
}

// Systems returns every system with the number of hosts of its non-revoked agents, ordered by department
// and name.
func (s *Store) Systems(ctx context.Context) ([]SystemSummary, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT s.id, s.name, d.name, COUNT(h.id), COALESCE(MAX(h.last_seen), 0)
		FROM systems s JOIN departments d ON d.id = s.department_id
		LEFT JOIN agents a ON a.system_id = s.id AND a.revoked_at IS NULL
		LEFT JOIN hosts h ON h.agent_id = a.id
		GROUP BY s.id ORDER BY d.name, s.name`)
	if err != nil {
		return nil, fmt.Errorf("systems: %w", err)
	}
	defer rows.Close()
	var out []SystemSummary
	for rows.Next() {
		var sy SystemSummary
		var last int64
		if err := rows.Scan(&sy.ID, &sy.Name, &sy.Department, &sy.Hosts, &last); err != nil {
			return nil, fmt.Errorf("systems: %w", err)
		}
		if last > 0 {
			sy.LastSeen = time.UnixMilli(last)
		}
		out = append(out, sy)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("systems: %w", err)
	}
	return out, nil
}

// Point is one value of a series. Raw points have N=1 and Min=Avg=Max=value; rollup points have the
// bucket start as TS and P95 for 1h and 1d buckets.
type Point struct {
	TS            time.Time
	N             int64
	Min, Avg, Max float64
	P95           *float64
}

// Series is one metric of one host at one resolution.
type Series struct {
	HostID     int64
	Metric     string
	Resolution Resolution
	Points     []Point
}

// Span limits of PickResolution: each keeps a series at or under about 1500 points.
const (
	MaxRawSpan    = 6 * time.Hour       // 1440 points at 15 s
	MaxMinuteSpan = 24 * time.Hour      // 1440 points
	MaxHourSpan   = 62 * 24 * time.Hour // 1488 points
)

// PickResolution returns the resolution Series uses for [from, to): the finest one whose point count stays
// at or under about 1500 and whose retention still covers from. Raw for spans up to 6 h, 1m up to 1 day,
// 1h up to 62 days, 1d beyond; a resolution whose retention (measured from the store clock) no longer
// reaches from is skipped for the next coarser one.
func (s *Store) PickResolution(from, to time.Time) Resolution {
	now := s.clock()
	span := to.Sub(from)
	retained := func(d time.Duration) bool { return d < 0 || !from.Before(now.Add(-d)) }
	switch {
	case span <= MaxRawSpan && retained(s.ret.Raw):
		return ResRaw
	case span <= MaxMinuteSpan && retained(s.ret.Minute):
		return ResMinute
	case span <= MaxHourSpan && retained(s.ret.Hour):
		return ResHour
	}
	return ResDay
}

// Series returns metric of host hostID over [from, to) at the resolution PickResolution chooses.
// ErrNotFound when the host does not exist; an unknown metric gives an empty series.
func (s *Store) Series(ctx context.Context, hostID int64, metric string, from, to time.Time) (Series, error) {
	return s.SeriesAt(ctx, hostID, metric, s.PickResolution(from, to), from, to)
}

// SeriesAt is Series at a given resolution. Rollup buckets are included when their start lies in
// [BucketStart(res, from), to).
func (s *Store) SeriesAt(ctx context.Context, hostID int64, metric string, res Resolution, from, to time.Time) (Series, error) {
	out := Series{HostID: hostID, Metric: metric, Resolution: res, Points: []Point{}}
	var exists bool
	if err := s.rdb.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM hosts WHERE id = ?)`, hostID).Scan(&exists); err != nil {
		return out, fmt.Errorf("series: %w", err)
	}
	if !exists {
		return out, fmt.Errorf("series: host %d: %w", hostID, ErrNotFound)
	}
	if res == ResRaw {
		return s.rawSeries(ctx, out, from, to)
	}
	table, err := res.table()
	if err != nil {
		return out, fmt.Errorf("series: %w", err)
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT r.ts, r.n, r.min, r.max, r.sum, r.p95 FROM `+table+` r
		WHERE r.host_id = ? AND r.metric_id = (SELECT id FROM metrics WHERE name = ?) AND r.ts >= ? AND r.ts < ?
		ORDER BY r.ts`, hostID, metric, s.BucketStart(res, from).Unix(), to.Unix())
	if err != nil {
		return out, fmt.Errorf("series: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var ts int64
		var p Point
		var sum float64
		var p95 sql.NullFloat64
		if err := rows.Scan(&ts, &p.N, &p.Min, &p.Max, &sum, &p95); err != nil {
			return out, fmt.Errorf("series: %w", err)
		}
		p.TS = time.Unix(ts, 0)
		if p.N > 0 {
			p.Avg = sum / float64(p.N)
		}
		if p95.Valid {
			p.P95 = &p95.Float64
		}
		out.Points = append(out.Points, p)
	}
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("series: %w", err)
	}
	return out, nil
}

func (s *Store) rawSeries(ctx context.Context, out Series, from, to time.Time) (Series, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT payload FROM samples WHERE host_id = ? AND ts >= ? AND ts < ? ORDER BY ts`,
		out.HostID, from.UnixMilli(), to.UnixMilli())
	if err != nil {
		return out, fmt.Errorf("series: %w", err)
	}
	defer rows.Close()
	var smp wire.Sample
	var payload []byte
	for rows.Next() {
		if err := rows.Scan(&payload); err != nil {
			return out, fmt.Errorf("series: %w", err)
		}
		if err := decodePayload(payload, &smp); err != nil {
			return out, fmt.Errorf("series: %w", err)
		}
		smp.Flatten(func(name string, v float64) {
			if name == out.Metric {
				out.Points = append(out.Points, Point{TS: smp.Time, N: 1, Min: v, Avg: v, Max: v})
			}
		})
	}
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("series: %w", err)
	}
	return out, nil
}

// RawSamples returns up to limit raw samples of an agent with seq > afterSeq, ordered by seq. An agent that
// has not reported yet has none; ErrNotFound for an unknown agent.
func (s *Store) RawSamples(ctx context.Context, agentID string, afterSeq uint64, limit int) ([]wire.Sample, error) {
	if limit <= 0 {
		return nil, nil
	}
	var hostID sql.NullInt64
	err := s.rdb.QueryRowContext(ctx, `SELECT h.id FROM agents a LEFT JOIN hosts h ON h.agent_id = a.id WHERE a.id = ?`,
		agentID).Scan(&hostID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("raw samples: agent %q: %w", agentID, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("raw samples: %w", err)
	}
	if !hostID.Valid {
		return nil, nil
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT payload FROM samples WHERE host_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
		hostID.Int64, int64(afterSeq), limit)
	if err != nil {
		return nil, fmt.Errorf("raw samples: %w", err)
	}
	defer rows.Close()
	var out []wire.Sample
	var payload []byte
	for rows.Next() {
		if err := rows.Scan(&payload); err != nil {
			return nil, fmt.Errorf("raw samples: %w", err)
		}
		var smp wire.Sample
		if err := decodePayload(payload, &smp); err != nil {
			return nil, fmt.Errorf("raw samples: %w", err)
		}
		out = append(out, smp)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("raw samples: %w", err)
	}
	return out, nil
}

// StoreStats are table sizes for status pages. The counts scan their tables: call it rarely on big stores.
type StoreStats struct {
	SchemaVersion                int
	Agents, Hosts                int64
	Samples                      int64
	Rollup1m, Rollup1h, Rollup1d int64
	// RollupBacklog is the number of raw samples the slower rollup pass has not consumed yet.
	RollupBacklog int64
	DBBytes       int64 // main database file
	WALBytes      int64 // write-ahead log
}

// Stats returns row counts and file sizes.
func (s *Store) Stats(ctx context.Context) (StoreStats, error) {
	st := StoreStats{SchemaVersion: SchemaVersion}
	err := s.rdb.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM agents), (SELECT COUNT(*) FROM hosts), (SELECT COUNT(*) FROM samples),
		(SELECT COUNT(*) FROM rollup_1m), (SELECT COUNT(*) FROM rollup_1h), (SELECT COUNT(*) FROM rollup_1d),
		(SELECT COUNT(*) FROM samples WHERE id > (SELECT MIN(watermark) FROM rollup_state))`).Scan(
		&st.Agents, &st.Hosts, &st.Samples, &st.Rollup1m, &st.Rollup1h, &st.Rollup1d, &st.RollupBacklog)
	if err != nil {
		return st, fmt.Errorf("stats: %w", err)
	}
	if fi, err := os.Stat(s.path); err == nil {
		st.DBBytes = fi.Size()
	}
	if fi, err := os.Stat(s.path + "-wal"); err == nil {
		st.WALBytes = fi.Size()
	}
	return st, nil
}

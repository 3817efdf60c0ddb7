package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"zhizhi/agent/wire"
)

// matrixMigration adds the key-value meta table (the demo flag) and matrix_year, the compact per-system
// yearly table that answers the district heatmap without scanning rollup_1d. The lead orders it among the
// migrations.
const matrixMigration = `
CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
) WITHOUT ROWID;
-- One row per (year, metric, stat, system): vals holds 366 little-endian float32, index = day of year - 1
-- in the store's Location; NaN means no data. A day's value is the max over the system's hosts of the
-- host's daily stat from rollup_1d (p95, or avg = sum / n). Maintained by the coarse rollup pass,
-- InsertRollups and BulkInsertRollups; RebuildMatrix recomputes it from rollup_1d.
CREATE TABLE matrix_year (
	year      INTEGER NOT NULL,
	metric    TEXT NOT NULL,
	stat      TEXT NOT NULL,
	system_id INTEGER NOT NULL,
	vals      BLOB NOT NULL,
	UNIQUE (year, metric, stat, system_id)
); -- a rowid table: its 1.4 KB rows fit in one page, where WITHOUT ROWID would spill them to overflow pages
`

// Matrix stats.
const (
	StatP95 = "p95"
	StatAvg = "avg"
)

// matrixMetrics are the rollup metrics the matrix keeps, by their short names.
var matrixMetrics = map[string]string{
	"cpu":  wire.MetricCPUBusyPct,
	"mem":  wire.MetricMemUsedPct,
	"disk": wire.MetricFSMaxUsedPct,
}

// matrixMetricNames lists the rollup metric names of matrixMetrics in a stable order.
var matrixMetricNames = []string{wire.MetricCPUBusyPct, wire.MetricMemUsedPct, wire.MetricFSMaxUsedPct}

const matrixDays = 366

// MatrixMetric returns the rollup metric name of a matrix metric: "cpu", "mem" or "disk", or the rollup name
// itself (cpu.busy_pct, mem.used_pct, fs.max_used_pct).
func MatrixMetric(m string) (string, error) {
	if name, ok := matrixMetrics[m]; ok {
		return name, nil
	}
	if slices.Contains(matrixMetricNames, m) {
		return m, nil
	}
	return "", fmt.Errorf("metric %q: want cpu, mem or disk", m)
}

// MatrixQuery selects a district matrix.
type MatrixQuery struct {
	Year int
	// Metric is "cpu", "mem" or "disk" (or the rollup metric name).
	Metric string
	// Stat is StatP95 or StatAvg.
	Stat string
	// DepartmentID limits the rows to one department; 0 means all.
	DepartmentID int64
}

// Matrix is the district heatmap: one row per system, one value per day of the year.
type Matrix struct {
	// Days holds every day of the year (midnight in the store's Location, Asia/Shanghai by default).
	Days []time.Time
	Rows []MatrixRow
}

// MatrixRow is one system's daily values; len(Values) == len(Days), NaN where there is no data.
type MatrixRow struct {
	SystemID     int64
	System       string
	DepartmentID int64
	Department   string
	Values       []float64
}

// Department is a department with the number of its systems.
type Department struct {
	ID      int64
	Name    string
	Systems int
}

func checkMatrixArgs(year int, metric, stat string) (string, error) {
	if year < 1970 || year > 9999 {
		return "", fmt.Errorf("year %d out of range", year)
	}
	if stat != StatP95 && stat != StatAvg {
		return "", fmt.Errorf("stat %q: want p95 or avg", stat)
	}
	return MatrixMetric(metric)
}

// yearDays returns every day of year in the store's Location.
func (s *Store) yearDays(year int) []time.Time {
	var out []time.Time
	for d := time.Date(year, 1, 1, 0, 0, 0, 0, s.loc); d.Year() == year; d = d.AddDate(0, 0, 1) {
		out = append(out, d)
	}
	return out
}

// Matrix returns one row per system (all systems, or those of q.DepartmentID), ordered by department name
// and system name, with the daily q.Stat of q.Metric for every day of q.Year: the max over the system's hosts
// of each host's daily p95 or average. It reads the compact matrix_year table, not rollup_1d.
func (s *Store) Matrix(ctx context.Context, q MatrixQuery) (Matrix, error) {
	metric, err := checkMatrixArgs(q.Year, q.Metric, q.Stat)
	if err != nil {
		return Matrix{}, fmt.Errorf("matrix: %w", err)
	}
	out := Matrix{Days: s.yearDays(q.Year)}
	rows, err := s.rdb.QueryContext(ctx, `SELECT s.id, s.name, d.id, d.name, m.vals
		FROM systems s JOIN departments d ON d.id = s.department_id
		LEFT JOIN matrix_year m ON m.year = ? AND m.metric = ? AND m.stat = ? AND m.system_id = s.id
		WHERE ? = 0 OR d.id = ?
		ORDER BY d.name, s.name, s.id`, q.Year, metric, q.Stat, q.DepartmentID, q.DepartmentID)
	if err != nil {
		return Matrix{}, fmt.Errorf("matrix: %w", err)
	}
	defer rows.Close()
	var blob []byte
	for rows.Next() {
		var r MatrixRow
		if err := rows.Scan(&r.SystemID, &r.System, &r.DepartmentID, &r.Department, &blob); err != nil {
			return Matrix{}, fmt.Errorf("matrix: %w", err)
		}
		r.Values = decodeYear(blob, len(out.Days))
		out.Rows = append(out.Rows, r)
	}
	if err := rows.Err(); err != nil {
		return Matrix{}, fmt.Errorf("matrix: %w", err)
	}
	return out, nil
}

// SystemYear returns one system's daily stat of metric for every day of year (see Matrix), NaN where there
// is no data; ErrNotFound for an unknown system.
func (s *Store) SystemYear(ctx context.Context, systemID int64, year int, metric, stat string) ([]float64, error) {
	name, err := checkMatrixArgs(year, metric, stat)
	if err != nil {
		return nil, fmt.Errorf("system year: %w", err)
	}
	var blob []byte
	err = s.rdb.QueryRowContext(ctx, `SELECT m.vals FROM systems s
		LEFT JOIN matrix_year m ON m.year = ? AND m.metric = ? AND m.stat = ? AND m.system_id = s.id
		WHERE s.id = ?`, year, name, stat, systemID).Scan(&blob)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("system year: system %d: %w", systemID, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("system year: %w", err)
	}
	return decodeYear(blob, len(s.yearDays(year))), nil
}

// MatrixYears returns the years that have matrix data, oldest first (for a year selector).
func (s *Store) MatrixYears(ctx context.Context) ([]int, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT DISTINCT year FROM matrix_year ORDER BY year`)
	if err != nil {
		return nil, fmt.Errorf("matrix years: %w", err)
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var y int
		if err := rows.Scan(&y); err != nil {
			return nil, fmt.Errorf("matrix years: %w", err)
		}
		out = append(out, y)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("matrix years: %w", err)
	}
	return out, nil
}

// Departments returns every department with its number of systems, ordered by name.
func (s *Store) Departments(ctx context.Context) ([]Department, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT d.id, d.name, COUNT(s.id) FROM departments d
		LEFT JOIN systems s ON s.department_id = d.id GROUP BY d.id ORDER BY d.name, d.id`)
	if err != nil {
		return nil, fmt.Errorf("departments: %w", err)
	}
	defer rows.Close()
	var out []Department
	for rows.Next() {
		var d Department
		if err := rows.Scan(&d.ID, &d.Name, &d.Systems); err != nil {
			return nil, fmt.Errorf("departments: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("departments: %w", err)
	}
	return out, nil
}

const metaDemo = "demo"

// IsDemo reports whether the store holds the simulated demo district (see SetDemo). Errors read as false.
func (s *Store) IsDemo(ctx context.Context) bool {
	var v string
	if err := s.rdb.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, metaDemo).Scan(&v); err != nil {
		return false
	}
	return v == "1"
}

// SetDemo marks (or unmarks) the store as holding simulated demo data, so that pages can label it.
func (s *Store) SetDemo(ctx context.Context, demo bool) error {
	v := "0"
	if demo {
		v = "1"
	}
	return s.SetMeta(ctx, metaDemo, v)
}

// Meta returns the value of a key of the store's key-value meta table, and whether it is set.
func (s *Store) Meta(ctx context.Context, key string) (string, bool, error) {
	var v string
	err := s.rdb.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("meta %q: %w", key, err)
	}
	return v, true, nil
}

// SetMeta sets a key of the store's key-value meta table.
func (s *Store) SetMeta(ctx context.Context, key, value string) error {
	if _, err := s.wdb.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value); err != nil {
		return fmt.Errorf("set meta %q: %w", key, err)
	}
	return nil
}

// decodeYear turns a matrix_year blob into n values; a missing blob gives all NaN.
func decodeYear(blob []byte, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		if 4*i+4 <= len(blob) {
			out[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(blob[4*i:])))
		} else {
			out[i] = math.NaN()
		}
	}
	return out
}

func nanYear() []byte {
	b := make([]byte, 4*matrixDays)
	nan := math.Float32bits(float32(math.NaN()))
	for i := 0; i < matrixDays; i++ {
		binary.LittleEndian.PutUint32(b[4*i:], nan)
	}
	return b
}

// hostDay is a (host, 1d bucket start) whose rollup_1d rows changed.
type hostDay struct {
	host int64
	day  int64 // unix seconds of local midnight
}

// matrixTouched collects the host-days of 1d keys of the matrix metrics.
func matrixTouched(keys []aggKey) []hostDay {
	var out []hostDay
	for _, k := range keys {
		if k.res == ResDay && slices.Contains(matrixMetricNames, k.metric) {
			out = append(out, hostDay{k.host, k.ts})
		}
	}
	return out
}

// refreshMatrix recomputes, inside tx, the matrix_year values of every system-day that touched names: for each
// (system, year) it recomputes the days between the first and the last touched day from rollup_1d.
func (s *Store) refreshMatrix(ctx context.Context, tx *sql.Tx, touched []hostDay) error {
	if len(touched) == 0 {
		return nil
	}
	type sysYear struct {
		system int64
		year   int
	}
	type span struct{ from, to int64 }
	systemOf := map[int64]int64{}
	spans := map[sysYear]span{}
	for _, hd := range touched {
		sys, ok := systemOf[hd.host]
		if !ok {
			err := tx.QueryRowContext(ctx, `SELECT a.system_id FROM hosts h JOIN agents a ON a.id = h.agent_id
				WHERE h.id = ?`, hd.host).Scan(&sys)
			if errors.Is(err, sql.ErrNoRows) {
				systemOf[hd.host] = 0
				continue
			}
			if err != nil {
				return fmt.Errorf("matrix: system of host %d: %w", hd.host, err)
			}
			systemOf[hd.host] = sys
		}
		if sys == 0 {
			continue
		}
		k := sysYear{sys, time.Unix(hd.day, 0).In(s.loc).Year()}
		sp, ok := spans[k]
		if !ok {
			sp = span{hd.day, hd.day}
		}
		sp.from, sp.to = min(sp.from, hd.day), max(sp.to, hd.day)
		spans[k] = sp
	}
	metricIDs := map[int64]string{}
	rows, err := tx.QueryContext(ctx, `SELECT id, name FROM metrics WHERE name IN (?, ?, ?)`,
		matrixMetricNames[0], matrixMetricNames[1], matrixMetricNames[2])
	if err != nil {
		return fmt.Errorf("matrix: metric ids: %w", err)
	}
	for rows.Next() {
		var id int64
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			rows.Close()
			return fmt.Errorf("matrix: metric ids: %w", err)
		}
		metricIDs[id] = name
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("matrix: metric ids: %w", err)
	}
	keys := make([]sysYear, 0, len(spans))
	for k := range spans {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b sysYear) int {
		return cmp.Or(cmp.Compare(a.system, b.system), cmp.Compare(a.year, b.year))
	})
	for _, k := range keys {
		if err := s.refreshSystemYear(ctx, tx, k.system, k.year, spans[k].from, spans[k].to, metricIDs); err != nil {
			return err
		}
	}
	return nil
}

// refreshSystemYear recomputes the days [from, to] (1d bucket starts within year) of one system.
func (s *Store) refreshSystemYear(ctx context.Context, tx *sql.Tx, system int64, year int, from, to int64,
	metricIDs map[int64]string) error {
	var hosts []any
	rows, err := tx.QueryContext(ctx, `SELECT h.id FROM hosts h JOIN agents a ON a.id = h.agent_id WHERE a.system_id = ?`, system)
	if err != nil {
		return fmt.Errorf("matrix: hosts of system %d: %w", system, err)
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fmt.Errorf("matrix: hosts of system %d: %w", system, err)
		}
		hosts = append(hosts, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("matrix: hosts of system %d: %w", system, err)
	}
	// Current blobs, with the recomputed days reset to NaN.
	blobs := map[[2]string][]byte{}
	for _, m := range matrixMetricNames {
		for _, st := range []string{StatP95, StatAvg} {
			var b []byte
			err := tx.QueryRowContext(ctx, `SELECT vals FROM matrix_year WHERE year = ? AND metric = ? AND stat = ? AND system_id = ?`,
				year, m, st, system).Scan(&b)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("matrix: read system %d: %w", system, err)
			}
			if len(b) != 4*matrixDays {
				b = nanYear()
			}
			nan := math.Float32bits(float32(math.NaN()))
			for d := time.Unix(from, 0).In(s.loc); d.Unix() <= to; d = d.AddDate(0, 0, 1) {
				binary.LittleEndian.PutUint32(b[4*(d.YearDay()-1):], nan)
			}
			blobs[[2]string{m, st}] = b
		}
	}
	if len(hosts) > 0 && len(metricIDs) > 0 {
		args := append([]any{}, hosts...)
		ids := make([]string, 0, len(metricIDs))
		for id := range metricIDs {
			args = append(args, id)
			ids = append(ids, "?")
		}
		args = append(args, from, to)
		q := `SELECT metric_id, ts, MAX(p95), MAX(sum / n) FROM rollup_1d
			WHERE host_id IN (?` + strings.Repeat(", ?", len(hosts)-1) + `) AND metric_id IN (` + strings.Join(ids, ", ") + `)
			AND ts >= ? AND ts <= ? AND n > 0 GROUP BY metric_id, ts`
		rows, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("matrix: read rollups of system %d: %w", system, err)
		}
		for rows.Next() {
			var mid, ts int64
			var p95, avg sql.NullFloat64
			if err := rows.Scan(&mid, &ts, &p95, &avg); err != nil {
				rows.Close()
				return fmt.Errorf("matrix: read rollups of system %d: %w", system, err)
			}
			i := time.Unix(ts, 0).In(s.loc).YearDay() - 1
			m := metricIDs[mid]
			if p95.Valid {
				binary.LittleEndian.PutUint32(blobs[[2]string{m, StatP95}][4*i:], math.Float32bits(float32(p95.Float64)))
			}
			if avg.Valid {
				binary.LittleEndian.PutUint32(blobs[[2]string{m, StatAvg}][4*i:], math.Float32bits(float32(avg.Float64)))
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("matrix: read rollups of system %d: %w", system, err)
		}
	}
	for k, b := range blobs {
		if _, err := tx.ExecContext(ctx, `INSERT INTO matrix_year (year, metric, stat, system_id, vals) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (year, metric, stat, system_id) DO UPDATE SET vals = excluded.vals`, year, k[0], k[1], system, b); err != nil {
			return fmt.Errorf("matrix: write system %d: %w", system, err)
		}
	}
	return nil
}

// RebuildMatrix recomputes the whole matrix_year table from rollup_1d (e.g. after an upgrade that added it to a
// store with history). It runs in one write transaction.
func (s *Store) RebuildMatrix(ctx context.Context) error {
	s.rollupMu.Lock()
	defer s.rollupMu.Unlock()
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("rebuild matrix: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if _, err := tx.ExecContext(ctx, `DELETE FROM matrix_year`); err != nil {
		return fmt.Errorf("rebuild matrix: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT DISTINCT r.host_id, r.ts FROM rollup_1d r JOIN metrics m ON m.id = r.metric_id
		WHERE m.name = ?`, wire.MetricCPUBusyPct)
	if err != nil {
		return fmt.Errorf("rebuild matrix: %w", err)
	}
	var touched []hostDay
	for rows.Next() {
		var hd hostDay
		if err := rows.Scan(&hd.host, &hd.day); err != nil {
			rows.Close()
			return fmt.Errorf("rebuild matrix: %w", err)
		}
		touched = append(touched, hd)
	}
	rows.Close()
	// Days with memory or disk rows but no CPU row are picked up too.
	for _, m := range matrixMetricNames[1:] {
		rows, err := tx.QueryContext(ctx, `SELECT DISTINCT r.host_id, r.ts FROM rollup_1d r JOIN metrics m ON m.id = r.metric_id
			WHERE m.name = ?`, m)
		if err != nil {
			return fmt.Errorf("rebuild matrix: %w", err)
		}
		for rows.Next() {
			var hd hostDay
			if err := rows.Scan(&hd.host, &hd.day); err != nil {
				rows.Close()
				return fmt.Errorf("rebuild matrix: %w", err)
			}
			touched = append(touched, hd)
		}
		rows.Close()
	}
	if err := s.refreshMatrix(ctx, tx, touched); err != nil {
		return fmt.Errorf("rebuild matrix: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("rebuild matrix: commit: %w", err)
	}
	return nil
}

package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// migrations are applied in order; migrations[i] brings the schema to version i+1. Never edit a released
// migration: append a new one.
var migrations = []string{
	// 1: initial schema.
	`
CREATE TABLE departments (
	id   INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE
);
CREATE TABLE systems (
	id            INTEGER PRIMARY KEY,
	name          TEXT NOT NULL,
	department_id INTEGER NOT NULL REFERENCES departments(id),
	UNIQUE (name, department_id)
);
CREATE TABLE agents (
	id            TEXT PRIMARY KEY,
	system_id     INTEGER NOT NULL REFERENCES systems(id),
	token_hash    BLOB NOT NULL,
	created_at    INTEGER NOT NULL,           -- unix ms
	revoked_at    INTEGER,                    -- unix ms
	last_seen     INTEGER,                    -- unix ms (server clock)
	last_seq      INTEGER NOT NULL DEFAULT 0,
	clock_skew_ms INTEGER NOT NULL DEFAULT 0, -- agent clock minus server clock
	dropped       INTEGER NOT NULL DEFAULT 0,
	spool_bytes   INTEGER,                    -- the agent's backlog at its last batch; NULL until reported
	spool_records INTEGER,
	remote_addr   TEXT NOT NULL DEFAULT '',
	note          TEXT NOT NULL DEFAULT ''
);
CREATE TABLE hosts (
	id               INTEGER PRIMARY KEY,
	agent_id         TEXT NOT NULL UNIQUE REFERENCES agents(id),
	hostname         TEXT NOT NULL DEFAULT '',
	facts            TEXT,                    -- wire.HostFacts JSON
	facts_updated_at INTEGER,                 -- unix ms
	first_seen       INTEGER NOT NULL,        -- unix ms
	last_seen        INTEGER NOT NULL,        -- unix ms
	latest           TEXT,                    -- wire.Sample JSON of the newest sample
	latest_ts        INTEGER                  -- unix ms of latest
);
-- Raw samples, the source of truth. id gives insertion order for the rollup watermark; AUTOINCREMENT so that
-- ids are never reused after retention deletes the newest rows.
CREATE TABLE samples (
	id      INTEGER PRIMARY KEY AUTOINCREMENT,
	host_id INTEGER NOT NULL,
	seq     INTEGER NOT NULL,
	ts      INTEGER NOT NULL,                 -- unix ms (agent clock)
	payload BLOB NOT NULL                     -- encoded wire.Sample, see payload.go
);
CREATE UNIQUE INDEX samples_host_seq ON samples (host_id, seq);
CREATE INDEX samples_host_ts ON samples (host_id, ts);
CREATE TABLE metrics (
	id   INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE
);
-- Every (host, metric) pair that has rollups: lets retention and listings avoid scanning rollup tables.
CREATE TABLE series (
	host_id   INTEGER NOT NULL,
	metric_id INTEGER NOT NULL,
	PRIMARY KEY (host_id, metric_id)
) WITHOUT ROWID;
CREATE TABLE rollup_1m (
	host_id   INTEGER NOT NULL,
	metric_id INTEGER NOT NULL,
	ts        INTEGER NOT NULL,               -- bucket start, unix seconds (UTC minute)
	n         INTEGER NOT NULL,
	min       REAL NOT NULL,
	max       REAL NOT NULL,
	sum       REAL NOT NULL,
	p95       REAL,
	sketch    BLOB,
	wm        INTEGER NOT NULL DEFAULT 0,   -- target watermark of the last rollup pass merged into the row
	PRIMARY KEY (host_id, metric_id, ts)
) WITHOUT ROWID;
CREATE TABLE rollup_1h (
	host_id   INTEGER NOT NULL,
	metric_id INTEGER NOT NULL,
	ts        INTEGER NOT NULL,               -- bucket start, unix seconds (UTC hour)
	n         INTEGER NOT NULL,
	min       REAL NOT NULL,
	max       REAL NOT NULL,
	sum       REAL NOT NULL,
	p95       REAL,
	sketch    BLOB,
	wm        INTEGER NOT NULL DEFAULT 0,   -- target watermark of the last rollup pass merged into the row
	PRIMARY KEY (host_id, metric_id, ts)
) WITHOUT ROWID;
CREATE TABLE rollup_1d (
	host_id   INTEGER NOT NULL,
	metric_id INTEGER NOT NULL,
	ts        INTEGER NOT NULL,               -- bucket start, unix seconds (local midnight, Options.Location)
	n         INTEGER NOT NULL,
	min       REAL NOT NULL,
	max       REAL NOT NULL,
	sum       REAL NOT NULL,
	p95       REAL,
	sketch    BLOB,
	wm        INTEGER NOT NULL DEFAULT 0,   -- target watermark of the last rollup pass merged into the row
	PRIMARY KEY (host_id, metric_id, ts)
) WITHOUT ROWID;
-- Rollup watermarks: the highest samples.id merged into the rollups of each pass, and the target watermark
-- of a pass in progress (its rows are merged in several short transactions; see rollup.go).
CREATE TABLE rollup_state (
	pass      TEXT PRIMARY KEY,
	watermark INTEGER NOT NULL,
	pending   INTEGER
);
INSERT INTO rollup_state (pass, watermark) VALUES ('fine', 0), ('coarse', 0);
`,
	// 2: meta key-value table and the compact per-system yearly matrix (matrix.go).
	matrixMigration,
	// 3: console users and sessions (users.go).
	usersMigration,
	// 4: the durable queue of samples forwarded to an InfluxDB v2 write endpoint (forward.go).
	forwardMigration,
	// 5: analyzer exceptions and findings (findings.go).
	analyzerMigration,
}

// SchemaVersion is the schema version this binary creates and understands: len(migrations).
const SchemaVersion = 5

// migrate brings the database to SchemaVersion, refusing a database written by a newer binary.
func migrate(ctx context.Context, db *sql.DB, now time.Time) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at INTEGER NOT NULL
	)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	for {
		done, err := migrateStep(ctx, db, now)
		if err != nil || done {
			return err
		}
	}
}

// migrateStep applies the next migration in its own transaction, reporting done when none is left.
func migrateStep(ctx context.Context, db *sql.DB, now time.Time) (done bool, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("begin migration: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return false, fmt.Errorf("read schema version: %w", err)
	}
	if current > SchemaVersion {
		return false, fmt.Errorf("database schema version %d is newer than this zhizhi (%d); downgrade is not supported",
			current, SchemaVersion)
	}
	if current == len(migrations) {
		return true, nil
	}
	if _, err := tx.ExecContext(ctx, migrations[current]); err != nil {
		return false, fmt.Errorf("apply migration %d: %w", current+1, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
		current+1, now.UnixMilli()); err != nil {
		return false, fmt.Errorf("record migration %d: %w", current+1, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("commit migration %d: %w", current+1, err)
	}
	return false, nil
}

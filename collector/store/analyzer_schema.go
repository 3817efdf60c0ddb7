package store

// analyzerMigration (migration 5) adds the analyzer's exceptions: owners' statements that a host, or every
// host of a system, is idle for a reason (disaster-recovery standby, scheduled batch, seasonal use). The
// analyzer validates them (zhizhi/analyzer/detect); the store keeps them as given.
const analyzerMigration = `
CREATE TABLE analyzer_exceptions (
	id         INTEGER PRIMARY KEY,
	type       TEXT NOT NULL,                 -- dr-standby, scheduled-batch, seasonal
	host_id    INTEGER NOT NULL DEFAULT 0,    -- one host, or 0 with system set
	system     TEXT NOT NULL DEFAULT '',      -- every host of this system when host_id is 0
	owner      TEXT NOT NULL,
	reason     TEXT NOT NULL,
	schedule   TEXT NOT NULL DEFAULT '',      -- scheduled-batch only
	months     TEXT NOT NULL DEFAULT '',      -- seasonal only: comma-separated months 1..12
	created_at INTEGER NOT NULL,              -- unix ms
	expires_at INTEGER NOT NULL               -- unix ms
);
CREATE INDEX analyzer_exceptions_expires ON analyzer_exceptions (expires_at);
`

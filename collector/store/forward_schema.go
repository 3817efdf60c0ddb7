package store

// forwardMigration (schema version 4) holds the durable queue of samples forwarded to a time-series engine
// (forward.go). The queue is not a copy of the data: it is a watermark over samples.id per target, plus totals
// and ingest-time marks that let the forwarder bound the queue by age.
const forwardMigration = `
-- One row per forwarding target. watermark is the highest samples.id sent to the target or dropped; rows past
-- it are the queue. Retention never deletes them while the target is active (updated_at within the raw
-- retention); the forwarder itself drops the oldest rows beyond its bound and counts them in dropped.
CREATE TABLE forward_state (
	name       TEXT PRIMARY KEY,
	watermark  INTEGER NOT NULL DEFAULT 0,
	sent       INTEGER NOT NULL DEFAULT 0,    -- samples written with a 2xx answer
	dropped    INTEGER NOT NULL DEFAULT 0,    -- samples skipped: over the bound, undecodable or rejected
	updated_at INTEGER NOT NULL               -- unix ms (server clock) of the target's last activity
);
-- Ingest-time marks: at server time at (unix ms) the newest samples.id was id. The forwarder records one about
-- once a minute, so "ingested before T" is answerable without a column on samples.
CREATE TABLE forward_marks (
	at INTEGER PRIMARY KEY,
	id INTEGER NOT NULL
);
`

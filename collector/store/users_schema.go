package store

// usersMigration adds console users and their sessions (users.go). A department user must name an existing
// department; the other roles have none. Sessions are keyed by the SHA-256 of their token, never the token.
const usersMigration = `
CREATE TABLE users (
	id                  INTEGER PRIMARY KEY,
	name                TEXT NOT NULL UNIQUE,
	role                TEXT NOT NULL CHECK (role IN ('admin', 'analyst', 'department')),
	department_id       INTEGER REFERENCES departments(id),
	password_hash       TEXT NOT NULL,            -- bcrypt
	created_at          INTEGER NOT NULL,         -- unix ms
	password_changed_at INTEGER NOT NULL,         -- unix ms
	disabled_at         INTEGER,                  -- unix ms
	CHECK ((role = 'department') = (department_id IS NOT NULL))
);
CREATE TABLE sessions (
	token_hash BLOB PRIMARY KEY,                  -- SHA-256 of the 32-byte random token
	user_id    INTEGER NOT NULL REFERENCES users(id),
	csrf       TEXT NOT NULL,
	created_at INTEGER NOT NULL,                  -- unix ms
	last_seen  INTEGER NOT NULL,                  -- unix ms
	expires_at INTEGER NOT NULL                   -- unix ms: min(last use + idle timeout, created + absolute)
) WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);
`

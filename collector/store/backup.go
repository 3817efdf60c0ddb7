package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Backup and restore errors; check them with errors.Is.
var (
	// ErrInUse reports a database that another process (a running `zhizhi up`) holds open.
	ErrInUse = errors.New("database in use")
	// ErrExists reports a target file that exists and may not be overwritten.
	ErrExists = errors.New("file exists")
	// ErrNotBackup reports a file that is not a zhizhi database.
	ErrNotBackup = errors.New("not a zhizhi database")
)

// SchemaTooNewError reports a database written by a newer zhizhi than this one.
type SchemaTooNewError struct {
	Found     int // the database's schema version
	Supported int // SchemaVersion of this binary
}

func (e *SchemaTooNewError) Error() string {
	return fmt.Sprintf("database schema version %d is newer than this zhizhi (%d); downgrade is not supported",
		e.Found, e.Supported)
}

// BackupInfo describes a checked database file.
type BackupInfo struct {
	Path          string
	SchemaVersion int
	Bytes         int64
	Agents        int
	Samples       int64
}

// Progress receives how many bytes of the backup are written out of an estimated total.
type Progress func(written, total int64)

// sqliteMagic starts every SQLite 3 database file.
var sqliteMagic = []byte("SQLite format 3\x00")

func dsn(path string, params ...string) string {
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + strings.Join(append([]string{"_busy_timeout=10000"}, params...), "&")
}

// Backup writes a consistent copy of the database at dbPath to dst with VACUUM INTO, while the database
// stays in use (the copy is one read transaction of the live WAL database: writers are not blocked). The
// copy is written next to dst, synced, checked like CheckBackup and then renamed to dst, so dst is either
// absent or a complete, verified backup. dst must not exist. progress, when set, is called a few times a
// second while the copy is written.
func Backup(ctx context.Context, dbPath, dst string, progress Progress) (BackupInfo, error) {
	if _, err := os.Stat(dbPath); err != nil {
		return BackupInfo{}, fmt.Errorf("backup: %w", err)
	}
	if _, err := os.Lstat(dst); err == nil {
		return BackupInfo{}, fmt.Errorf("backup: %s: %w", dst, ErrExists)
	}
	tmpf, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".partial-*")
	if err != nil {
		return BackupInfo{}, fmt.Errorf("backup: %w", err)
	}
	tmp := tmpf.Name()
	tmpf.Close()
	os.Remove(tmp) // VACUUM INTO refuses an existing non-empty file; the name stays ours in practice
	defer os.Remove(tmp)

	db, err := sql.Open("sqlite", dsn(dbPath))
	if err != nil {
		return BackupInfo{}, fmt.Errorf("backup: open %s: %w", dbPath, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	var pages, pageSize int64
	if err := db.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		return BackupInfo{}, fmt.Errorf("backup: read %s: %w", dbPath, err)
	}
	if err := db.QueryRowContext(ctx, `PRAGMA page_size`).Scan(&pageSize); err != nil {
		return BackupInfo{}, fmt.Errorf("backup: read %s: %w", dbPath, err)
	}
	total := pages * pageSize

	done := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		if progress == nil {
			return
		}
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if fi, err := os.Stat(tmp); err == nil {
					progress(min(fi.Size(), total), total)
				}
			}
		}
	}()
	_, err = db.ExecContext(ctx, `VACUUM INTO ?`, tmp)
	close(done)
	<-watched
	if err != nil {
		return BackupInfo{}, fmt.Errorf("backup: vacuum into %s: %w", tmp, err)
	}
	// The copy holds token and password hashes: owner only, like the database.
	if err := os.Chmod(tmp, 0o600); err != nil {
		return BackupInfo{}, fmt.Errorf("backup: %w", err)
	}
	if err := syncFile(tmp); err != nil {
		return BackupInfo{}, fmt.Errorf("backup: %w", err)
	}
	info, err := CheckBackup(ctx, tmp)
	if err != nil {
		return BackupInfo{}, fmt.Errorf("backup: the copy does not check out: %w", err)
	}
	if progress != nil {
		progress(info.Bytes, info.Bytes)
	}
	// Link, not rename: fails instead of replacing a dst that appeared meanwhile.
	if err := os.Link(tmp, dst); err != nil {
		return BackupInfo{}, fmt.Errorf("backup: %w", err)
	}
	if err := syncDir(filepath.Dir(dst)); err != nil {
		return BackupInfo{}, fmt.Errorf("backup: %w", err)
	}
	info.Path = dst
	return info, nil
}

// CheckBackup opens the database file at path read-only and verifies that it is a zhizhi database
// (schema_migrations), that it passes PRAGMA integrity_check and that this binary understands its schema
// (a newer schema yields a *SchemaTooNewError). It returns what the file holds.
func CheckBackup(ctx context.Context, path string) (BackupInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return BackupInfo{}, err
	}
	head := make([]byte, len(sqliteMagic))
	_, rerr := io.ReadFull(f, head)
	fi, serr := f.Stat()
	f.Close()
	if rerr != nil || !bytes.Equal(head, sqliteMagic) {
		return BackupInfo{}, fmt.Errorf("%s: not an SQLite database: %w", path, ErrNotBackup)
	}
	if serr != nil {
		return BackupInfo{}, serr
	}
	info := BackupInfo{Path: path, Bytes: fi.Size()}
	// immutable: no locks, no WAL or shm files next to the backup; the file must not change meanwhile.
	db, err := sql.Open("sqlite", dsn(path, "mode=ro", "immutable=1"))
	if err != nil {
		return info, fmt.Errorf("open %s: %w", path, err)
	}
	defer db.Close()
	var hasMigrations int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`).
		Scan(&hasMigrations); err != nil {
		return info, fmt.Errorf("%s: %w", path, err)
	}
	if hasMigrations == 0 {
		return info, fmt.Errorf("%s: no schema_migrations table: %w", path, ErrNotBackup)
	}
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&info.SchemaVersion); err != nil {
		return info, fmt.Errorf("%s: read schema version: %w", path, err)
	}
	if info.SchemaVersion > SchemaVersion {
		return info, &SchemaTooNewError{Found: info.SchemaVersion, Supported: SchemaVersion}
	}
	if info.SchemaVersion < 1 {
		return info, fmt.Errorf("%s: empty schema_migrations: %w", path, ErrNotBackup)
	}
	if err := integrityCheck(ctx, db); err != nil {
		return info, fmt.Errorf("%s: %w", path, err)
	}
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM agents`).Scan(&info.Agents); err != nil {
		return info, fmt.Errorf("%s: count agents: %w", path, err)
	}
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM samples`).Scan(&info.Samples); err != nil {
		return info, fmt.Errorf("%s: count samples: %w", path, err)
	}
	return info, nil
}

// integrityCheck runs PRAGMA integrity_check and reports up to five of its complaints.
func integrityCheck(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, `PRAGMA integrity_check(5)`)
	if err != nil {
		return fmt.Errorf("integrity check: %w", err)
	}
	defer rows.Close()
	var msgs []string
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			return fmt.Errorf("integrity check: %w", err)
		}
		msgs = append(msgs, m)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("integrity check: %w", err)
	}
	if len(msgs) != 1 || msgs[0] != "ok" {
		return fmt.Errorf("integrity check failed: %s", strings.Join(msgs, "; "))
	}
	return nil
}

// CheckNotInUse returns ErrInUse when another connection, in this or another process, holds the database
// at path open (a running server does as long as it runs). It takes SQLite's exclusive lock on the file for
// a moment; a WAL left behind by a process that died is checkpointed into the database on the way.
func CheckNotInUse(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?_busy_timeout=0")
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA locking_mode = EXCLUSIVE`); err != nil {
		return fmt.Errorf("lock %s: %w", path, err)
	}
	// A WAL database opened by a server keeps a shared lock on the file while open, so the exclusive lock
	// this write transaction needs is refused at once.
	if _, err := conn.ExecContext(ctx, `BEGIN EXCLUSIVE`); err != nil {
		var coded interface{ Code() int }
		if errors.As(err, &coded) && coded.Code()&0xff == sqliteBusy {
			return fmt.Errorf("%s: %w", path, ErrInUse)
		}
		return fmt.Errorf("lock %s: %w", path, err)
	}
	if _, err := conn.ExecContext(ctx, `COMMIT`); err != nil {
		return fmt.Errorf("lock %s: %w", path, err)
	}
	return nil
}

// sqliteBusy is SQLITE_BUSY, the primary result code of a lock held by another connection.
const sqliteBusy = 5

// RestoreOptions modify Restore.
type RestoreOptions struct {
	// Force replaces an existing database (which must not be in use).
	Force bool
}

// Restore replaces (or creates) the database at dbPath with the backup at src after checking the backup
// with CheckBackup. It refuses when the database is in use (ErrInUse) and, without opts.Force, when it
// exists (ErrExists). The copy is synced and renamed into place, and the old database's WAL and shared-memory
// files are removed so that they cannot be applied to the restored file.
func Restore(ctx context.Context, src, dbPath string, opts RestoreOptions) (BackupInfo, error) {
	info, err := CheckBackup(ctx, src)
	if err != nil {
		return info, fmt.Errorf("restore: %w", err)
	}
	if _, err := os.Stat(dbPath); err == nil {
		if err := CheckNotInUse(ctx, dbPath); err != nil {
			return info, fmt.Errorf("restore: %w", err)
		}
		if !opts.Force {
			return info, fmt.Errorf("restore: %s: %w", dbPath, ErrExists)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return info, fmt.Errorf("restore: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(dbPath), 0o700); err != nil {
		return info, fmt.Errorf("restore: %w", err)
	}
	tmp, err := copyToTemp(src, dbPath)
	if err != nil {
		return info, fmt.Errorf("restore: %w", err)
	}
	defer os.Remove(tmp)
	if err := os.Rename(tmp, dbPath); err != nil {
		return info, fmt.Errorf("restore: %w", err)
	}
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		if err := os.Remove(dbPath + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return info, fmt.Errorf("restore: %w", err)
		}
	}
	if err := syncDir(filepath.Dir(dbPath)); err != nil {
		return info, fmt.Errorf("restore: %w", err)
	}
	info.Path = dbPath
	return info, nil
}

// copyToTemp copies src to a new 0600 file next to dst, synced, and returns its name.
func copyToTemp(src, dst string) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	out, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".restore-*")
	if err != nil {
		return "", err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Chmod(0o600)
	}
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(out.Name())
		return "", fmt.Errorf("copy %s: %w", src, err)
	}
	return out.Name(), nil
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	return errors.Join(err, f.Close())
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}

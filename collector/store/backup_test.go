package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"zhizhi/agent/wire"
)

// dump returns every row of every table of db as sorted strings, per table.
func dump(t *testing.T, db *sql.DB) map[string][]string {
	t.Helper()
	ctx := context.Background()
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	out := map[string][]string{}
	for _, tb := range tables {
		rows, err := db.QueryContext(ctx, `SELECT * FROM "`+tb+`"`)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		lines := []string{}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, fmt.Sprintf("%v", vals))
		}
		rows.Close()
		slices.Sort(lines)
		out[tb] = lines
	}
	return out
}

func rawOpen(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestBackupWhileIngesting backs up while three agents ingest as fast as the store takes them: the backup
// is a consistent snapshot (exactly the samples committed before some point, whole batches), restores into a
// database that opens and authenticates the agents; a second backup after ingest stopped equals the source
// in every row of every table.
func TestBackupWhileIngesting(t *testing.T) {
	ctx := context.Background()
	s, path := openTest(t, Options{})
	type agentTok struct {
		a   Agent
		tok string
	}
	var agents []agentTok
	for i := range 3 {
		a, tok := enroll(t, s, fmt.Sprintf("system %d", i), "数据局")
		agents = append(agents, agentTok{a, tok})
	}
	const batchSize = 20
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var batches atomic.Int64
	for i, at := range agents {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(i), 1))
			start := time.Now().Add(-time.Hour)
			for seq := uint64(1); ; seq += batchSize {
				select {
				case <-stop:
					return
				default:
				}
				b := &wire.Batch{Version: wire.SchemaVersion, AgentID: at.a.ID, SentAt: time.Now()}
				for k := range uint64(batchSize) {
					b.Samples = append(b.Samples, realisticSample(r, seq+k, start.Add(time.Duration(seq+k)*time.Second)))
				}
				if _, err := s.Ingest(ctx, at.a, b, time.Now()); err != nil {
					t.Errorf("ingest: %v", err)
					return
				}
				batches.Add(1)
			}
		})
	}
	for batches.Load() < 30 { // some data before the backup starts
		time.Sleep(5 * time.Millisecond)
	}

	dir := t.TempDir()
	backup := filepath.Join(dir, "live.db")
	var calls atomic.Int64
	info, err := Backup(ctx, path, backup, func(written, total int64) {
		calls.Add(1)
		if written < 0 || written > total {
			t.Errorf("progress %d of %d", written, total)
		}
	})
	before := batches.Load()
	time.Sleep(50 * time.Millisecond) // ingest continues after the backup
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	if calls.Load() == 0 {
		t.Error("progress never called")
	}
	if batches.Load() <= before {
		t.Error("ingest did not continue after the backup (the test proves nothing about concurrency)")
	}
	if info.Path != backup || info.SchemaVersion != SchemaVersion || info.Agents != 3 || info.Samples == 0 || info.Samples%batchSize != 0 {
		t.Errorf("info %+v: want 3 agents, whole batches of %d samples, schema %d", info, batchSize, SchemaVersion)
	}
	if fi, err := os.Stat(backup); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("backup file: %v %v, want mode 0600", fi, err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}

	// Snapshot consistency: the backup's samples are exactly the source's samples with id <= its largest id.
	var maxID int64
	bdb := rawOpen(t, backup)
	if err := bdb.QueryRow(`SELECT MAX(id) FROM samples`).Scan(&maxID); err != nil {
		t.Fatal(err)
	}
	sampleRows := func(db *sql.DB) []string {
		rows, err := db.Query(`SELECT id, host_id, seq, ts, hex(payload) FROM samples WHERE id <= ? ORDER BY id`, maxID)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var id, host, seq, ts int64
			var p string
			rows.Scan(&id, &host, &seq, &ts, &p)
			out = append(out, fmt.Sprint(id, host, seq, ts, p))
		}
		return out
	}
	got, want := sampleRows(bdb), sampleRows(s.rdb)
	if len(got) != int(info.Samples) || !slices.Equal(got, want) {
		t.Errorf("backup holds %d samples, not the source's first %d (consistent prefix)", len(got), len(want))
	}

	// Restore into a new data directory: it opens, migrates nothing and knows the agents' tokens.
	restored := filepath.Join(t.TempDir(), "data", "zhizhi.db")
	rinfo, err := Restore(ctx, backup, restored, RestoreOptions{})
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	if rinfo.Samples != info.Samples || rinfo.Path != restored {
		t.Errorf("restore info %+v, backup %+v", rinfo, info)
	}
	rs := openAt(t, restored, Options{})
	for _, at := range agents {
		if a, err := rs.AuthenticateAgent(ctx, at.tok); err != nil || a.ID != at.a.ID {
			t.Errorf("restored database does not authenticate %s: %v", at.a.ID, err)
		}
	}
	rs.Close()

	// With ingest stopped, a backup equals the source in every table.
	still := filepath.Join(dir, "still.db")
	if _, err := Backup(ctx, path, still, nil); err != nil {
		t.Fatal(err)
	}
	restored2 := filepath.Join(t.TempDir(), "zhizhi.db")
	if _, err := Restore(ctx, still, restored2, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	src, dst := dump(t, s.rdb), dump(t, rawOpen(t, restored2))
	if len(src) < 5 || len(src["samples"]) == 0 {
		t.Fatalf("source dump too small: %d tables", len(src))
	}
	for tb, rows := range src {
		if !slices.Equal(rows, dst[tb]) {
			t.Errorf("table %s: %d rows in the source, %d restored, or contents differ", tb, len(rows), len(dst[tb]))
		}
	}
	if len(dst) != len(src) {
		t.Errorf("%d tables restored, %d in the source", len(dst), len(src))
	}
}

// TestRestoreRefuses covers every refusal of Backup, CheckNotInUse and Restore, and that a refused restore
// leaves the existing database untouched.
func TestRestoreRefuses(t *testing.T) {
	ctx := context.Background()
	s, path := openTest(t, Options{})
	a, _ := enroll(t, s, "system", "dept")
	r := rand.New(rand.NewPCG(7, 7))
	b := &wire.Batch{Version: wire.SchemaVersion, AgentID: a.ID, SentAt: time.Now()}
	for seq := uint64(1); seq <= 50; seq++ {
		b.Samples = append(b.Samples, realisticSample(r, seq, time.Now().Add(time.Duration(seq-60)*time.Second)))
	}
	if _, err := s.Ingest(ctx, a, b, time.Now()); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "good.db")
	if _, err := Backup(ctx, path, good, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := Backup(ctx, path, good, nil); !errors.Is(err, ErrExists) {
		t.Errorf("backup over an existing file: %v, want ErrExists", err)
	}

	// A database held open by a store (a running server) is in use.
	if err := CheckNotInUse(ctx, path); !errors.Is(err, ErrInUse) {
		t.Errorf("check of an open database: %v, want ErrInUse", err)
	}
	if _, err := Restore(ctx, good, path, RestoreOptions{Force: true}); !errors.Is(err, ErrInUse) {
		t.Errorf("restore over an open database: %v, want ErrInUse", err)
	}
	s.Close()
	if err := CheckNotInUse(ctx, path); err != nil {
		t.Errorf("check of a closed database: %v", err)
	}
	if _, err := Restore(ctx, good, path, RestoreOptions{}); !errors.Is(err, ErrExists) {
		t.Errorf("restore without force over a database: %v, want ErrExists", err)
	}

	// A backup from a newer zhizhi.
	newer := filepath.Join(dir, "newer.db")
	if _, err := Backup(ctx, path, newer, nil); err != nil {
		t.Fatal(err)
	}
	ndb := rawOpen(t, newer)
	if _, err := ndb.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)`, SchemaVersion+1); err != nil {
		t.Fatal(err)
	}
	ndb.Close()
	_, err := Restore(ctx, newer, path, RestoreOptions{Force: true})
	var tooNew *SchemaTooNewError
	wantMsg := fmt.Sprintf("database schema version %d is newer than this zhizhi (%d); downgrade is not supported", SchemaVersion+1, SchemaVersion)
	if !errors.As(err, &tooNew) || tooNew.Found != SchemaVersion+1 || tooNew.Error() != wantMsg {
		t.Errorf("restore of a newer schema: %v, want %q", err, wantMsg)
	}
	// Open (what `zhizhi up` does) refuses it with the same words.
	if _, err := Open(ctx, newer, Options{}); err == nil || !strings.Contains(err.Error(), wantMsg) {
		t.Errorf("open of a newer schema: %v", err)
	}

	notDB := filepath.Join(dir, "notes.txt")
	os.WriteFile(notDB, []byte("hello, this is not a database at all"), 0o600)
	other := filepath.Join(dir, "other.db")
	odb := rawOpen(t, other)
	odb.Exec(`CREATE TABLE t (x)`)
	odb.Close()
	corrupt := filepath.Join(dir, "corrupt.db")
	data, _ := os.ReadFile(good)
	// Overwrite the middle of every page but the first (the header): b-tree pages become garbage.
	for off := 4096 + 100; off+200 < len(data); off += 4096 {
		for i := range 200 {
			data[off+i] = byte(r.IntN(256))
		}
	}
	os.WriteFile(corrupt, data, 0o600)
	// An index that no longer matches its table: readable, but PRAGMA integrity_check objects.
	badIndex := filepath.Join(dir, "badindex.db")
	if _, err := Backup(ctx, path, badIndex, nil); err != nil {
		t.Fatal(err)
	}
	bdb := rawOpen(t, badIndex)
	for _, q := range []string{`PRAGMA writable_schema = ON`,
		`UPDATE sqlite_master SET sql = 'CREATE INDEX samples_host_ts ON samples (ts, host_id)' WHERE name = 'samples_host_ts'`} {
		if _, err := bdb.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	bdb.Close()
	if _, err := Restore(ctx, badIndex, path, RestoreOptions{Force: true}); err == nil || !strings.Contains(err.Error(), "integrity check failed") {
		t.Errorf("restore of a database with a broken index: %v, want an integrity check failure", err)
	}

	for name, src := range map[string]string{"not sqlite": notDB, "no schema_migrations": other, "corrupt": corrupt, "missing": filepath.Join(dir, "nope.db")} {
		if _, err := Restore(ctx, src, path, RestoreOptions{Force: true}); err == nil {
			t.Errorf("%s: restored", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}

	// Every refusal left the database as it was.
	rs := openAt(t, path, Options{})
	if _, err := rs.Agent(ctx, a.ID); err != nil {
		t.Errorf("database changed by refused restores: %v", err)
	}
}

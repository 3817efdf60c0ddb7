package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"zhizhi/agent/wire"
)

func TestMigrations(t *testing.T) {
	ctx := context.Background()
	if SchemaVersion != len(migrations) {
		t.Fatalf("SchemaVersion %d, but there are %d migrations", SchemaVersion, len(migrations))
	}
	s, path := openTest(t, Options{})
	if got := countRows(t, s, `SELECT MAX(version) FROM schema_migrations`); got != int64(SchemaVersion) {
		t.Fatalf("fresh version %d, want %d", got, SchemaVersion)
	}
	var mode string
	if err := s.wdb.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode %q (%v), want wal", mode, err)
	}
	if _, err := s.rdb.ExecContext(ctx, `INSERT INTO departments (name) VALUES ('x')`); err == nil {
		t.Fatal("the read pool accepted a write")
	}
	enroll(t, s, "OA", "Finance")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Re-open: idempotent, data kept, no extra migration rows.
	s = openAt(t, path, Options{})
	if n := countRows(t, s, `SELECT COUNT(*) FROM schema_migrations`); n != int64(SchemaVersion) {
		t.Fatalf("%d migration rows after re-open, want %d", n, SchemaVersion)
	}
	if n := countRows(t, s, `SELECT COUNT(*) FROM agents`); n != 1 {
		t.Fatalf("%d agents after re-open, want 1", n)
	}
	// Pretend a newer binary wrote the database.
	if _, err := s.wdb.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)`, SchemaVersion+1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err := Open(ctx, path, Options{})
	if err == nil {
		t.Fatal("open of a newer schema succeeded")
	}
	want := fmt.Sprintf("database schema version %d is newer than this zhizhi (%d); downgrade is not supported",
		SchemaVersion+1, SchemaVersion)
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not contain %q", err, want)
	}
}

func TestEnrollAuthenticateRevoke(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	s, _ := openTest(t, Options{Clock: clk.Now})

	a, tok, err := s.EnrollAgent(ctx, "OA", "Finance")
	if err != nil {
		t.Fatal(err)
	}
	clk.Set(clk.Now().Add(time.Minute))
	b, tok2, err := s.EnrollAgent(ctx, "OA", "Finance")
	if err != nil {
		t.Fatal(err)
	}
	if a.ID == b.ID || tok == tok2 || a.SystemID != b.SystemID {
		t.Fatalf("second agent of the same system: %+v %+v", a, b)
	}
	if id, ok := AgentIDFromToken(tok); !ok || id != a.ID || !validAgentID(id) {
		t.Fatalf("AgentIDFromToken(%q) = %q, %v; want %q", tok, id, ok, a.ID)
	}
	if _, _, err := s.EnrollAgent(ctx, " ", "Finance"); err == nil {
		t.Fatal("empty system accepted")
	}

	// Only the hash is stored.
	var stored []byte
	if err := s.rdb.QueryRowContext(ctx, `SELECT token_hash FROM agents WHERE id = ?`, a.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(tok))
	if string(stored) != string(sum[:]) {
		t.Fatal("stored token hash is not sha256(token)")
	}
	if n := countRows(t, s, `SELECT COUNT(*) FROM agents WHERE instr(token_hash, ?) > 0 OR note LIKE ?`, tok, "%"+tok[20:]+"%"); n != 0 {
		t.Fatal("token stored in clear")
	}

	got, err := s.AuthenticateAgent(ctx, tok)
	if err != nil || got.ID != a.ID || got.System != "OA" || got.Department != "Finance" {
		t.Fatalf("authenticate: %+v, %v", got, err)
	}
	for name, bad := range map[string]string{
		"empty":        "",
		"garbage":      "hello",
		"wrong secret": tok[:len(tok)-2] + "AA",
		"unknown id":   "zz_ag-aaaaaaaaaaaa" + tok[18:],
		"bearer":       "Bearer " + tok,
	} {
		if _, err := s.AuthenticateAgent(ctx, bad); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("%s: err = %v, want ErrUnauthorized", name, err)
		}
	}

	clk.Set(clk.Now().Add(time.Hour))
	if err := s.RevokeAgent(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AuthenticateAgent(ctx, tok); !errors.Is(err, ErrRevoked) {
		t.Fatalf("revoked token: err = %v, want ErrRevoked", err)
	}
	if _, err := s.AuthenticateAgent(ctx, tok2); err != nil {
		t.Fatalf("other agent after revoke: %v", err)
	}
	if err := s.RevokeAgent(ctx, "ag-nosuchagentx"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoke unknown: %v", err)
	}
	agents, err := s.ListAgents(ctx)
	if err != nil || len(agents) != 2 {
		t.Fatalf("list: %v %v", agents, err)
	}
	if agents[0].RevokedAt == nil || !agents[0].RevokedAt.Equal(clk.Now()) || agents[1].RevokedAt != nil {
		t.Fatalf("revoked_at: %+v", agents)
	}
	// Ingest refuses a revoked agent even when the caller's copy predates the revocation.
	smp := realisticSample(rand.New(rand.NewPCG(1, 1)), 1, clk.Now())
	if _, err := s.Ingest(ctx, a, batchOf(a, clk.Now(), smp), clk.Now()); !errors.Is(err, ErrRevoked) {
		t.Fatalf("ingest by revoked agent: %v", err)
	}
	if n := countRows(t, s, `SELECT COUNT(*) FROM samples`); n != 0 {
		t.Fatalf("revoked agent stored %d samples", n)
	}
}

func TestIngestDedupeAndState(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t, Options{})
	a, _ := enroll(t, s, "OA", "Finance")
	r := rand.New(rand.NewPCG(2, 2))
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	var samples []wire.Sample
	for i := range 5 {
		samples = append(samples, realisticSample(r, uint64(i+1), t0.Add(time.Duration(i)*15*time.Second)))
	}
	recv := t0.Add(time.Minute)
	sent := recv.Add(-1500 * time.Millisecond)
	mk := func(smps ...wire.Sample) *wire.Batch {
		b := batchOf(a, sent, smps...)
		b.Dropped = 7
		return b
	}
	b := mk(samples...)

	ack := mustIngest(t, s, a, b, recv)
	if ack != (wire.Ack{Accepted: 5, Duplicates: 0, MaxSeq: 5}) {
		t.Fatalf("first ack %+v", ack)
	}
	ack = mustIngest(t, s, a, b, recv.Add(time.Second))
	if ack != (wire.Ack{Accepted: 0, Duplicates: 5, MaxSeq: 5}) {
		t.Fatalf("second ack %+v", ack)
	}
	// Overlapping batch: 2 old, 1 new.
	ack = mustIngest(t, s, a, mk(samples[3], samples[4], realisticSample(r, 6, t0.Add(75*time.Second))), recv)
	if ack != (wire.Ack{Accepted: 1, Duplicates: 2, MaxSeq: 6}) {
		t.Fatalf("overlap ack %+v", ack)
	}
	if n := countRows(t, s, `SELECT COUNT(*) FROM samples`); n != 6 {
		t.Fatalf("raw rows %d, want 6", n)
	}
	// A late, older sample does not replace the latest.
	mustIngest(t, s, a, mk(realisticSample(r, 7, t0.Add(-time.Hour))), recv)

	got, err := s.RawSamples(ctx, a.ID, 0, 100)
	if err != nil || len(got) != 7 {
		t.Fatalf("raw samples: %d, %v", len(got), err)
	}
	for i, g := range got[:5] {
		if g.Seq != uint64(i+1) || !g.Time.Equal(samples[i].Time) || *g.CPU != *samples[i].CPU || len(g.FS) != 3 || g.FS[2] != samples[i].FS[2] {
			t.Fatalf("raw sample %d differs: %+v", i, g)
		}
	}
	if page, _ := s.RawSamples(ctx, a.ID, 5, 1); len(page) != 1 || page[0].Seq != 6 {
		t.Fatalf("paging: %+v", page)
	}

	hosts, err := s.Hosts(ctx)
	if err != nil || len(hosts) != 1 {
		t.Fatalf("hosts: %v %v", hosts, err)
	}
	h := hosts[0]
	if h.AgentID != a.ID || h.Hostname != "host-"+a.ID || h.Facts == nil || h.Facts.Platform != "kylin" ||
		h.System != "OA" || h.Department != "Finance" || h.Dropped != 7 || h.ClockSkew != -1500*time.Millisecond {
		t.Fatalf("host summary %+v", h)
	}
	if h.Latest == nil || h.Latest.Seq != 6 {
		t.Fatalf("latest sample %+v, want seq 6", h.Latest)
	}
	agents, _ := s.ListAgents(ctx)
	if ag := agents[0]; ag.LastSeq != 7 || ag.HostID != h.ID || ag.LastSeen == nil || !ag.LastSeen.Equal(recv) {
		t.Fatalf("agent state %+v", ag)
	}
	if _, err := s.Host(ctx, h.ID+100); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown host: %v", err)
	}
	if one, err := s.Host(ctx, h.ID); err != nil || one.ID != h.ID {
		t.Fatalf("host: %+v %v", one, err)
	}

	// Facts change only when different.
	var updated1, updated2 int64
	updated1 = countRows(t, s, `SELECT facts_updated_at FROM hosts`)
	b2 := batchOf(a, recv, realisticSample(r, 8, t0.Add(90*time.Second)))
	b2.Host.Kernel = "6.1.0"
	mustIngest(t, s, a, b2, recv.Add(time.Hour))
	updated2 = countRows(t, s, `SELECT facts_updated_at FROM hosts`)
	if updated2 != recv.Add(time.Hour).UnixMilli() || updated1 != recv.UnixMilli() {
		t.Fatalf("facts_updated_at %d then %d", updated1, updated2)
	}

	systems, err := s.Systems(ctx)
	if err != nil || len(systems) != 1 || systems[0].Hosts != 1 || systems[0].Name != "OA" || !systems[0].LastSeen.Equal(recv.Add(time.Hour)) {
		t.Fatalf("systems %+v %v", systems, err)
	}

	// A batch for another agent's id is refused.
	other, _ := enroll(t, s, "HR", "Finance")
	if _, err := s.Ingest(ctx, other, b, recv); err == nil {
		t.Fatal("batch with another agent's id accepted")
	}
	st, err := s.Stats(ctx)
	if err != nil || st.Agents != 2 || st.Hosts != 1 || st.Samples != 8 || st.RollupBacklog != 8 || st.DBBytes == 0 {
		t.Fatalf("stats %+v %v", st, err)
	}
}

func TestIngestConcurrentGroupCommit(t *testing.T) {
	ctx := context.Background()
	s, path := openTest(t, Options{MaxBatchesPerCommit: 16})
	const agents, perAgent = 24, 20
	as := make([]Agent, agents)
	for i := range as {
		as[i], _ = enroll(t, s, "sys", "dept")
	}
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	errs := make(chan error, agents*perAgent)
	for i, a := range as {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(i), 9))
			for seq := uint64(1); seq <= perAgent; seq++ {
				smp := realisticSample(r, seq, t0.Add(time.Duration(seq)*15*time.Second))
				ack, err := s.Ingest(ctx, a, batchOf(a, t0, smp), t0)
				if err == nil && (ack.Accepted != 1 || ack.MaxSeq != seq) {
					err = errors.New("bad ack")
				}
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := countRows(t, s, `SELECT COUNT(*) FROM samples`); n != agents*perAgent {
		t.Fatalf("%d samples, want %d", n, agents*perAgent)
	}
	// Acknowledged means durable: everything is there after a re-open.
	s.Close()
	s = openAt(t, path, Options{})
	if n := countRows(t, s, `SELECT COUNT(*) FROM samples`); n != agents*perAgent {
		t.Fatalf("%d samples after re-open, want %d", n, agents*perAgent)
	}
	if _, err := s.Ingest(ctx, as[0], batchOf(as[0], t0), t0); err != nil {
		t.Fatalf("empty batch: %v", err)
	}
	s.Close()
	if _, err := s.Ingest(ctx, as[0], batchOf(as[0], t0), t0); !errors.Is(err, ErrClosed) {
		t.Fatalf("ingest after close: %v", err)
	}
}

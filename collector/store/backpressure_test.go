package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"
)

// TestIngestBusyWhenQueueFull: with the writer stuck behind another holder of the write connection, Ingest
// queues up to MaxQueuedBatches batches and refuses the next with ErrBusy at once; nothing accepted is lost
// and the refused batch is stored when retried.
func TestIngestBusyWhenQueueFull(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	s, _ := openTest(t, Options{Clock: func() time.Time { return now }, MaxQueuedBatches: 2})
	a, _ := enroll(t, s, "OA", "Finance")
	r := rand.New(rand.NewPCG(3, 3))

	conn, err := s.wdb.Conn(ctx) // the only write connection: the writer blocks in BeginTx
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 3)
	for seq := uint64(1); seq <= 3; seq++ {
		b := batchOf(a, now, realisticSample(r, seq, now.Add(time.Duration(seq)*15*time.Second)))
		go func() {
			_, err := s.Ingest(ctx, a, b, now)
			errs <- err
		}()
	}
	// One batch is in the writer's hands, two wait in the queue.
	for deadline := time.Now().Add(10 * time.Second); len(s.reqs) < 2; {
		if time.Now().After(deadline) {
			t.Fatalf("queue never filled: %d", len(s.reqs))
		}
		time.Sleep(time.Millisecond)
	}
	refused := batchOf(a, now, realisticSample(r, 4, now.Add(time.Minute)))
	if _, err := s.Ingest(ctx, a, refused, now); !errors.Is(err, ErrBusy) {
		t.Fatalf("ingest with a full queue: err = %v, want ErrBusy", err)
	}
	conn.Close()
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatalf("queued batch: %v", err)
		}
	}
	if ack := mustIngest(t, s, a, refused, now); ack.Accepted != 1 {
		t.Fatalf("retried batch: %+v", ack)
	}
	if n := countRows(t, s, `SELECT COUNT(*) FROM samples`); n != 4 {
		t.Fatalf("samples stored: %d, want 4", n)
	}
}

// TestAuthCacheRevocation: a token accepted once is served from the cache; RevokeAgent in this process
// refuses it at once, a revoke by another process on the same file once AuthCacheTTL has passed, and with
// the cache disabled at once.
func TestAuthCacheRevocation(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	path := filepath.Join(t.TempDir(), "zhizhi.db")
	s := openAt(t, path, Options{Clock: clk.Now, AuthCacheTTL: 30 * time.Second})
	nocache := openAt(t, path, Options{Clock: clk.Now, AuthCacheTTL: -1})
	cli := openAt(t, path, Options{Clock: clk.Now}) // stands for `zhizhi agents revoke` in another process

	auth := func(st *Store, tok string, want error) {
		t.Helper()
		if _, err := st.AuthenticateAgent(ctx, tok); !errors.Is(err, want) || (want == nil && err != nil) {
			t.Fatalf("authenticate: err = %v, want %v", err, want)
		}
	}
	local, tokLocal := enroll(t, s, "OA", "Finance")
	remote, tokRemote := enroll(t, s, "OA", "Finance")
	for _, tok := range []string{tokLocal, tokRemote} {
		auth(s, tok, nil)
		auth(nocache, tok, nil)
	}
	if _, ok := s.auth.get(sha256Of(tokLocal), clk.Now()); !ok {
		t.Fatal("accepted token not cached")
	}
	// A wrong secret for a cached agent id is not served from the cache.
	auth(s, tokLocal[:len(tokLocal)-2]+"AA", ErrUnauthorized)

	// Revoked in this process: refused at once.
	if err := s.RevokeAgent(ctx, local.ID); err != nil {
		t.Fatal(err)
	}
	auth(s, tokLocal, ErrRevoked)

	// Revoked by another process: still accepted from the cache within the TTL, refused after it.
	if err := cli.RevokeAgent(ctx, remote.ID); err != nil {
		t.Fatal(err)
	}
	auth(nocache, tokRemote, ErrRevoked)
	clk.Set(clk.Now().Add(29 * time.Second))
	auth(s, tokRemote, nil)
	clk.Set(clk.Now().Add(time.Second))
	auth(s, tokRemote, ErrRevoked)
	auth(s, tokRemote, ErrRevoked) // and a refusal is never cached as an acceptance
}

func sha256Of(tok string) [sha256.Size]byte { return sha256.Sum256([]byte(tok)) }

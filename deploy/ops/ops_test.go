package ops

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"zhizhi/agent"
	"zhizhi/agent/deliver"
	"zhizhi/agent/wire"
	"zhizhi/collector/store"
	"zhizhi/internal/testbin"
)

// zhizhi runs the zhizhi binary and returns its combined output and whether it exited 0.
func zhizhi(t *testing.T, bin string, args ...string) (string, bool) {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("zhizhi %v: %v", args, err)
	}
	return string(out), err == nil
}

// ingester posts batches of one agent to the server as fast as it answers, counting acknowledged samples.
type ingester struct {
	url, token, id string
	seq            uint64
	acked          atomic.Int64
}

func (in *ingester) post(ctx context.Context, n int) error {
	b := wire.Batch{Version: wire.SchemaVersion, AgentID: in.id, SentAt: time.Now().UTC()}
	for range n {
		in.seq++
		up := in.seq
		b.Samples = append(b.Samples, wire.Sample{Seq: in.seq, Time: time.Now().UTC().Add(-time.Minute), IntervalSeconds: 15,
			CPU:    &wire.CPU{BusyPct: float64(in.seq % 100)},
			Memory: &wire.Memory{TotalBytes: 8 << 30, UsedBytes: 2 << 30, AvailableBytes: 6 << 30, UsedPct: 25},
			FS:     []wire.Filesystem{{Mount: "/", Device: "/dev/vda1", FSType: "ext4", TotalBytes: 100 << 30, UsedBytes: 10 << 30, FreeBytes: 90 << 30, UsedPct: 10}},
			Uptime: &up})
	}
	body, err := deliver.Encode(b)
	if err != nil {
		return err
	}
	ack, _, err := deliver.Post(ctx, http.DefaultClient, in.url+wire.IngestPath, in.token, body, 10*time.Second, time.Now)
	if err != nil {
		return err
	}
	in.acked.Add(int64(ack.Accepted))
	return nil
}

// TestBackupRestore runs the whole operations story with the real binary: back up while a running server
// ingests, refuse a restore while it runs and without --force, restore after it stopped, start again on
// the restored data with the agent's token still valid; refuse a backup from a newer zhizhi, and refuse to
// start on a database from a newer zhizhi.
func TestBackupRestore(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "zhizhi")
	if err := testbin.Build(context.Background(), testbin.Root(t), "./cmd/zhizhi", testbin.Target{GOOS: "linux", GOARCH: "amd64"}, bin); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	addr := testbin.FreeAddr(t)
	up := func() *testbin.Proc {
		p := testbin.Start(t, nil, bin, "up", "--data", data, "--listen", addr, "--no-local-agent")
		testbin.WaitHTTP(t, p, "http://"+addr+"/healthz", 20*time.Second)
		return p
	}
	srv := up()
	token := testbin.Enroll(t, bin, data, "门户网站", "数据局")
	id, err := agent.ParseToken(token)
	if err != nil {
		t.Fatal(err)
	}
	in := &ingester{url: "http://" + addr, token: token, id: id}

	// Ingest continuously while the backup runs.
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var ingestErr error
	wg.Go(func() {
		for ctx.Err() == nil {
			if err := in.post(ctx, 50); err != nil && ctx.Err() == nil {
				ingestErr = err
				return
			}
		}
	})
	for in.acked.Load() < 500 {
		time.Sleep(10 * time.Millisecond)
	}
	backup := filepath.Join(dir, "b1.db")
	out, ok := zhizhi(t, bin, "backup", "--data", data, "--to", backup)
	if !ok || !strings.Contains(out, "written to "+backup) || !strings.Contains(out, fmt.Sprintf("schema version %d, 1 agents", store.SchemaVersion)) {
		t.Fatalf("backup while ingesting: ok=%v\n%s", ok, out)
	}
	atBackup := in.acked.Load()
	if out, ok := zhizhi(t, bin, "backup", "--data", data, "--to", backup); ok || !strings.Contains(out, "exists") {
		t.Errorf("backup over an existing file: ok=%v\n%s", ok, out)
	}

	// Restore refuses while the server runs, even with --force.
	if out, ok := zhizhi(t, bin, "restore", "--from", backup, "--data", data, "--force"); ok || !strings.Contains(out, "is in use") {
		t.Errorf("restore while the server runs: ok=%v\n%s", ok, out)
	}
	time.Sleep(100 * time.Millisecond)
	stop()
	wg.Wait()
	if ingestErr != nil {
		t.Fatalf("ingest: %v", ingestErr)
	}
	final := in.acked.Load()
	if final <= atBackup {
		t.Error("ingest did not go on during and after the backup")
	}
	if err := srv.Stop(10 * time.Second); err != nil {
		t.Fatalf("stop server: %v\n%s", err, srv.Output())
	}

	binfo, err := store.CheckBackup(context.Background(), backup)
	if err != nil {
		t.Fatal(err)
	}
	if binfo.Samples == 0 || binfo.Samples > final || binfo.Samples%50 != 0 {
		t.Errorf("backup holds %d samples; %d were acknowledged in all, in batches of 50", binfo.Samples, final)
	}

	if out, ok := zhizhi(t, bin, "restore", "--from", backup, "--data", data); ok || !strings.Contains(out, "pass --force") {
		t.Errorf("restore over a database without --force: ok=%v\n%s", ok, out)
	}
	// The data directory belongs to the service user; root restores, the file must end up the user's.
	if os.Geteuid() != 0 {
		t.Fatal("needs root: checks that a restore run as root hands the database to the data directory's owner")
	}
	if err := os.Chown(data, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	out, ok = zhizhi(t, bin, "restore", "--from", backup, "--data", data, "--force")
	if !ok || !strings.Contains(out, fmt.Sprintf("%d raw samples", binfo.Samples)) {
		t.Fatalf("restore: ok=%v\n%s", ok, out)
	}
	if fi, err := os.Stat(filepath.Join(data, "zhizhi.db")); err != nil || fi.Sys().(*syscall.Stat_t).Uid != 65534 || fi.Mode().Perm() != 0o600 {
		t.Errorf("restored database: %v %v, want owner 65534 (the data directory's) and mode 0600", fi, err)
	}
	rinfo, err := store.CheckBackup(context.Background(), filepath.Join(data, "zhizhi.db"))
	if err != nil || rinfo.Samples != binfo.Samples {
		t.Fatalf("restored database: %+v %v, want %d samples", rinfo, err, binfo.Samples)
	}

	// The server starts on the restored data; the agent's token works and samples after the backup point
	// are accepted again (they are not duplicates any more).
	srv = up()
	in.seq = uint64(binfo.Samples)
	before := in.acked.Load()
	if err := in.post(context.Background(), 10); err != nil {
		t.Fatalf("ingest after restore: %v", err)
	}
	if got := in.acked.Load() - before; got != 10 {
		t.Errorf("after restore the server accepted %d of 10 samples past the backup point", got)
	}
	if err := srv.Stop(10 * time.Second); err != nil {
		t.Fatalf("stop server: %v\n%s", err, srv.Output())
	}

	// A backup from a newer zhizhi is refused by restore, and a database from a newer zhizhi by up.
	newer := filepath.Join(dir, "newer.db")
	if out, ok := zhizhi(t, bin, "backup", "--data", data, "--to", newer); !ok {
		t.Fatalf("backup: %s", out)
	}
	db, err := sql.Open("sqlite", newer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)`, store.SchemaVersion+1); err != nil {
		t.Fatal(err)
	}
	db.Close()
	msg := fmt.Sprintf("database schema version %d is newer than this zhizhi (%d); downgrade is not supported", store.SchemaVersion+1, store.SchemaVersion)
	if out, ok := zhizhi(t, bin, "restore", "--from", newer, "--data", data, "--force"); ok || !strings.Contains(out, msg) {
		t.Errorf("restore of a newer backup: ok=%v\n%s", ok, out)
	}
	newData := filepath.Join(dir, "newer-data")
	os.MkdirAll(newData, 0o700)
	if err := os.Link(newer, filepath.Join(newData, "zhizhi.db")); err != nil {
		t.Fatal(err)
	}
	if out, ok := zhizhi(t, bin, "up", "--data", newData, "--listen", testbin.FreeAddr(t), "--no-local-agent"); ok || !strings.Contains(out, msg) {
		t.Errorf("up on a newer database: ok=%v\n%s", ok, out)
	}
}

// Package e2e runs the real zhizhi and zhizhi-agent binaries against each other on loopback.
package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"zhizhi/agent/spool"
	"zhizhi/internal/testbin"
)

// binaries builds both commands into a temporary directory, as releases are built.
func binaries(t *testing.T) (server, agent string) {
	t.Helper()
	dir, root := t.TempDir(), testbin.Root(t)
	server, agent = filepath.Join(dir, "zhizhi"), filepath.Join(dir, "zhizhi-agent")
	host := testbin.Target{GOOS: runtime.GOOS, GOARCH: runtime.GOARCH}
	for i, err := range testbin.BuildAll(context.Background(), root, 2, []testbin.Job{
		{Pkg: "./cmd/zhizhi", Target: host, Out: server}, {Pkg: "./cmd/zhizhi-agent", Target: host, Out: agent},
	}) {
		if err != nil {
			t.Fatalf("build %d: %v", i, err)
		}
	}
	return server, agent
}

// proc is a started binary whose output is kept in a file for the failure report.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan error
}

func start(t *testing.T, name, logDir string, bin string, args ...string) *proc {
	t.Helper()
	logPath := filepath.Join(logDir, fmt.Sprintf("%s-%d.log", name, time.Now().UnixNano()))
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait(); f.Close() }()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			out, _ := os.ReadFile(logPath)
			t.Logf("---- %s output ----\n%s", name, tail(out, 4000))
		}
	})
	return p
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// stop sends sig and waits up to limit for the process to exit; it returns how long the exit took.
func (p *proc) stop(t *testing.T, sig syscall.Signal, limit time.Duration) time.Duration {
	t.Helper()
	t0 := time.Now()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("%s: signal: %v", p.name, err)
	}
	select {
	case <-p.done:
		return time.Since(t0)
	case <-time.After(limit):
		t.Fatalf("%s did not exit within %s of %v", p.name, limit, sig)
	}
	return 0
}

func waitFor(t *testing.T, what string, limit time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if ok() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s", limit, what)
}

func healthy(addr string) bool {
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// seqs returns the sequence numbers the server stored for the only agent's host, in insertion order.
func seqs(t *testing.T, dbPath string) []uint64 {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+dbPath+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(context.Background(), `SELECT seq FROM samples ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []uint64
	for rows.Next() {
		var s uint64
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestOutageAndKillLoseNothing runs a real agent against a real server, stops the server for several intervals,
// SIGKILLs the agent once, restarts both, and proves that every sample the agent spooled reached the server
// exactly once and in order.
func TestOutageAndKillLoseNothing(t *testing.T) {
	server, agentBin := binaries(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	logs := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	addr := testbin.FreeAddr(t)
	serverArgs := []string{"up", "--data", data, "--listen", addr, "--no-local-agent"}

	srv := start(t, "server", logs, server, serverArgs...)
	waitFor(t, "server healthy", 30*time.Second, func() bool { return healthy(addr) })

	token := testbin.Enroll(t, server, data, "社会救助管理系统", "民政局")
	tokenFile := filepath.Join(dir, "agent.token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	spoolDir := filepath.Join(dir, "spool")
	cfg := fmt.Sprintf("server: http://%s\ntoken_file: %s\ninterval: 1s\nspool:\n  dir: %s\nlog:\n  level: debug\n",
		addr, tokenFile, spoolDir)
	cfgFile := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	runAgent := func() *proc { return start(t, "agent", logs, agentBin, "run", "--config", cfgFile) }

	dbPath := filepath.Join(data, "zhizhi.db")
	ag := runAgent()
	waitFor(t, "first samples stored", 30*time.Second, func() bool { return len(seqs(t, dbPath)) >= 3 })

	// Outage: the server is down for several intervals while the agent keeps collecting into its spool.
	srv.stop(t, syscall.SIGTERM, 15*time.Second)
	before := len(seqs(t, dbPath))
	time.Sleep(4 * time.Second)

	// The agent dies hard in the middle of the outage and comes back.
	ag.stop(t, syscall.SIGKILL, 5*time.Second)
	ag = runAgent()
	time.Sleep(3 * time.Second)

	srv = start(t, "server", logs, server, serverArgs...)
	waitFor(t, "server healthy again", 30*time.Second, func() bool { return healthy(addr) })
	// Let the backlog replay and a few fresh samples arrive.
	waitFor(t, "backlog replayed", 60*time.Second, func() bool {
		s := seqs(t, dbPath)
		return len(s) > 0 && s[len(s)-1] >= uint64(before+9)
	})
	time.Sleep(2 * time.Second)

	// SIGTERM flushes and exits within a few seconds.
	if took := ag.stop(t, syscall.SIGTERM, 8*time.Second); took > 5*time.Second {
		t.Errorf("agent took %s to exit after SIGTERM", took)
	}
	// What the agent spooled, read back from its own spool directory.
	sp, err := spool.Open(spoolDir, spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := sp.Stats()
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	if st.Dropped != 0 {
		t.Errorf("spool dropped %d samples", st.Dropped)
	}
	if st.LastSeq < uint64(before+9) {
		t.Fatalf("spool last seq %d: the agent did not keep collecting through the outage (server had %d before)", st.LastSeq, before)
	}
	got := seqs(t, dbPath)
	srv.stop(t, syscall.SIGTERM, 15*time.Second)

	// Everything up to the acknowledged position arrived exactly once, in order, with no gap.
	if st.AckedSeq != st.LastSeq {
		t.Errorf("agent exited with unacknowledged samples: acked %d, last %d", st.AckedSeq, st.LastSeq)
	}
	if uint64(len(got)) != st.LastSeq {
		t.Errorf("server holds %d samples, agent spooled %d", len(got), st.LastSeq)
	}
	for i, s := range got {
		if s != uint64(i+1) {
			t.Fatalf("sample %d in arrival order has seq %d, want %d (duplicate, gap or reorder); first 50: %v",
				i, s, i+1, got[:min(50, len(got))])
		}
	}
	t.Logf("spooled %d samples, %d stored before the outage, all %d arrived once and in order", st.LastSeq, before, len(got))
}

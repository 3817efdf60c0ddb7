package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"zhizhi/agent/wire"
	"zhizhi/collector/store"
	"zhizhi/server/auth"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a running command.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type upRun struct {
	base   string
	out    *syncBuffer
	logs   *syncBuffer
	cancel context.CancelFunc
	done   chan error
}

func startUp(t *testing.T, dataDir string, users auth.UserStore, localAgent bool) *upRun {
	t.Helper()
	r := &upRun{out: &syncBuffer{}, logs: &syncBuffer{}, done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	addr := make(chan net.Addr, 1)
	cfg := upConfig{
		dataDir: dataDir, listen: "127.0.0.1:0", out: r.out, noLocalAgent: !localAgent,
		log:           slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		agentInterval: time.Second,
		ready:         func(a net.Addr) { addr <- a },
	}
	if users != nil { // nil: the store's users table
		cfg.users = func(*store.Store, *slog.Logger) auth.UserStore { return users }
	}
	go func() { r.done <- runUp(ctx, cfg) }()
	select {
	case a := <-addr:
		r.base = "http://" + a.String()
	case err := <-r.done:
		t.Fatalf("up failed: %v\nlogs:\n%s", err, r.logs)
	case <-time.After(20 * time.Second):
		t.Fatal("up did not start listening")
	}
	return r
}

func (r *upRun) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatalf("up returned %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("up did not stop after cancel")
	}
}

func (r *upRun) do(t *testing.T, method, path string, body []byte, setAuth func(*http.Request)) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, r.base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if setAuth != nil {
		setAuth(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

var passwordRE = regexp.MustCompile(`password: (\S+)`)

// adminPassword returns the password a first run printed, checking it stayed out of the log.
func (r *upRun) adminPassword(t *testing.T) func(*http.Request) {
	t.Helper()
	m := passwordRE.FindStringSubmatch(r.out.String())
	if m == nil {
		t.Fatalf("first run printed no admin password:\n%s", r.out)
	}
	if strings.Contains(r.logs.String(), m[1]) {
		t.Fatal("the admin password reached the log")
	}
	return func(req *http.Request) { req.SetBasicAuth("admin", m[1]) }
}

func TestUpServesTheRealStore(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	users := &auth.MemoryUserStore{} // persists across the two runs like the store's users table will
	r := startUp(t, dataDir, users, false)
	admin := r.adminPassword(t)
	if _, err := os.Stat(filepath.Join(dataDir, localTokenFile)); !os.IsNotExist(err) {
		t.Fatalf("--no-local-agent enrolled a local agent: %v", err)
	}

	// Enroll an agent over the API and ingest through the real store.
	code, data := r.do(t, "POST", "/api/v1/agents", []byte(`{"system":"社保系统","department":"人社局"}`), admin)
	var enrolled struct {
		Agent struct{ ID string }
		Token string
	}
	if code != 201 || json.Unmarshal(data, &enrolled) != nil {
		t.Fatalf("enroll: %d %s", code, data)
	}
	bearer := func(req *http.Request) { req.Header.Set("Authorization", "Bearer "+enrolled.Token) }
	now := time.Now()
	batch := wire.Batch{Version: wire.SchemaVersion, AgentID: enrolled.Agent.ID, SentAt: now,
		Host: &wire.HostFacts{Hostname: "shebao-db-01"},
		Samples: []wire.Sample{{Seq: 1, Time: now.Add(-time.Minute), CPU: &wire.CPU{BusyPct: 3}},
			{Seq: 2, Time: now, IntervalSeconds: 60, CPU: &wire.CPU{BusyPct: 4}}}}
	body, _ := json.Marshal(batch)
	for i, want := range []wire.Ack{{Accepted: 2, MaxSeq: 2}, {Duplicates: 2, MaxSeq: 2}} {
		code, data = r.do(t, "POST", wire.IngestPath, body, bearer)
		var ack wire.Ack
		if code != 200 || json.Unmarshal(data, &ack) != nil || ack != want {
			t.Fatalf("ingest #%d: %d %s, want %+v", i+1, code, data, want)
		}
	}
	code, data = r.do(t, "GET", "/api/v1/hosts", nil, admin)
	var hosts struct {
		Hosts []struct {
			ID               int64
			Hostname, Status string
			CPUBusyPct       *float64 `json:"cpu_busy_pct"`
		}
	}
	if code != 200 || json.Unmarshal(data, &hosts) != nil || len(hosts.Hosts) != 1 || hosts.Hosts[0].Status != "online" ||
		hosts.Hosts[0].CPUBusyPct == nil || *hosts.Hosts[0].CPUBusyPct != 4 {
		t.Fatalf("hosts: %d %s", code, data)
	}
	hostPath := "/api/v1/hosts/" + strconv.FormatInt(hosts.Hosts[0].ID, 10)
	rng := "&from=" + now.Add(-10*time.Minute).UTC().Format(time.RFC3339) + "&to=" + now.Add(time.Minute).UTC().Format(time.RFC3339)
	code, data = r.do(t, "GET", hostPath+"/series?metric=cpu.busy_pct"+rng, nil, admin)
	if code != 200 || !strings.Contains(string(data), `"resolution":"raw"`) || strings.Count(string(data), `"ts"`) != 2 {
		t.Errorf("series: %d %s", code, data)
	}
	if code, data = r.do(t, "GET", "/api/v1/hosts/999999", nil, admin); code != 404 {
		t.Errorf("unknown host: %d %s", code, data)
	}
	if code, data = r.do(t, "POST", wire.IngestPath, body, func(req *http.Request) {
		req.Header.Set("Authorization", "Bearer zz_ag-aaaaaaaaaaaa_forged")
	}); code != 401 {
		t.Errorf("forged token: %d %s", code, data)
	}
	if code, data = r.do(t, "POST", "/api/v1/agents/"+enrolled.Agent.ID+"/revoke", nil, admin); code != 200 {
		t.Fatalf("revoke: %d %s", code, data)
	}
	if code, data = r.do(t, "POST", "/api/v1/agents/ag-nosuchagent0/revoke", nil, admin); code != 404 {
		t.Errorf("revoke unknown: %d %s", code, data)
	}
	if code, data = r.do(t, "POST", wire.IngestPath, body, bearer); code != 403 {
		t.Errorf("revoked token: %d %s", code, data)
	}
	if code, data = r.do(t, "GET", "/healthz", nil, nil); code != 200 {
		t.Errorf("healthz: %d %s", code, data)
	}
	code, data = r.do(t, "GET", "/metrics", nil, nil)
	if code != 200 || !strings.Contains(string(data), `zhizhi_agents{state="revoked"} 1`) ||
		!strings.Contains(string(data), `zhizhi_ingest_samples_total 2`) || !strings.Contains(string(data), `zhizhi_ingest_duplicate_samples_total 2`) {
		t.Errorf("metrics: %d\n%s", code, data)
	}
	r.stop(t)

	// Second start: no new credential, the same data.
	r2 := startUp(t, dataDir, users, false)
	defer r2.stop(t)
	if strings.Contains(r2.out.String(), "password") {
		t.Fatalf("second run printed a credential again:\n%s", r2.out)
	}
	code, data = r2.do(t, "GET", "/api/v1/agents", nil, admin)
	if code != 200 || !strings.Contains(string(data), enrolled.Agent.ID) || !strings.Contains(string(data), `"revoked_at":"`) {
		t.Fatalf("agents after restart: %d %s", code, data)
	}
}

func TestUpLocalAgentDelivers(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	users := &auth.MemoryUserStore{}
	r := startUp(t, dataDir, users, true)
	admin := r.adminPassword(t)
	fi, err := os.Stat(filepath.Join(dataDir, localTokenFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("local agent token file: %v %v", fi, err)
	}
	localToken, _ := os.ReadFile(filepath.Join(dataDir, localTokenFile))

	// The local agent delivers within a few intervals and its host shows up online.
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, data := r.do(t, "GET", "/api/v1/hosts", nil, admin)
		var hosts struct {
			Hosts []struct{ System, Status string }
		}
		if code != 200 || json.Unmarshal(data, &hosts) != nil {
			t.Fatalf("hosts: %d %s", code, data)
		}
		if len(hosts.Hosts) == 1 && hosts.Hosts[0].Status == "online" {
			if hosts.Hosts[0].System != localSystem {
				t.Errorf("local host in system %q", hosts.Hosts[0].System)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the local agent's host did not come online: %s\nlogs:\n%s", data, r.logs)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if strings.Contains(r.logs.String(), strings.TrimSpace(string(localToken))) {
		t.Fatal("the local agent token reached the log")
	}
	r.stop(t)

	r2 := startUp(t, dataDir, users, true)
	defer r2.stop(t)
	code, data := r2.do(t, "GET", "/api/v1/agents", nil, admin)
	var agents struct{ Agents []struct{ System string } }
	if code != 200 || json.Unmarshal(data, &agents) != nil || len(agents.Agents) != 1 {
		t.Fatalf("agents after restart (want only the local one): %d %s", code, data)
	}
	again, _ := os.ReadFile(filepath.Join(dataDir, localTokenFile))
	if !bytes.Equal(again, localToken) {
		t.Fatal("the local agent was enrolled again on restart")
	}
}

func TestUpWithoutLocalAgentAndRevokedLocalAgent(t *testing.T) {
	dataDir := t.TempDir()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(dataDir, dbFile), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	token, err := localAgentToken(ctx, st, dataDir, log)
	if err != nil || token == "" {
		t.Fatalf("first local token: %q %v", token, err)
	}
	same, err := localAgentToken(ctx, st, dataDir, log)
	if err != nil || same != token {
		t.Fatalf("second call must reuse the token: %v", err)
	}
	agents, _ := st.ListAgents(ctx)
	if err := st.RevokeAgent(ctx, agents[0].ID); err != nil {
		t.Fatal(err)
	}
	if tok, err := localAgentToken(ctx, st, dataDir, log); err != nil || tok != "" {
		t.Fatalf("revoked local agent: %q %v, want no token", tok, err)
	}
	// A token the database does not know (the database was replaced) enrolls a new agent.
	if err := writeSecret(filepath.Join(dataDir, localTokenFile), "zz_stale"); err != nil {
		t.Fatal(err)
	}
	if tok, err := localAgentToken(ctx, st, dataDir, log); err != nil || tok == "" || tok == token {
		t.Fatalf("unknown token: %q %v, want a new one", tok, err)
	}
	st.Close()
}

func TestSelfURL(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:8080": "http://127.0.0.1:8080",
		"0.0.0.0:8080":   "http://127.0.0.1:8080",
		"[::]:8080":      "http://[::1]:8080",
		"10.1.2.3:80":    "http://10.1.2.3:80",
	} {
		addr, err := net.ResolveTCPAddr("tcp", in)
		if err != nil {
			t.Fatal(err)
		}
		if got := selfURL(addr, false); got != want {
			t.Errorf("selfURL(%s) = %s, want %s", in, got, want)
		}
	}
}

// run executes the CLI with args and returns its output.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := newRootCmd(&out, &errOut)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func TestAgentsCommands(t *testing.T) {
	dataDir := t.TempDir()
	if _, err := run(t, "agents", "list", "--data", dataDir); err == nil || !strings.Contains(err.Error(), "no database") {
		t.Fatalf("list without a database: %v", err)
	}
	st, err := store.Open(context.Background(), filepath.Join(dataDir, dbFile), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()

	out, err := run(t, "agents", "add", "--system", "不动产登记", "--department", "自然资源局", "--data", dataDir)
	if err != nil {
		t.Fatal(err)
	}
	id := regexp.MustCompile(`agent:\s+(\S+)`).FindStringSubmatch(out)
	token := regexp.MustCompile(`token:\s+(\S+)`).FindStringSubmatch(out)
	if id == nil || token == nil || !strings.Contains(out, "/etc/zhizhi/agent.token") || !strings.Contains(out, "chmod 600") {
		t.Fatalf("add printed:\n%s", out)
	}
	if _, err := run(t, "agents", "add", "--system", "x", "--data", dataDir); err == nil {
		t.Fatal("add without --department succeeded")
	}

	// The token works against the store.
	st, _ = store.Open(context.Background(), filepath.Join(dataDir, dbFile), store.Options{})
	if a, err := st.AuthenticateAgent(context.Background(), token[1]); err != nil || a.ID != id[1] {
		t.Fatalf("printed token does not authenticate: %v", err)
	}
	st.Close()

	out, err = run(t, "agents", "list", "--data", dataDir)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[1], id[1]) ||
		!strings.Contains(lines[1], "不动产登记") || !strings.Contains(lines[1], "never") || strings.Contains(out, token[1]) {
		t.Fatalf("list:\n%s", out)
	}

	if out, err = run(t, "agents", "revoke", id[1], "--data", dataDir); err != nil || !strings.Contains(out, "revoked") {
		t.Fatalf("revoke: %v %s", err, out)
	}
	if _, err = run(t, "agents", "revoke", "ag-nosuchagent0", "--data", dataDir); err == nil || !strings.Contains(err.Error(), "no agent") {
		t.Fatalf("revoke unknown: %v", err)
	}
	out, _ = run(t, "agents", "list", "--data", dataDir)
	if fields := strings.Fields(strings.Split(strings.TrimSpace(out), "\n")[1]); fields[len(fields)-1] == "-" {
		t.Fatalf("list does not show the revocation:\n%s", out)
	}
}

func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"up", "--help"}, {"agents", "--help"}, {"agents", "add", "--help"},
		{"agents", "list", "--help"}, {"agents", "revoke", "--help"}, {"version", "--help"},
		{"users", "--help"}, {"users", "add", "--help"}, {"users", "list", "--help"}, {"users", "passwd", "--help"},
		{"users", "disable", "--help"},
	} {
		out, err := run(t, args...)
		if err != nil || !strings.Contains(out, "Usage:") {
			t.Errorf("%v: %v\n%s", args, err, out)
		}
	}
	out, err := run(t, "up", "--help")
	if err != nil || !strings.Contains(out, "--no-local-agent") || !strings.Contains(out, "127.0.0.1:8080") {
		t.Errorf("up --help:\n%s", out)
	}
	out, err = run(t, "version")
	if err != nil || !strings.HasPrefix(out, "zhizhi dev (go") {
		t.Errorf("version: %q %v", out, err)
	}
	if _, err := run(t, "--log-level", "loud", "version"); err == nil {
		t.Error("bad --log-level accepted")
	}
}

package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"zhizhi/agent/config"
	"zhizhi/agent/wire"
)

const token = "zz_cmdtest_S3CRETs3cretS3CRET"

func TestBinaryLinksNoServerDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	forbidden := []string{"modernc.org/sqlite", "github.com/sashabaranov/go-openai", "go-mail", "excelize",
		"zhizhi/collector", "zhizhi/server", "zhizhi/analyzer", "zhizhi/alerts",
		// agent/metrics writes the Prometheus text format itself: client_golang and its protobuf runtime cost ~3 MB.
		"github.com/prometheus/", "google.golang.org/protobuf"}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("suspiciously few deps: %v", deps)
	}
	for _, d := range deps {
		for _, f := range forbidden {
			if strings.Contains(d, f) {
				t.Errorf("zhizhi-agent links %s", d)
			}
		}
	}
}

// maxBinaryBytes is the size budget of the stripped agent binary: it is copied to hundreds of government servers.
const maxBinaryBytes = 8 << 20

// TestBinarySize builds the release binary the way the Makefile does and fails when it exceeds the budget.
func TestBinarySize(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "zhizhi-agent")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	fi, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stripped zhizhi-agent: %d bytes (%.2f MiB), budget %d", fi.Size(), float64(fi.Size())/(1<<20), maxBinaryBytes)
	if fi.Size() > maxBinaryBytes {
		t.Errorf("stripped zhizhi-agent is %d bytes (%.2f MiB), over the %d-byte budget by %d bytes",
			fi.Size(), float64(fi.Size())/(1<<20), maxBinaryBytes, fi.Size()-maxBinaryBytes)
	}
}

// execute runs the CLI in-process with ctx.
func execute(ctx context.Context, env map[string]string, args ...string) (stdout, stderr string, err error) {
	var o, e bytes.Buffer
	root := newRoot(&o, &e, func(k string) string { return env[k] })
	root.SetArgs(args)
	err = root.ExecuteContext(ctx)
	return o.String(), e.String(), err
}

// fakeServer answers /healthz and the ingest endpoint; refuse makes every ingest a 401.
type fakeServer struct {
	mu      sync.Mutex
	refuse  bool
	samples int
	batches int
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/healthz":
		_, _ = w.Write([]byte("ok"))
	case wire.IngestPath:
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.refuse || r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(wire.Error{Error: "unknown agent token"})
			return
		}
		zr, err := gzip.NewReader(r.Body)
		var b wire.Batch
		if err == nil {
			err = json.NewDecoder(zr).Decode(&b)
		}
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		f.batches++
		f.samples += len(b.Samples)
		_ = json.NewEncoder(w).Encode(wire.Ack{Accepted: len(b.Samples)})
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeServer) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.samples
}

// setup writes a config and token file for url and returns the config path.
func setup(t *testing.T, url string, extra string) string {
	t.Helper()
	dir := t.TempDir()
	tf := filepath.Join(dir, "agent.token")
	if err := os.WriteFile(tf, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cf := filepath.Join(dir, "agent.yaml")
	y := "server: " + url + "\ntoken_file: " + tf + "\ninterval: 1s\nspool:\n  dir: " + filepath.Join(dir, "spool") + "\n" + extra
	if err := os.WriteFile(cf, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	return cf
}

func TestCheck(t *testing.T) {
	srv := &fakeServer{}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	cf := setup(t, hs.URL, "")
	out, _, err := execute(context.Background(), nil, "check", "--config", cf)
	if err != nil || !strings.Contains(out, "agent id cmdtest") || !strings.HasSuffix(out, "OK\n") {
		t.Fatalf("check: %v\n%s", err, out)
	}

	srv.refuse = true
	out, errOut, err := execute(context.Background(), nil, "check", "--config", cf)
	if err == nil || !strings.Contains(errOut, "refused the token") || strings.Contains(out+errOut, "S3CRET") {
		t.Fatalf("refused token: %v\n%s\n%s", err, out, errOut)
	}

	hs.Close()
	if _, errOut, err = execute(context.Background(), nil, "check", "--config", cf); err == nil ||
		!strings.Contains(errOut, "unreachable") {
		t.Fatalf("server down: %v %s", err, errOut)
	}

	if err := os.Chmod(filepath.Join(filepath.Dir(cf), "agent.token"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut, err = execute(context.Background(), nil, "check", "--config", cf); err == nil ||
		!strings.Contains(errOut, "chmod 600") {
		t.Fatalf("open token file: %v %s", err, errOut)
	}
}

func TestConfigErrorsNameLine(t *testing.T) {
	cf := setup(t, "http://127.0.0.1:1", "send:\n  timeout: forever\n")
	_, errOut, err := execute(context.Background(), nil, "check", "--config", cf)
	if err == nil || !strings.Contains(errOut, cf+":7: send.timeout:") {
		t.Fatalf("%v %s", err, errOut)
	}
	_, errOut, err = execute(context.Background(), nil, "run", "--config", filepath.Join(t.TempDir(), "none.yaml"))
	if err == nil || !strings.Contains(errOut, "no such file") {
		t.Fatalf("%v %s", err, errOut)
	}
}

func TestRunDeliversAndStopsOnCancel(t *testing.T) {
	srv := &fakeServer{}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	cf := setup(t, hs.URL, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		errOut string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		_, e, err := execute(ctx, map[string]string{config.EnvLogLevel: "debug"}, "run", "--config", cf)
		done <- result{e, err}
	}()
	deadline := time.Now().Add(15 * time.Second)
	for srv.count() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("no samples delivered")
		}
		time.Sleep(20 * time.Millisecond)
	}
	start := time.Now()
	cancel()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatalf("run: %v\n%s", r.err, r.errOut)
		}
		if strings.Contains(r.errOut, "S3CRET") || !strings.Contains(r.errOut, "level=DEBUG") ||
			!strings.Contains(r.errOut, "agent stopped") {
			t.Fatalf("log:\n%s", r.errOut)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not stop")
	}
	if took := time.Since(start); took > 4*time.Second {
		t.Fatalf("stop took %v", took)
	}
}

func TestOncePrintsRealSample(t *testing.T) {
	_, _, err := execute(context.Background(), nil, "once", "--config", filepath.Join(t.TempDir(), "absent.yaml"))
	if err == nil {
		t.Fatal("an explicit --config that does not exist must fail")
	}
	// A file without server or token is enough.
	cf := filepath.Join(t.TempDir(), "collect.yaml")
	if err := os.WriteFile(cf, []byte("collect:\n  network:\n    exclude_interfaces: [eth9]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := execute(context.Background(), nil, "once", "--config", cf)
	if err != nil {
		t.Fatalf("once: %v\n%s", err, errOut)
	}
	var s wire.Sample
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("not a sample: %v\n%s", err, out)
	}
	if s.CPU == nil || s.Memory == nil || s.IntervalSeconds < 0.9 || s.Memory.TotalBytes == 0 {
		t.Fatalf("sample lacks real deltas: %s", out)
	}
	if !strings.Contains(out, "\n  \"cpu\"") {
		t.Fatalf("not indented:\n%s", out)
	}
}

func TestSmallCommands(t *testing.T) {
	out, _, err := execute(context.Background(), nil, "sample-config")
	if err != nil || out != string(config.Sample) {
		t.Fatalf("sample-config: %v", err)
	}
	out, _, err = execute(context.Background(), nil, "version")
	if err != nil || !strings.HasPrefix(out, "zhizhi-agent ") {
		t.Fatalf("version: %q %v", out, err)
	}
	for _, c := range []string{"run", "once", "check", "version", "sample-config"} {
		out, _, err := execute(context.Background(), nil, c, "--help")
		if err != nil || !strings.Contains(out, "Usage:") || !strings.Contains(out, "--config") ||
			!strings.Contains(out, "--log-level") {
			t.Fatalf("%s --help: %v\n%s", c, err, out)
		}
	}
	if _, _, err := execute(context.Background(), nil, "run", "extra"); err == nil {
		t.Fatal("stray argument accepted")
	}
}

func TestNewLogger(t *testing.T) {
	var b bytes.Buffer
	l, err := newLogger(&b, "warn", "json")
	if err != nil {
		t.Fatal(err)
	}
	l.Info("hidden")
	l.Warn("shown")
	if strings.Contains(b.String(), "hidden") || !strings.Contains(b.String(), `"msg":"shown"`) {
		t.Fatalf("got %s", b.String())
	}
	if _, err := newLogger(&b, "loud", "text"); err == nil {
		t.Fatal("bad level accepted")
	}
}

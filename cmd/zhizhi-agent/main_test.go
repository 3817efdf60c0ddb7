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
	"runtime/debug"
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
		"github.com/prometheus/", "google.golang.org/protobuf",
		// The standard flag package and yaml.v3 replace these, ~750 KB of the size budget.
		"github.com/spf13/cobra", "github.com/spf13/pflag", "github.com/goccy/go-yaml", "text/template"}
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

// execute runs the CLI in-process with ctx and returns its output and exit status.
func execute(ctx context.Context, env map[string]string, args ...string) (stdout, stderr string, code int) {
	var o, e bytes.Buffer
	code = runContext(ctx, args, &o, &e, func(k string) string { return env[k] })
	return o.String(), e.String(), code
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
	out, _, code := execute(context.Background(), nil, "check", "--config", cf)
	if code != 0 || !strings.Contains(out, "agent id cmdtest") || !strings.HasSuffix(out, "OK\n") {
		t.Fatalf("check: exit %d\n%s", code, out)
	}

	srv.refuse = true
	out, errOut, code := execute(context.Background(), nil, "check", "--config", cf)
	if code != 1 || !strings.Contains(errOut, "refused the token") || strings.Contains(out+errOut, "S3CRET") {
		t.Fatalf("refused token: exit %d\n%s\n%s", code, out, errOut)
	}

	hs.Close()
	if _, errOut, code = execute(context.Background(), nil, "check", "--config", cf); code != 1 ||
		!strings.Contains(errOut, "unreachable") {
		t.Fatalf("server down: exit %d %s", code, errOut)
	}

	if err := os.Chmod(filepath.Join(filepath.Dir(cf), "agent.token"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code = execute(context.Background(), nil, "check", "--config", cf); code != 1 ||
		!strings.Contains(errOut, "chmod 600") {
		t.Fatalf("open token file: exit %d %s", code, errOut)
	}
}

func TestConfigErrorsNameLine(t *testing.T) {
	cf := setup(t, "http://127.0.0.1:1", "send:\n  timeout: forever\n")
	_, errOut, code := execute(context.Background(), nil, "check", "--config", cf)
	if code != 1 || !strings.Contains(errOut, cf+":7: send.timeout:") {
		t.Fatalf("exit %d %s", code, errOut)
	}
	_, errOut, code = execute(context.Background(), nil, "run", "--config", filepath.Join(t.TempDir(), "none.yaml"))
	if code != 1 || !strings.Contains(errOut, "no such file") {
		t.Fatalf("exit %d %s", code, errOut)
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
		code   int
	}
	done := make(chan result, 1)
	go func() {
		_, e, code := execute(ctx, map[string]string{config.EnvLogLevel: "debug"}, "run", "--config", cf)
		done <- result{e, code}
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
		if r.code != 0 {
			t.Fatalf("run: exit %d\n%s", r.code, r.errOut)
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
	_, _, code := execute(context.Background(), nil, "once", "--config", filepath.Join(t.TempDir(), "absent.yaml"))
	if code != 1 {
		t.Fatalf("an explicit --config that does not exist must fail, got exit %d", code)
	}
	// A file without server or token is enough.
	cf := filepath.Join(t.TempDir(), "collect.yaml")
	if err := os.WriteFile(cf, []byte("collect:\n  network:\n    exclude_interfaces: [eth9]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := execute(context.Background(), nil, "once", "--config", cf)
	if code != 0 {
		t.Fatalf("once: exit %d\n%s", code, errOut)
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
	out, _, code := execute(context.Background(), nil, "sample-config")
	if code != 0 || out != string(config.Sample) {
		t.Fatalf("sample-config: exit %d", code)
	}
	out, _, code = execute(context.Background(), nil, "version")
	if code != 0 || !strings.HasPrefix(out, "zhizhi-agent ") {
		t.Fatalf("version: %q exit %d", out, code)
	}
	for _, c := range []string{"run", "once", "check", "version", "sample-config"} {
		out, _, code := execute(context.Background(), nil, c, "--help")
		if code != 0 || !strings.Contains(out, "Usage:") || !strings.Contains(out, "--config") ||
			!strings.Contains(out, "--log-level") {
			t.Fatalf("%s --help: exit %d\n%s", c, code, out)
		}
	}
	if _, errOut, code := execute(context.Background(), nil, "run", "extra"); code != 2 ||
		!strings.Contains(errOut, `run takes no arguments, got "extra"`) || !strings.Contains(errOut, "Usage:") {
		t.Fatalf("stray argument: exit %d\n%s", code, errOut)
	}
}

func TestHelp(t *testing.T) {
	ctx := context.Background()
	root, _, code := execute(ctx, nil, "--help")
	if code != 0 || !strings.Contains(root, "Usage:") || !strings.Contains(root, "ZHIZHI_AGENT_SERVER") {
		t.Fatalf("--help: exit %d\n%s", code, root)
	}
	for _, args := range [][]string{{}, {"-h"}, {"help"}, {"--config", "/x", "--help"}} {
		if out, errOut, code := execute(ctx, nil, args...); code != 0 || out != root || errOut != "" {
			t.Errorf("%q: exit %d, differs from --help:\n%s%s", args, code, out, errOut)
		}
	}
	c := &cli{}
	cmds := append(c.commands(nil), installCommands(nil)...)
	if len(cmds) != 7 {
		t.Fatalf("%d commands", len(cmds))
	}
	for _, cmd := range cmds {
		if !strings.Contains(root, "  "+cmd.name+" ") || !strings.Contains(root, cmd.short) {
			t.Errorf("root help lacks %s: %q", cmd.name, cmd.short)
		}
		help, _, code := execute(ctx, nil, cmd.name, "--help")
		desc := cmd.long
		if desc == "" {
			desc = cmd.short
		}
		if code != 0 || !strings.HasPrefix(help, desc+"\n") || !strings.Contains(help, "zhizhi-agent "+cmd.name+" [flags]") ||
			!strings.Contains(help, "Global Flags:") || !strings.Contains(help, `--config string      configuration file (default "/etc/zhizhi/agent.yaml")`) {
			t.Errorf("%s --help: exit %d\n%s", cmd.name, code, help)
		}
		for _, args := range [][]string{{cmd.name, "-h"}, {"help", cmd.name}, {"--log-level", "warn", cmd.name, "--help"}} {
			if out, _, code := execute(ctx, nil, args...); code != 0 || out != help {
				t.Errorf("%q: exit %d, differs from --help:\n%s", args, code, out)
			}
		}
	}
	inst, _, _ := execute(ctx, nil, "install", "--help")
	for _, want := range []string{"Examples:\n  zhizhi-agent install --server", "--token-file string", "`zhizhi agents add`",
		"--interval duration", "(default 15s)", "--dry-run  ", "-h, --help"} {
		if !strings.Contains(inst, want) {
			t.Errorf("install --help lacks %q:\n%s", want, inst)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	f := func(want string, args ...string) {
		t.Helper()
		out, errOut, code := execute(context.Background(), nil, args...)
		if code != 2 || out != "" || !strings.HasPrefix(errOut, "zhizhi-agent: "+want) || !strings.Contains(errOut, "\nUsage:\n") {
			t.Errorf("%q: exit %d\nstdout %q\nstderr %s", args, code, out, errOut)
		}
	}
	f(`unknown command "frobnicate"`, "frobnicate")
	f(`unknown command "frobnicate"`, "--config", "/x", "frobnicate")
	f("flag provided but not defined: -verbose", "--verbose", "run")
	f("flag provided but not defined: -verbose", "run", "--verbose")
	f("flag provided but not defined: -purge", "install", "--purge")
	f(`invalid value "soon" for flag -interval`, "install", "--interval", "soon")
	f("flag needs an argument: -config", "check", "--config")
	f(`unknown help topic "frobnicate"`, "help", "frobnicate")
	f(`version takes no arguments, got "now"`, "version", "now")
	// The command's usage, not the program's, follows an error in the command's flags.
	if _, errOut, _ := execute(context.Background(), nil, "uninstall", "--bogus"); !strings.Contains(errOut, "--purge") {
		t.Errorf("uninstall usage missing:\n%s", errOut)
	}
}

func TestGlobalFlagsBeforeOrAfterCommand(t *testing.T) {
	cf := setup(t, "http://127.0.0.1:1", "send:\n  timeout: forever\n")
	for _, args := range [][]string{{"--config", cf, "check"}, {"check", "--config", cf}, {"--config=/none", "check", "--config=" + cf}} {
		if _, errOut, code := execute(context.Background(), nil, args...); code != 1 || !strings.Contains(errOut, cf+":7: send.timeout:") {
			t.Errorf("%q: exit %d %s", args, code, errOut)
		}
	}
	good := setup(t, "http://127.0.0.1:1", "")
	for _, args := range [][]string{{"--log-level", "loud", "check", "--config", good}, {"check", "--config", good, "--log-level=loud"}} {
		if _, errOut, code := execute(context.Background(), nil, args...); code != 1 || !strings.Contains(errOut, `log level "loud"`) {
			t.Errorf("%q: exit %d %s", args, code, errOut)
		}
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

// The agent's GC default applies only when GOGC is not set in the environment, and it sets no memory limit.
func TestTuneGC(t *testing.T) {
	origPct := debug.SetGCPercent(100)
	origLim := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetGCPercent(origPct); debug.SetMemoryLimit(origLim) })
	for _, tc := range []struct {
		name    string
		env     map[string]string
		wantPct int
	}{
		{"default", nil, defaultGCPercent},
		{"GOGC set", map[string]string{"GOGC": "100"}, 77},
		{"GOGC off", map[string]string{"GOGC": "off"}, 77},
	} {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetGCPercent(77) // stand-in for what the runtime read from GOGC at start
			debug.SetMemoryLimit(99 << 20)
			tuneGC(func(k string) string { return tc.env[k] })
			if got := debug.SetGCPercent(77); got != tc.wantPct {
				t.Errorf("GC percent %d, want %d", got, tc.wantPct)
			}
			if got := debug.SetMemoryLimit(-1); got != 99<<20 {
				t.Errorf("memory limit changed to %d", got)
			}
		})
	}
}

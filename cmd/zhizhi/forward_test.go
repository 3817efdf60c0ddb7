package main

import (
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// TestUpForwardsToEngine runs `zhizhi up` with forwarding to a fake InfluxDB v2 endpoint: the local agent's
// samples arrive with the token from the 0600 file, the counters are on /metrics, the token is not logged.
func TestUpForwardsToEngine(t *testing.T) {
	const token = "tok-Secret-123"
	var mu sync.Mutex
	var bodies []string
	var auths []string
	eng := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		b, _ := io.ReadAll(body)
		mu.Lock()
		bodies = append(bodies, r.URL.Path+"?"+r.URL.RawQuery+"\n"+string(b))
		auths = append(auths, r.Header.Get("Authorization"))
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer eng.Close()
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "forward.token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	logs := &syncBuffer{}
	addr := make(chan net.Addr, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fs := pflag.NewFlagSet("up", pflag.ContinueOnError)
	cfg := upConfig{
		dataDir: filepath.Join(dir, "data"), listen: "127.0.0.1:0", out: &syncBuffer{},
		log:           slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		agentInterval: time.Second,
		ready:         func(a net.Addr) { addr <- a },
	}
	cfg.forward.register(fs)
	if err := fs.Parse([]string{"--forward-url", eng.URL, "--forward-org", "district", "--forward-bucket", "zhizhi",
		"--forward-token-file", tokenFile}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- runUp(ctx, cfg) }()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a.String()
	case err := <-done:
		t.Fatalf("up failed: %v\n%s", err, logs)
	case <-time.After(20 * time.Second):
		t.Fatal("up did not start")
	}

	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		got := strings.Join(bodies, "\n")
		mu.Unlock()
		if strings.Contains(got, "zhizhi_host,agent_id=") && strings.Contains(got, "cpu_busy_pct=") {
			if !strings.Contains(got, "/api/v2/write?") || !strings.Contains(got, "org=district") ||
				!strings.Contains(got, "bucket=zhizhi") || !strings.Contains(got, "precision=ms") {
				t.Fatalf("write request: %s", got)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no sample forwarded within 20 s; got %q\nlogs:\n%s", got, logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	if auths[0] != "Token "+token {
		t.Errorf("Authorization %q, want the token from the file", auths[0])
	}
	mu.Unlock()

	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{"zhizhi_forward_backlog_samples", "zhizhi_forward_sent_samples_total",
		"zhizhi_forward_dropped_samples_total 0", "zhizhi_forward_errors_total 0"} {
		if !strings.Contains(string(metrics), m) {
			t.Errorf("/metrics lacks %q", m)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("up returned %v", err)
	}
	if strings.Contains(logs.String(), token) {
		t.Fatal("the forward token reached the log")
	}
}

func TestForwardFlags(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good", "abc\n", 0o600)
	open := write("open", "abc\n", 0o644)
	empty := write("empty", "\n", 0o600)
	parse := func(t *testing.T, env map[string]string, args ...string) forwardFlags {
		t.Helper()
		for k, v := range env {
			t.Setenv(k, v)
		}
		var f forwardFlags
		fs := pflag.NewFlagSet("up", pflag.ContinueOnError)
		f.register(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		return f
	}
	cases := []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr string
		check   func(t *testing.T, f forwardFlags)
	}{
		{name: "off by default", check: func(t *testing.T, f forwardFlags) {
			if w, err := f.forwarder(nil, nil); w != nil || err != nil {
				t.Errorf("forwarder without a URL: %v, %v", w, err)
			}
		}},
		{name: "token file 0600", args: []string{"--forward-url", "http://127.0.0.1:1", "--forward-token-file", good}},
		{name: "token file readable by others", args: []string{"--forward-url", "http://x:1", "--forward-token-file", open}, wantErr: "want 0600"},
		{name: "empty token file", args: []string{"--forward-url", "http://x:1", "--forward-token-file", empty}, wantErr: "empty"},
		{name: "missing token file", args: []string{"--forward-url", "http://x:1", "--forward-token-file", filepath.Join(dir, "nope")}, wantErr: "no such file"},
		{name: "bad url", args: []string{"--forward-url", "influx:8086"}, wantErr: "forward url"},
		{name: "environment", env: map[string]string{envForwardURL: "http://vm:8428", envForwardBucket: "b", envForwardMaxAge: "2h",
			envForwardMaxRows: "42"}, check: func(t *testing.T, f forwardFlags) {
			if f.url != "http://vm:8428" || f.bucket != "b" || f.maxAge != 2*time.Hour || f.maxRows != 42 {
				t.Errorf("flags from the environment: %+v", f)
			}
		}},
		{name: "flags override the environment", env: map[string]string{envForwardURL: "http://vm:8428"},
			args: []string{"--forward-url", "http://other:8086"}, check: func(t *testing.T, f forwardFlags) {
				if f.url != "http://other:8086" {
					t.Errorf("url %q", f.url)
				}
			}},
		{name: "bad environment value", env: map[string]string{envForwardURL: "http://vm:8428", envForwardMaxAge: "a day"}, wantErr: envForwardMaxAge},
		{name: "zero bound", args: []string{"--forward-url", "http://vm:8428", "--forward-max-rows", "0"}, wantErr: "must be positive"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := parse(t, c.env, c.args...)
			if c.check != nil {
				c.check(t, f)
				return
			}
			w, err := f.forwarder(nil, nil)
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, c.wantErr)
			case c.wantErr == "" && w == nil:
				t.Fatal("no forwarder")
			}
			if w != nil {
				w.f.Close()
			}
		})
	}
}

// Package testbin builds zhizhi's real binaries and runs them as child processes for end-to-end tests.
package testbin

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Target is a platform to build for.
type Target struct{ GOOS, GOARCH string }

// String returns "goos/goarch".
func (t Target) String() string { return t.GOOS + "/" + t.GOARCH }

// Root returns the module root (the directory holding go.mod).
func Root(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" || strings.TrimSpace(string(out)) == os.DevNull {
		t.Fatalf("go env GOMOD: %v %q", err, out)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

// Build compiles the main package pkg (e.g. "./cmd/zhizhi-agent", relative to the module root) for target
// into out the way releases are built: CGO_ENABLED=0, -trimpath, -ldflags "-s -w". The Go build cache is
// reused, so a second build of unchanged code only links.
func Build(ctx context.Context, root, pkg string, target Target, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+target.GOOS, "GOARCH="+target.GOARCH)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s for %s: %w\n%s", pkg, target, err, b)
	}
	return nil
}

// Job is one binary to build.
type Job struct {
	Pkg    string // e.g. ./cmd/zhizhi
	Target Target
	Out    string // output path
}

// BuildAll runs the jobs with at most parallel builds at a time and returns the first error of each failed
// job (nil for a job that succeeded), in job order.
func BuildAll(ctx context.Context, root string, parallel int, jobs []Job) []error {
	errs := make([]error, len(jobs))
	sem := make(chan struct{}, max(parallel, 1))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = Build(ctx, root, j.Pkg, j.Target, j.Out)
		})
	}
	wg.Wait()
	return errs
}

// FreeAddr returns a loopback address with a port that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// Proc is a child process whose combined output is kept for failure messages.
type Proc struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  strings.Builder
	done chan struct{}
	err  error
}

// Start starts name with args (and extra environment) and stops it with SIGTERM at the end of the test.
func Start(t testing.TB, env []string, name string, args ...string) *Proc {
	t.Helper()
	p := &Proc{cmd: exec.Command(name, args...), done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stdout, p.cmd.Stderr = pw, pw
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	pw.Close()
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.out.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
		}
		pr.Close()
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if err := p.Stop(10 * time.Second); err != nil {
			t.Logf("%s: %v", name, err)
		}
	})
	return p
}

// Output returns what the process printed so far.
func (p *Proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM, waits up to grace for the exit (then kills) and returns the exit error.
func (p *Proc) Stop(grace time.Duration) error {
	if !p.Exited() {
		p.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-p.done:
		return p.err
	case <-time.After(grace):
		p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("did not stop within %s after SIGTERM: %w", grace, p.err)
	}
}

// WaitHTTP polls url until it answers 200 or timeout passes; it fails the test early if p exited.
func WaitHTTP(t testing.TB, p *Proc, url string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		if p != nil && p.Exited() {
			t.Fatalf("process exited before %s answered: %v\n%s", url, p.err, p.Output())
		}
		if time.Now().After(deadline) {
			out := ""
			if p != nil {
				out = p.Output()
			}
			t.Fatalf("%s did not answer 200 within %s: %v\n%s", url, timeout, err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Enroll runs `zhizhi agents add` with the server binary on dataDir and returns the printed token.
func Enroll(t testing.TB, zhizhi, dataDir, system, department string) string {
	t.Helper()
	out, err := exec.Command(zhizhi, "agents", "add", "--data", dataDir, "--system", system, "--department", department).CombinedOutput()
	if err != nil {
		t.Fatalf("zhizhi agents add: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "token:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no token in:\n%s", out)
	return ""
}

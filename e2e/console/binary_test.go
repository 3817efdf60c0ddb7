package consolee2e

import (
	"bytes"
	"context"
	"net/http"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"zhizhi/internal/testbin"

	"github.com/chromedp/chromedp"

	"zhizhi/collector/store"
)

// syncBuffer is a bytes.Buffer safe for a process's output and the test reading it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// buildZhizhi builds cmd/zhizhi into a temporary directory and returns the binary's path.
func buildZhizhi(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "zhizhi")
	host := testbin.Target{GOOS: goruntime.GOOS, GOARCH: goruntime.GOARCH}
	if err := testbin.Build(context.Background(), testbin.Root(t), "./cmd/zhizhi", host, bin); err != nil {
		t.Fatal(err)
	}
	return bin
}

// zhizhi runs the binary with args (and stdin) to completion and returns its output.
func zhizhi(t *testing.T, bin, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("zhizhi %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// startDistrict builds zhizhi, fills a data directory with `zhizhi demo`, adds the test users with
// `zhizhi users add` and serves it with `zhizhi up`, stopped (SIGINT) when the test ends.
func startDistrict(t *testing.T) *district {
	t.Helper()
	bin := buildZhizhi(t)
	dataDir := filepath.Join(t.TempDir(), "data")

	start := time.Now()
	out := zhizhi(t, bin, "", "demo", "--data", dataDir)
	t.Logf("zhizhi demo took %v: %s", time.Since(start).Round(time.Millisecond), lastLine(out))

	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(dataDir, "zhizhi.db"), store.Options{})
	if err != nil {
		t.Fatalf("open the demo store: %v", err)
	}
	d := facts(ctx, t, st)
	if err := st.Close(); err != nil {
		t.Fatalf("close the demo store: %v", err)
	}

	addUser := func(name, role string, extra ...string) {
		t.Helper()
		args := append([]string{"users", "add", "--data", dataDir, "--role", role, "--password-stdin"}, extra...)
		zhizhi(t, bin, password+"\n", append(args, name)...)
	}
	addUser(userAdmin, "admin")
	addUser(userAnalyst, "analyst")
	addUser(userDept, "department", "--department", d.ownDept)

	addr := testbin.FreeAddr(t)
	var output syncBuffer
	cmd := exec.Command(bin, "up", "--data", dataDir, "--listen", addr, "--no-local-agent")
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Start(); err != nil {
		t.Fatalf("zhizhi up: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGINT)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("zhizhi up exited with %v\n%s", err, output.String())
			}
			// Every request of the walk must have been served without a logged error.
			for _, line := range strings.Split(output.String(), "\n") {
				if strings.Contains(line, "level=ERROR") {
					t.Errorf("zhizhi up logged an error: %s", line)
				}
			}
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			t.Errorf("zhizhi up did not stop within 20 s of SIGINT\n%s", output.String())
		}
	})
	d.url = "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(d.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("zhizhi up exited: %v\n%s", err, output.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("zhizhi up not ready on %s after 30 s (%v)\n%s", addr, err, output.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return &d
}

// login visits next anonymously, which must lead to the login form, signs user in through the form and
// checks that it lands on next.
func login(t *testing.T, b *browser, base, user, next string) {
	t.Helper()
	b.open(base + next)
	if loc := eval[string](b, `location.pathname`); loc != "/login" {
		t.Fatalf("anonymous visit to %s shows %s, want the login page", next, loc)
	}
	b.screenshot("login")
	checkPage(t, b, "login", false)
	b.do("fill the login form",
		chromedp.SendKeys(chromedp.CSS(`input[name="username"]`), user),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), password),
	)
	b.clickAndWait(`form.login-form button[type="submit"]`)
	if loc := eval[string](b, `location.pathname + location.search`); loc != next {
		msg := eval[string](b, `(document.querySelector('.login-error') || {}).textContent || ''`)
		t.Fatalf("after signing in as %s: at %s (%s), want %s", user, loc, msg, next)
	}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

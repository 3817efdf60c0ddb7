package systemd

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// directives returns the values of every `key=` line of unit.
func directives(unit []byte, key string) []string {
	var out []string
	for _, line := range strings.Split(string(unit), "\n") {
		if v, ok := strings.CutPrefix(line, key+"="); ok {
			out = append(out, v)
		}
	}
	return out
}

// syscallSet expands seccomp groups (@name) and names into the set of system calls, with systemd-analyze.
func syscallSet(t *testing.T, items []string) map[string]bool {
	t.Helper()
	set := map[string]bool{}
	var add func(item string)
	add = func(item string) {
		if !strings.HasPrefix(item, "@") {
			set[item] = true
			return
		}
		out, err := exec.Command("systemd-analyze", "syscall-filter", item).Output()
		if err != nil {
			t.Fatalf("systemd-analyze syscall-filter %s: %v", item, err)
		}
		sc := bufio.NewScanner(bytes.NewReader(out))
		sc.Scan() // the group's own name
		for sc.Scan() {
			f := strings.TrimSpace(sc.Text())
			if f != "" && !strings.HasPrefix(f, "#") {
				add(f)
			}
		}
	}
	for _, it := range items {
		add(it)
	}
	if len(set) == 0 {
		t.Fatalf("empty syscall set for %q", items)
	}
	return set
}

// TestAgentFitsSandbox runs the real agent's `zhizhi-agent once` as an unprivileged user under strace and
// checks that every system call it makes passes the unit's SystemCallFilter and every socket family it opens
// is in RestrictAddressFamilies, so the hardened unit cannot break collection.
func TestAgentFitsSandbox(t *testing.T) {
	dir, err := os.MkdirTemp("", "zhizhi-sandbox-") // directly under /tmp: t.TempDir's parent is 0700
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "zhizhi-agent")
	build := exec.Command("go", "build", "-o", bin, "zhizhi/cmd/zhizhi-agent")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build zhizhi-agent: %v\n%s", err, out)
	}
	if err := os.Chmod(dir, 0o755); err != nil { // the agent runs as nobody
		t.Fatal(err)
	}
	// An explicit configuration: the packaging test may have installed /etc/zhizhi/agent.yaml (0640,
	// unreadable by nobody) at the same time.
	cfg := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(cfg, []byte("log:\n  level: warn\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	trace := filepath.Join(dir, "trace")
	if out, err := exec.Command("strace", "-f", "-qq", "-u", "nobody", "-o", trace, bin, "once", "--config", cfg).CombinedOutput(); err != nil {
		t.Fatalf("zhizhi-agent once under strace: %v\n%s", err, out)
	}
	data, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	var allow, deny []string
	for _, v := range directives(AgentUnit, "SystemCallFilter") {
		if d, ok := strings.CutPrefix(v, "~"); ok {
			deny = append(deny, strings.Fields(d)...)
		} else {
			allow = append(allow, strings.Fields(v)...)
		}
	}
	allowed, denied := syscallSet(t, allow), syscallSet(t, deny)
	families := strings.Fields(strings.Join(directives(AgentUnit, "RestrictAddressFamilies"), " "))
	callRE := regexp.MustCompile(`^\d+\s+([a-z0-9_]+)\(`)
	socketRE := regexp.MustCompile(`socket\((AF_[A-Z0-9]+)`)
	var calls []string
	for _, line := range strings.Split(string(data), "\n") {
		m := callRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if !slices.Contains(calls, m[1]) {
			calls = append(calls, m[1])
		}
		if f := socketRE.FindStringSubmatch(line); f != nil && !slices.Contains(families, f[1]) {
			t.Errorf("agent opens an %s socket, not in RestrictAddressFamilies %v", f[1], families)
		}
	}
	if len(calls) < 10 {
		t.Fatalf("trace has only %d system calls: %q", len(calls), calls)
	}
	for _, c := range calls {
		if c == "execve" { // strace's own exec of the agent, before the service would run
			continue
		}
		if !allowed[c] || denied[c] {
			t.Errorf("system call %s is refused by the unit's SystemCallFilter", c)
		}
	}
}

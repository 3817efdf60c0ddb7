package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runAgentCmd runs the CLI in-process and returns stdout and stderr together, and the exit status.
func runAgentCmd(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb, func(string) string { return "" })
	return out.String() + errb.String(), code
}

func TestInstallDryRunAndRoot(t *testing.T) {
	dir := t.TempDir()
	tok := filepath.Join(dir, "agent.token")
	if err := os.WriteFile(tok, []byte("zz_ag-aaaaaaaaaaaa_c2VjcmV0c2VjcmV0c2VjcmV0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code := runAgentCmd(t, "install", "--server", "http://127.0.0.1:8080", "--token-file", tok, "--dry-run")
	if code != 0 {
		t.Fatalf("dry run: exit %d\n%s", code, out)
	}
	for _, want := range []string{"useradd", "/etc/zhizhi/agent.yaml", "systemctl enable zhizhi-agent.service"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run does not mention %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "c2VjcmV0") {
		t.Errorf("dry run prints the token:\n%s", out)
	}

	root := filepath.Join(dir, "root")
	if out, code := runAgentCmd(t, "install", "--server", "http://127.0.0.1:8080", "--token-file", tok, "--root", root); code != 0 {
		t.Fatalf("install --root: exit %d\n%s", code, out)
	}
	st, err := os.Stat(filepath.Join(root, "etc/zhizhi/agent.token"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("token in root: %v %v", st, err)
	}
	for _, p := range []string{"etc/zhizhi/agent.yaml", "etc/systemd/system/zhizhi-agent.service", "usr/bin/zhizhi-agent"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Errorf("missing %s: %v", p, err)
		}
	}
	if out, code := runAgentCmd(t, "uninstall", "--purge", "--root", root); code != 0 {
		t.Fatalf("uninstall: exit %d\n%s", code, out)
	}
	for _, p := range []string{"etc/zhizhi/agent.token", "etc/systemd/system/zhizhi-agent.service", "usr/bin/zhizhi-agent"} {
		if _, err := os.Stat(filepath.Join(root, p)); !os.IsNotExist(err) {
			t.Errorf("%s left after uninstall --purge: %v", p, err)
		}
	}
	if out, code := runAgentCmd(t, "install", "--token-file", tok, "--dry-run"); code != 1 || !strings.Contains(out, "server") {
		t.Errorf("install without --server: exit %d, out %s", code, out)
	}
}

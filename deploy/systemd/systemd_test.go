package systemd

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// verify runs `systemd-analyze verify` on unit (named name) with its ExecStart binary replaced by an executable
// stub in a temporary directory, and returns every output line that mentions the unit.
func verify(t *testing.T, name string, unit []byte, binary string) []string {
	t.Helper()
	dir := t.TempDir()
	stub := filepath.Join(dir, filepath.Base(binary))
	if err := os.WriteFile(stub, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(unit, []byte("ExecStart="+binary+" ")) {
		t.Fatalf("%s: ExecStart does not start %s", name, binary)
	}
	unit = bytes.ReplaceAll(unit, []byte("ExecStart="+binary+" "), []byte("ExecStart="+stub+" "))
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, unit, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("systemd-analyze", "verify", "--man=no", path).CombinedOutput()
	var complaints []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, name) {
			complaints = append(complaints, line)
		}
	}
	if err != nil && len(complaints) == 0 {
		complaints = append(complaints, "systemd-analyze: "+err.Error()+": "+string(out))
	}
	return complaints
}

func TestUnitsVerify(t *testing.T) {
	tests := []struct {
		name, binary string
		unit         []byte
	}{
		{AgentUnitName, "/usr/bin/zhizhi-agent", AgentUnit},
		{ServerUnitName, "/usr/bin/zhizhi", ServerUnit},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := verify(t, tc.name, tc.unit, tc.binary); len(got) > 0 {
				t.Errorf("systemd-analyze verify complains:\n%s", strings.Join(got, "\n"))
			}
		})
	}
}

// TestVerifyCatchesMistakes proves the check above can fail: a misspelt directive and a bad value are reported.
func TestVerifyCatchesMistakes(t *testing.T) {
	bad := bytes.Replace(AgentUnit, []byte("ProtectHome=read-only"), []byte("ProtectHome=maybe\nProtectKernelTunable=yes"), 1)
	got := verify(t, AgentUnitName, bad, "/usr/bin/zhizhi-agent")
	if len(got) != 2 {
		t.Fatalf("want 2 complaints (bad value, unknown key), got %d: %q", len(got), got)
	}
}

// TestHardening pins the sandbox settings the deploy issue requires, so a relaxed unit fails review here.
func TestHardening(t *testing.T) {
	common := []string{
		"NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes", "CapabilityBoundingSet=\n",
		"AmbientCapabilities=\n", "ProtectKernelTunables=yes", "ProtectControlGroups=yes",
		"SystemCallArchitectures=native",
		"Restart=on-failure", "RestartSec=", "LimitNOFILE=", "TimeoutStopSec=10",
	}
	tests := []struct {
		name  string
		unit  []byte
		extra []string
	}{
		{AgentUnitName, AgentUnit, []string{"User=zhizhi-agent", "ProtectHome=read-only",
			"StateDirectory=zhizhi-agent", "ReadWritePaths=/var/lib/zhizhi-agent\n",
			"RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK\n"}},
		{ServerUnitName, ServerUnit, []string{"User=zhizhi", "ProtectHome=read-only",
			"StateDirectory=zhizhi", "ReadWritePaths=/var/lib/zhizhi\n",
			"RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK\n"}},
	}
	for _, tc := range tests {
		for _, want := range append(common, tc.extra...) {
			if !bytes.Contains(tc.unit, []byte("\n"+want)) {
				t.Errorf("%s: missing %q", tc.name, want)
			}
		}
		if n := bytes.Count(tc.unit, []byte("\nReadWritePaths=")); n != 1 {
			t.Errorf("%s: %d ReadWritePaths lines, want 1", tc.name, n)
		}
		if bytes.Contains(tc.unit, []byte("StandardOutput=")) || bytes.Contains(tc.unit, []byte("StandardError=")) {
			t.Errorf("%s: logs must go to journald (the default)", tc.name)
		}
	}
}

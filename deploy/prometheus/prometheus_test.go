package prometheus

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigValid runs Debian's `promtool check config` on prometheus.yml, and on a broken copy to prove the
// check can fail.
func TestConfigValid(t *testing.T) {
	if out, err := exec.Command("promtool", "check", "config", "prometheus.yml").CombinedOutput(); err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}
	good, err := os.ReadFile("prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, job := range []string{"job_name: zhizhi-agent", "job_name: zhizhi\n", "remote_write:"} {
		if !strings.Contains(string(good), job) {
			t.Errorf("prometheus.yml lacks %q", job)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.yml")
	os.WriteFile(bad, []byte(strings.Replace(string(good), "scrape_interval: 15s", "scrape_interval: soon", 1)), 0o644)
	if err := exec.Command("promtool", "check", "config", bad).Run(); err == nil {
		t.Error("promtool accepted a broken config")
	}
}

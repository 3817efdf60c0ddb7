package console

import (
	"encoding/json"
	"io/fs"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestEChartsVersion checks that the embedded echarts.min.js is the version web/package-lock.json pins, so a
// refresh of one without the other (scripts/build-assets.sh) cannot drift silently.
func TestEChartsVersion(t *testing.T) {
	js, err := fs.ReadFile(staticFS, "static/vendor/echarts.min.js")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`\.version="(\d+\.\d+\.\d+[^"]*)"`).FindSubmatch(js)
	if m == nil {
		t.Fatal("no version in the embedded echarts.min.js")
	}
	embedded := string(m[1])

	raw, err := os.ReadFile("../../web/package-lock.json")
	if err != nil {
		t.Fatal(err)
	}
	var lock struct {
		Packages map[string]struct {
			Version string `json:"version"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(raw, &lock); err != nil {
		t.Fatalf("package-lock.json: %v", err)
	}
	locked := lock.Packages["node_modules/echarts"].Version
	if locked == "" {
		t.Fatal("package-lock.json does not pin echarts")
	}
	if embedded != locked {
		t.Errorf("embedded echarts %s, package-lock.json pins %s: run scripts/build-assets.sh", embedded, locked)
	}
	if !strings.HasPrefix(locked, "6.") {
		t.Errorf("echarts %s, want 6.x", locked)
	}
	for _, f := range []string{"static/vendor/echarts.LICENSE", "static/vendor/echarts.NOTICE"} {
		b, err := fs.ReadFile(staticFS, f)
		if err != nil || !strings.Contains(string(b), "Apache") {
			t.Errorf("%s: %v", f, err)
		}
	}
}

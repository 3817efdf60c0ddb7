package grafana

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"

	"zhizhi/agent/wire"
	"zhizhi/analyzer/findingsmetrics"
	"zhizhi/analyzer/report"
)

// TestCommittedDashboardsAreCurrent regenerates the dashboards and fails on any difference from the files in
// dashboards/ (run `make dashboards` after changing the generator).
func TestCommittedDashboardsAreCurrent(t *testing.T) {
	dir := t.TempDir()
	if err := Write(dir); err != nil {
		t.Fatal(err)
	}
	fresh, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	committed, _ := filepath.Glob(filepath.Join("dashboards", "*.json"))
	names := func(paths []string) (out []string) {
		for _, p := range paths {
			out = append(out, filepath.Base(p))
		}
		return out
	}
	if !slices.Equal(names(fresh), names(committed)) {
		t.Fatalf("generated %q, committed %q", names(fresh), names(committed))
	}
	for _, p := range fresh {
		want, err := os.ReadFile(filepath.Join("dashboards", filepath.Base(p)))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(p)
		if !bytes.Equal(got, want) {
			t.Errorf("dashboards/%s is stale: run `go run ./deploy/grafana/gen`", filepath.Base(p))
		}
	}
}

// TestDashboardsQueryRealSeries checks every dashboard decodes strictly as a Grafana dashboard, queries only
// the zhizhi-vm datasource, and names only series that the server forwards or the agent/server export.
func TestDashboardsQueryRealSeries(t *testing.T) {
	files, err := Render()
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, m := range wire.HostMetrics {
		known["zhizhi_host_"+strings.ReplaceAll(m, ".", "_")] = true
	}
	for _, m := range []string{"zhizhi_fs_used_pct", "zhizhi_fs_used_bytes", "zhizhi_fs_total_bytes",
		"zhizhi_agent_spool_bytes", "zhizhi_agent_samples_dropped_total", "zhizhi_agent_send_errors_total",
		"zhizhi_agent_collect_duration_seconds_bucket", "zhizhi_ingest_requests_total",
		"zhizhi_ingest_duration_seconds_bucket", "zhizhi_agents"} {
		known[m] = true
	}
	for _, m := range findingsmetrics.Names {
		known[m] = true
	}
	seriesRE := regexp.MustCompile(`zhizhi_[a-z0-9_]+(\$\{metric\})?`)
	for name, data := range files {
		var d dashboard.Dashboard
		// The SDK returns an empty cog.BuildErrors (a non-nil interface) on success.
		if err := d.UnmarshalJSONStrict(data); err != nil && err.Error() != "" {
			t.Errorf("%s: %v", name, err)
			continue
		}
		var raw map[string]any
		json.Unmarshal(data, &raw)
		var exprs []string
		var walk func(v any)
		walk = func(v any) {
			switch v := v.(type) {
			case map[string]any:
				if e, ok := v["expr"].(string); ok {
					exprs = append(exprs, e)
				}
				if dsv, ok := v["datasource"].(map[string]any); ok && dsv["uid"] != DatasourceUID {
					t.Errorf("%s: datasource %v", name, dsv)
				}
				for _, x := range v {
					walk(x)
				}
			case []any:
				for _, x := range v {
					walk(x)
				}
			}
		}
		walk(raw)
		if len(exprs) == 0 {
			t.Errorf("%s: no queries", name)
		}
		for _, e := range exprs {
			for _, s := range seriesRE.FindAllString(e, -1) {
				if strings.HasSuffix(s, "${metric}") {
					for _, m := range []string{"cpu_busy_pct", "mem_used_pct", "fs_max_used_pct", "swap_used_pct"} {
						if !known["zhizhi_host_"+m] {
							t.Errorf("%s: $metric option %s is not forwarded", name, m)
						}
					}
					continue
				}
				if !known[s] {
					t.Errorf("%s: unknown series %s in %q", name, s, e)
				}
			}
		}
	}
}

func TestAnnualHeatmap(t *testing.T) {
	d, err := annual().Build()
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(d)
	var got struct {
		Panels []struct {
			Type            string
			Transformations []struct{ ID string }
			Options         struct {
				Calculate bool
				Color     struct {
					Mode  string
					Steps int
				}
				FilterValues map[string]any
			}
			Targets []struct{ Expr, LegendFormat, Interval string }
		}
	}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Panels) != 1 || got.Panels[0].Type != "heatmap" {
		t.Fatalf("panels: %+v", got.Panels)
	}
	p := got.Panels[0]
	if p.Options.Calculate || p.Options.Color.Mode != "scheme" || p.Options.Color.Steps < 2 {
		t.Errorf("options: %+v", p.Options)
	}
	if len(p.Options.FilterValues) != 0 {
		t.Errorf("filterValues %v hides idle days", p.Options.FilterValues)
	}
	if len(p.Transformations) != 1 || p.Transformations[0].ID != "joinByField" {
		t.Errorf("rows frame needs one frame joined on time: %+v", p.Transformations)
	}
	if tg := p.Targets[0]; tg.LegendFormat != "{{system}}" || tg.Interval != "1d" || !strings.Contains(tg.Expr, "by (system)") {
		t.Errorf("target %+v: want one row per system and one column per day", tg)
	}
}

// TestFindingsDashboard checks the findings dashboard: a stat panel per finding kind the analyzer lists, the
// table of hosts from zhizhi_finding_info, and a bar gauge per department of each resource freed.
func TestFindingsDashboard(t *testing.T) {
	d, err := findings().Build()
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(d)
	var got struct {
		Panels []struct {
			Type, Title string
			Targets     []struct {
				Expr, LegendFormat string
				Instant            bool
			}
			Options struct{ Orientation string }
		}
	}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	var stats, tables, gauges []string
	for _, p := range got.Panels {
		if len(p.Targets) == 0 {
			continue
		}
		e := p.Targets[0].Expr
		switch p.Type {
		case "stat":
			stats = append(stats, e)
		case "table":
			tables = append(tables, e)
		case "bargauge":
			gauges = append(gauges, e)
			if tg := p.Targets[0]; !tg.Instant || tg.LegendFormat != "{{department}}" || p.Options.Orientation != "horizontal" {
				t.Errorf("bar gauge %q: target %+v orientation %q, want one instant bar per department", p.Title, tg, p.Options.Orientation)
			}
		}
	}
	for _, k := range report.Kinds {
		want := `kind="` + string(k) + `", status="open"`
		if !slices.ContainsFunc(stats, func(e string) bool { return strings.Contains(e, want) }) {
			t.Errorf("no stat panel counts open %s findings: %q", k, stats)
		}
	}
	if len(tables) != 1 || !strings.HasPrefix(tables[0], findingsmetrics.InfoName+"{") {
		t.Errorf("tables %q, want one of %s", tables, findingsmetrics.InfoName)
	}
	for _, m := range []string{findingsmetrics.FreesVCPUName, findingsmetrics.FreesMemoryName, findingsmetrics.FreesStorageName} {
		if !slices.ContainsFunc(gauges, func(e string) bool { return strings.Contains(e, "by (department) ("+m+"{") }) {
			t.Errorf("no bar gauge of %s per department: %q", m, gauges)
		}
	}
}

// Package grafana builds zhizhi's Grafana dashboards (fleet overview, annual heatmap, agent health, findings) as JSON.
package grafana

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/grafana/grafana-foundation-sdk/go/bargauge"
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/heatmap"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"zhizhi/analyzer/detect"
	"zhizhi/analyzer/findingsmetrics"
)

// DatasourceUID is the uid of the VictoriaMetrics datasource (Prometheus type) that every panel queries; the
// provisioning file deploy/grafana/provisioning/datasources/zhizhi.yaml declares it.
const DatasourceUID = "zhizhi-vm"

// Host series as the server forwards them to VictoriaMetrics through InfluxDB line protocol: measurement
// zhizhi_host, field = wire metric name with '.' replaced by '_', tags host, agent_id, system, department;
// per filesystem zhizhi_fs_<field> with the extra tag mount.
const (
	hostPrefix = "zhizhi_host_"
	fsPrefix   = "zhizhi_fs_"
)

// filter selects the series chosen by the dashboard variables.
const filter = `{department=~"$department", system=~"$system", host=~"$host"}`

func ds() common.DataSourceRef {
	typ, uid := "prometheus", DatasourceUID
	return common.DataSourceRef{Type: &typ, Uid: &uid}
}

func query(ref, expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().Datasource(ds()).RefId(ref).Expr(expr).LegendFormat(legend)
}

func instant(ref, expr string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().Datasource(ds()).RefId(ref).Expr(expr).Instant().
		Format(prometheus.PromQueryFormatTable)
}

func ptr[T any](v T) *T { return &v }

func thresholds(warn, crit float64) *dashboard.ThresholdsConfigBuilder {
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps([]dashboard.Threshold{
		{Value: nil, Color: "green"}, {Value: ptr(warn), Color: "orange"}, {Value: ptr(crit), Color: "red"},
	})
}

func labelVar(name, label, metric, match string) *dashboard.QueryVariableBuilder {
	q := fmt.Sprintf("label_values(%s%s, %s)", metric, match, name)
	return dashboard.NewQueryVariableBuilder(name).Label(label).Datasource(ds()).
		Query(dashboard.StringOrMap{Map: map[string]any{"query": q, "refId": "vars"}}).Definition(q).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).Sort(dashboard.VariableSortAlphabeticalAsc).
		Multi(true).IncludeAll(true).AllValue(".*")
}

// filterVars are department → system → host, each narrowed by the ones before it.
func filterVars(b *dashboard.DashboardBuilder) *dashboard.DashboardBuilder {
	m := hostPrefix + "cpu_busy_pct"
	return b.WithVariable(labelVar("department", "部门 Department", m, "")).
		WithVariable(labelVar("system", "系统 System", m, `{department=~"$department"}`)).
		WithVariable(labelVar("host", "主机 Host", m, `{department=~"$department", system=~"$system"}`))
}

func series(title, unit, expr, legend string) *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().Title(title).Unit(unit).Datasource(ds()).Height(8).Span(12).
		FillOpacity(10).LineWidth(1).WithTarget(query("A", expr, legend))
}

// fleet is the fleet overview: every host's CPU, memory and fullest disk now and over time.
func fleet() *dashboard.DashboardBuilder {
	busiest := func(m string) string {
		return fmt.Sprintf("topk(10, avg by (host, system) (%s%s%s))", hostPrefix, m, filter)
	}
	b := dashboard.NewDashboardBuilder("zhizhi · Fleet overview").Uid("zhizhi-fleet").
		Tags([]string{"zhizhi"}).Refresh("1m").Time("now-6h", "now").Timezone(common.TimeZoneBrowser).Editable()
	b = filterVars(b)
	b = b.WithRow(dashboard.NewRowBuilder("Now"))
	for _, s := range []struct{ title, metric string }{
		{"Hosts reporting", "count(" + hostPrefix + "cpu_busy_pct" + filter + ")"},
		{"Mean CPU busy", "avg(" + hostPrefix + "cpu_busy_pct" + filter + ")"},
		{"Mean memory used", "avg(" + hostPrefix + "mem_used_pct" + filter + ")"},
		{"Fullest disk", "max(" + hostPrefix + "fs_max_used_pct" + filter + ")"},
	} {
		p := stat.NewPanelBuilder().Title(s.title).Datasource(ds()).Height(4).Span(6).
			WithTarget(query("A", s.metric, "")).GraphMode(common.BigValueGraphModeArea).
			ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}))
		if s.title != "Hosts reporting" {
			p = p.Unit("percent").Min(0).Max(100).Thresholds(thresholds(70, 90))
		}
		b = b.WithPanel(p)
	}
	b = b.WithPanel(table.NewPanelBuilder().Title("Hosts by CPU, memory and fullest disk").Datasource(ds()).
		Height(10).Span(24).Unit("percent").Thresholds(thresholds(70, 90)).
		WithTarget(instant("CPU", "avg by (host, system, department) ("+hostPrefix+"cpu_busy_pct"+filter+")")).
		WithTarget(instant("MEM", "avg by (host, system, department) ("+hostPrefix+"mem_used_pct"+filter+")")).
		WithTarget(instant("DISK", "max by (host, system, department) ("+hostPrefix+"fs_max_used_pct"+filter+")")).
		WithTransformation(dashboard.DataTransformerConfig{Id: "merge", Options: map[string]any{}}).
		WithTransformation(dashboard.DataTransformerConfig{Id: "organize", Options: map[string]any{
			"excludeByName": map[string]any{"Time": true},
			"renameByName": map[string]any{"Value #CPU": "CPU busy %", "Value #MEM": "Memory used %",
				"Value #DISK": "Fullest disk %", "host": "Host", "system": "System", "department": "Department"},
		}}).
		SortBy([]cog.Builder[common.TableSortByFieldState]{
			common.NewTableSortByFieldStateBuilder().DisplayName("CPU busy %").Desc(true)}))
	b = b.WithRow(dashboard.NewRowBuilder("Over time (10 busiest)")).
		WithPanel(series("CPU busy", "percent", busiest("cpu_busy_pct"), "{{host}} ({{system}})")).
		WithPanel(series("Memory used", "percent", busiest("mem_used_pct"), "{{host}} ({{system}})")).
		WithPanel(series("Fullest filesystem", "percent", busiest("fs_max_used_pct"), "{{host}} ({{system}})")).
		WithPanel(series("Filesystems over 80 %", "percent",
			fsPrefix+`used_pct{department=~"$department", system=~"$system", host=~"$host"} > 80`, "{{host}}:{{mount}}")).
		WithPanel(series("Load (1 min)", "short", busiest("load_1"), "{{host}}")).
		WithPanel(series("Inbound connections", "short", busiest("conn_inbound"), "{{host}}"))
	return b
}

// annual is the annual resource heatmap: one row per system, one column per day, coloured by the day's mean.
func annual() *dashboard.DashboardBuilder {
	b := dashboard.NewDashboardBuilder("zhizhi · Annual resource heatmap").Uid("zhizhi-annual").
		Tags([]string{"zhizhi"}).Time("now-1y", "now").Timezone(common.TimeZoneBrowser).Editable().
		WithVariable(dashboard.NewCustomVariableBuilder("metric").Label("指标 Metric").
			Values(dashboard.StringOrMap{String: ptr("cpu_busy_pct,mem_used_pct,fs_max_used_pct,swap_used_pct")}).
			Current(dashboard.VariableOption{Text: dashboard.StringOrArrayOfString{String: ptr("cpu_busy_pct")},
				Value: dashboard.StringOrArrayOfString{String: ptr("cpu_busy_pct")}}))
	b = filterVars(b)
	expr := fmt.Sprintf("avg by (system) (avg_over_time(%s${metric}%s[1d]))", hostPrefix, filter)
	return b.WithPanel(heatmap.NewPanelBuilder().
		Title("Daily mean of $metric per system").
		Description("Rows are systems (政务信息化系统), columns are days; a pale row is an idle (zombie) candidate, a dark one is overloaded.").
		Datasource(ds()).Height(20).Span(24).Interval("1d").MaxDataPoints(400).
		WithTarget(query("A", expr, "{{system}}").Interval("1d")).
		// One frame per system joined on time: first field X (the day), every other field a row.
		WithTransformation(dashboard.DataTransformerConfig{Id: "joinByField", Options: map[string]any{"byField": "Time", "mode": "outer"}}).
		Calculate(false).
		RowsFrame(heatmap.NewRowsHeatmapOptionsBuilder().Layout(common.HeatmapCellLayoutUnknown).Value("$metric")).
		Color(heatmap.NewHeatmapColorOptionsBuilder().Mode(heatmap.HeatmapColorModeScheme).Scheme("RdYlGn").
			Reverse(true).Scale(heatmap.HeatmapColorScaleLinear).Steps(64).Min(0).Max(100).Fill("dark-orange").Exponent(0.5)).
		CellGap(1).
		// Keep zero-valued days visible: an idle system's 0 % is the signal, not noise to filter.
		FilterValues(heatmap.NewFilterValueRangeBuilder()).
		Tooltip(heatmap.NewHeatmapTooltipBuilder().Mode(common.TooltipDisplayModeSingle).ShowColorScale(true)).
		YAxis(heatmap.NewYAxisConfigBuilder().AxisPlacement(common.AxisPlacementLeft)).
		ShowLegend().Unit("percent"))
}

// health is the agent health dashboard, from the agent's and the server's own Prometheus metrics.
func health() *dashboard.DashboardBuilder {
	b := dashboard.NewDashboardBuilder("zhizhi · Agent health").Uid("zhizhi-health").
		Tags([]string{"zhizhi"}).Refresh("1m").Time("now-6h", "now").Timezone(common.TimeZoneBrowser).Editable()
	b = b.WithRow(dashboard.NewRowBuilder("Server")).
		WithPanel(series("Agents by state", "short", "sum by (state) (zhizhi_agents)", "{{state}}")).
		WithPanel(series("Ingest requests by status", "reqps", "sum by (code) (rate(zhizhi_ingest_requests_total[$__rate_interval]))", "{{code}}")).
		WithPanel(series("Ingest latency", "s",
			"histogram_quantile(0.99, sum by (le) (rate(zhizhi_ingest_duration_seconds_bucket[$__rate_interval])))", "p99").
			WithTarget(query("B", "histogram_quantile(0.5, sum by (le) (rate(zhizhi_ingest_duration_seconds_bucket[$__rate_interval])))", "p50"))).
		WithPanel(series("Ingest errors (non-2xx share)", "percentunit",
			`sum(rate(zhizhi_ingest_requests_total{code!~"2.."}[$__rate_interval])) / sum(rate(zhizhi_ingest_requests_total[$__rate_interval]))`, "errors"))
	b = b.WithRow(dashboard.NewRowBuilder("Agents")).
		WithPanel(series("Spool backlog", "bytes", "topk(10, zhizhi_agent_spool_bytes)", "{{instance}}")).
		WithPanel(series("Samples dropped (spool full)", "short", "topk(10, increase(zhizhi_agent_samples_dropped_total[$__range]) > 0)", "{{instance}}")).
		WithPanel(series("Send errors", "short", "topk(10, rate(zhizhi_agent_send_errors_total[$__rate_interval]))", "{{instance}}")).
		WithPanel(series("Collection time p99 by family", "s",
			"histogram_quantile(0.99, sum by (le, family) (rate(zhizhi_agent_collect_duration_seconds_bucket[$__rate_interval])))", "{{family}}"))
	return b
}

// kindLabels are the finding kinds (most severe first) with their words in the console and reports, and the
// colour a dashboard shows them in.
var kindLabels = []struct {
	kind        detect.Kind
	title, col  string
	severe, bad bool // severe: red when any; bad: orange when any
}{
	{detect.KindComatose, "长期闲置 Comatose", "dark-red", true, true},
	{detect.KindZombie, "僵尸 Zombie", "red", true, true},
	{detect.KindOverloaded, "高负载 Overloaded", "purple", true, true},
	{detect.KindIdleCandidate, "闲置候选 Idle candidate", "orange", false, true},
	{detect.KindUnderused, "利用率低 Underused", "yellow", false, true},
	{detect.KindWatch, "关注 Watch", "blue", false, false},
	{detect.KindInsufficientData, "数据不足 Insufficient data", "text", false, false},
}

// findings is the analyzer's findings dashboard, from the server's zhizhi_findings* metrics (evaluated at most
// every 10 minutes; see analyzer/findingsmetrics).
func findings() *dashboard.DashboardBuilder {
	dept := `department=~"$department"`
	b := dashboard.NewDashboardBuilder("zhizhi · Findings").Uid("zhizhi-findings").
		Tags([]string{"zhizhi"}).Refresh("5m").Time("now-30d", "now").Timezone(common.TimeZoneBrowser).Editable().
		WithVariable(labelVar("department", "部门 Department", findingsmetrics.FindingsName, ""))
	b = b.WithRow(dashboard.NewRowBuilder("Hosts by finding (open)"))
	countStat := func(title, expr string, th *dashboard.ThresholdsConfigBuilder) *stat.PanelBuilder {
		return stat.NewPanelBuilder().Title(title).Datasource(ds()).Height(4).Span(6).
			WithTarget(instant("A", expr)).GraphMode(common.BigValueGraphModeNone).
			ColorMode(common.BigValueColorModeBackground).Unit("short").Decimals(0).Thresholds(th).
			ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}))
	}
	steps := func(color string) *dashboard.ThresholdsConfigBuilder {
		return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps([]dashboard.Threshold{
			{Value: nil, Color: "green"}, {Value: ptr(1.0), Color: color}})
	}
	var mapping dashboard.ValueMap
	mapping.Type = dashboard.MappingTypeValueToText
	mapping.Options = map[string]dashboard.ValueMappingResult{
		string(detect.StatusExcepted): {Text: ptr("已登记例外 excepted"), Color: ptr("blue"), Index: ptr(int32(len(kindLabels)))},
	}
	for i, k := range kindLabels {
		th := steps("blue")
		switch {
		case k.severe:
			th = steps("red")
		case k.bad:
			th = steps("orange")
		}
		b = b.WithPanel(countStat(k.title,
			fmt.Sprintf(`sum(%s{kind=%q, status="open", %s}) or vector(0)`, findingsmetrics.FindingsName, k.kind, dept), th))
		mapping.Options[string(k.kind)] = dashboard.ValueMappingResult{Text: ptr(k.title), Color: ptr(k.col), Index: ptr(int32(i))}
	}
	b = b.WithPanel(countStat("已登记例外 Excepted",
		fmt.Sprintf(`sum(%s{status="excepted", %s}) or vector(0)`, findingsmetrics.FindingsName, dept), steps("blue")))

	b = b.WithRow(dashboard.NewRowBuilder("Hosts with findings")).
		WithPanel(table.NewPanelBuilder().Title("Hosts with a finding (primary finding per host)").
			Description("One row per host whose most severe open finding (or, when all are excepted, most severe finding) is not ok. Evaluated by the zhizhi server at most every 10 minutes.").
			Datasource(ds()).Height(12).Span(24).
			WithTarget(instant("INFO", findingsmetrics.InfoName+"{"+dept+"}")).
			WithTransformation(dashboard.DataTransformerConfig{Id: "organize", Options: map[string]any{
				"excludeByName": map[string]any{"Time": true, "Value": true, "__name__": true, "instance": true,
					"job": true, "host_id": true},
				"indexByName": map[string]any{"department": 0, "system": 1, "host": 2, "kind": 3, "status": 4, "confidence": 5},
				"renameByName": map[string]any{"department": "Department", "system": "System", "host": "Host",
					"kind": "Kind", "status": "Status", "confidence": "Confidence"},
			}}).
			Mappings([]dashboard.ValueMapping{{ValueMap: &mapping}}).
			OverrideByName("Kind", []dashboard.DynamicConfigValue{
				{Id: "custom.cellOptions", Value: map[string]any{"type": "color-background"}}}).
			OverrideByName("Status", []dashboard.DynamicConfigValue{
				{Id: "custom.cellOptions", Value: map[string]any{"type": "color-text"}}}).
			SortBy([]cog.Builder[common.TableSortByFieldState]{
				common.NewTableSortByFieldStateBuilder().DisplayName("Department")}))

	b = b.WithRow(dashboard.NewRowBuilder("What acting on open idle and underused findings would free, per department"))
	for _, f := range []struct{ title, metric, unit string }{
		{"vCPU", findingsmetrics.FreesVCPUName, "short"},
		{"Memory", findingsmetrics.FreesMemoryName, "bytes"},
		{"Storage", findingsmetrics.FreesStorageName, "decbytes"},
	} {
		b = b.WithPanel(bargauge.NewPanelBuilder().Title("可释放 Frees: " + f.title).
			Description("Shutting down idle (idle-candidate, zombie, comatose) hosts frees the whole host; right-sizing underused hosts frees part of it. Excepted findings free nothing.").
			Datasource(ds()).Height(10).Span(8).Unit(f.unit).Min(0).
			WithTarget(query("A", fmt.Sprintf("sum by (department) (%s{%s})", f.metric, dept), "{{department}}").
				Instant().Format(prometheus.PromQueryFormatTimeSeries)).
			Orientation(common.VizOrientationHorizontal).DisplayMode(common.BarGaugeDisplayModeGradient).
			ShowUnfilled(true).Thresholds(dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).
			Steps([]dashboard.Threshold{{Value: nil, Color: "green"}})).
			ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Values(false)))
	}

	return b.WithRow(dashboard.NewRowBuilder("Over time")).
		WithPanel(series("Hosts with open findings by kind", "short",
			fmt.Sprintf(`sum by (kind) (%s{status="open", kind!=%q, %s})`, findingsmetrics.FindingsName, detect.KindOK, dept), "{{kind}}")).
		WithPanel(series("Age of the findings and evaluation time", "s",
			"time() - max("+findingsmetrics.EvaluatedName+")", "age of the findings").
			WithTarget(query("B", "max("+findingsmetrics.DurationName+")", "evaluation duration")))
}

// Builders lists the dashboards by file name.
func Builders() map[string]*dashboard.DashboardBuilder {
	return map[string]*dashboard.DashboardBuilder{
		"fleet-overview.json": fleet(),
		"annual-heatmap.json": annual(),
		"agent-health.json":   health(),
		"findings.json":       findings(),
	}
}

// Render builds every dashboard and returns its indented JSON (with a final newline) by file name.
func Render() (map[string][]byte, error) {
	out := map[string][]byte{}
	for name, b := range Builders() {
		d, err := b.Build()
		if err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", name, err)
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(d); err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", name, err)
		}
		out[name] = buf.Bytes()
	}
	return out, nil
}

// Write renders every dashboard into dir (created if missing).
func Write(dir string) error {
	files, err := Render()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("dashboards dir: %w", err)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return fmt.Errorf("write dashboard: %w", err)
		}
	}
	return nil
}

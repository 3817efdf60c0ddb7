package metrics

import (
	"bytes"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// clientGolangText renders fams with client_golang's registry and text encoder, the reference our writer
// must match byte for byte.
func clientGolangText(t *testing.T, fams []family) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	var metrics []prometheus.Metric
	for _, f := range fams {
		var names []string
		if len(f.series) > 0 {
			for _, l := range f.series[0].labels {
				names = append(names, l.name)
			}
		}
		d := prometheus.NewDesc(f.name, f.help, names, nil)
		for _, s := range f.series {
			var values []string
			for _, l := range s.labels {
				values = append(values, l.value)
			}
			switch f.kind {
			case kindHistogram:
				buckets := map[float64]uint64{}
				var cum uint64
				for i, b := range s.hist.bounds {
					cum += s.hist.counts[i]
					buckets[b] = cum
				}
				metrics = append(metrics, prometheus.MustNewConstHistogram(d, s.hist.count, s.hist.sum, buckets, values...))
			case kindCounter:
				metrics = append(metrics, prometheus.MustNewConstMetric(d, prometheus.CounterValue, s.value, values...))
			default:
				metrics = append(metrics, prometheus.MustNewConstMetric(d, prometheus.GaugeValue, s.value, values...))
			}
		}
	}
	reg.MustRegister(constCollector(metrics))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// constCollector is an unchecked collector of fixed metrics.
type constCollector []prometheus.Metric

func (c constCollector) Describe(chan<- *prometheus.Desc) {}

func (c constCollector) Collect(ch chan<- prometheus.Metric) {
	for _, m := range c {
		ch <- m
	}
}

func TestAppendTextMatchesClientGolang(t *testing.T) {
	ls := func(kv ...string) []label {
		var out []label
		for i := 0; i < len(kv); i += 2 {
			out = append(out, label{kv[i], kv[i+1]})
		}
		return out
	}
	hist := &histSnapshot{bounds: collectBuckets, counts: make([]uint64, len(collectBuckets)), sum: 7.25, count: 9}
	hist.counts[0], hist.counts[3], hist.counts[12] = 2, 3, 1 // 3 more above the last bound
	// Deliberately unsorted, families and series alike.
	fams := []family{
		{name: "z_values", help: `Odd floats; help with "quotes", a back\slash and a new` + "\nline.", kind: kindGauge,
			series: []series{
				{labels: ls("v", "nan"), value: math.NaN()},
				{labels: ls("v", "+inf"), value: math.Inf(1)},
				{labels: ls("v", "-inf"), value: math.Inf(-1)},
				{labels: ls("v", "-0"), value: math.Copysign(0, -1)},
				{labels: ls("v", "one"), value: 1},
				{labels: ls("v", "minus one"), value: -1},
				{labels: ls("v", "tenth"), value: 0.1},
				{labels: ls("v", "tiny"), value: 1e-7},
				{labels: ls("v", "huge"), value: 1e21},
				{labels: ls("v", "int"), value: 123456},
				{labels: ls("v", "big int"), value: 2147483648},
				{labels: ls("v", "max"), value: math.MaxFloat64},
				{labels: ls("v", "third"), value: 1.0 / 3},
			}},
		{name: "a_fs_bytes", help: "Filesystem bytes.", kind: kindGauge, series: []series{
			{labels: ls("device", `\\?\Volume{1f2e}\`, "fstype", "NTFS", "mount", `C:\`), value: 5},
			{labels: ls("device", "/dev/sdb1", "fstype", "ext4", "mount", `/mnt/a"b`), value: 4},
			{labels: ls("device", "/dev/sdc1", "fstype", "xfs", "mount", "/mnt/new\nline"), value: 3},
			{labels: ls("device", "/dev/sdd1", "fstype", "ext4", "mount", "/数据/备份"), value: 2},
			{labels: ls("device", "", "fstype", "", "mount", ""), value: 1},
		}},
		{name: "m_total", help: "", kind: kindCounter, series: []series{{value: 42}}},
		{name: "h_seconds", help: "A histogram.", kind: kindHistogram, series: []series{
			{labels: ls("family", "fs"), hist: hist},
			{labels: ls("family", "cpu"), hist: &histSnapshot{bounds: collectBuckets, counts: make([]uint64, len(collectBuckets))}},
		}},
	}
	want := clientGolangText(t, fams)
	got := string(appendText(nil, fams))
	if got != want {
		t.Fatalf("differs from client_golang\n--- got\n%s\n--- want\n%s", got, want)
	}
	for _, s := range []string{`mount="/mnt/a\"b"`, `mount="C:\\"`, `mount="/mnt/new\nline"`, `mount="/数据/备份"`,
		`device="\\\\?\\Volume{1f2e}\\"`, "# HELP z_values Odd floats; help with \"quotes\", a back\\\\slash and a new\\nline.",
		`{v="nan"} NaN`, `{v="+inf"} +Inf`, `{v="-inf"} -Inf`, `{v="-0"} 0`, `{v="huge"} 1e+21`,
		`{v="big int"} 2.147483648e+09`, `h_seconds_bucket{family="fs",le="+Inf"} 9`, `le="0.0005"`, "# TYPE m_total counter"} {
		if !strings.Contains(got, s) {
			t.Errorf("output lacks %s", s)
		}
	}
}

func TestAppendTextSanitizes(t *testing.T) {
	// GBK-encoded mount points are not UTF-8; two of them would collapse to the same label value.
	fams := []family{
		{name: "empty", help: "Never shown.", kind: kindGauge},
		{name: "fs", help: "Help with invalid \xff bytes.", kind: kindGauge, series: []series{
			{labels: []label{{"mount", "/mnt/\xb1\xb8\xb7\xdd"}}, value: 1},
			{labels: []label{{"mount", "/mnt/\xca\xfd\xbe\xdd"}}, value: 2},
			{labels: []label{{"mount", "/mnt/ok"}}, value: 3},
			{labels: []label{{"mount", "/mnt/ok"}}, value: 4},
		}},
	}
	got := string(appendText(nil, fams))
	want := "# HELP fs Help with invalid \uFFFD bytes.\n# TYPE fs gauge\nfs{mount=\"/mnt/ok\"} 3\nfs{mount=\"/mnt/\uFFFD\"} 1\n"
	if got != want {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	if _, err := p.TextToMetricFamilies(strings.NewReader(got)); err != nil {
		t.Fatalf("not parseable: %v", err)
	}
}

func TestAppendFloat(t *testing.T) {
	for _, c := range []struct {
		v    float64
		want string
	}{
		{0, "0"}, {math.Copysign(0, -1), "0"}, {1, "1"}, {-1, "-1"}, {0.25, "0.25"}, {1e-9, "1e-09"},
		{1700000015, "1.700000015e+09"}, {999999, "999999"}, {1e6, "1e+06"}, {math.NaN(), "NaN"},
		{math.Inf(1), "+Inf"}, {math.Inf(-1), "-Inf"}, {math.SmallestNonzeroFloat64, "5e-324"},
	} {
		if got := string(appendFloat(nil, c.v)); got != c.want {
			t.Errorf("appendFloat(%v) = %s, want %s", c.v, got, c.want)
		}
	}
}

func TestAppendEscaped(t *testing.T) {
	for _, c := range []struct {
		in          string
		quote       bool
		want        string
		description string
	}{
		{`a"b`, true, `a\"b`, "quote in a label value"},
		{`a"b`, false, `a"b`, "quote in help text"},
		{`C:\`, true, `C:\\`, "trailing backslash"},
		{"a\nb", false, `a\nb`, "newline"},
		{"a\tb\rc", true, "a\tb\rc", "other control characters pass"},
		{"以太网 2", true, "以太网 2", "Chinese"},
		{`\n`, true, `\\n`, "literal backslash n"},
	} {
		if got := string(appendEscaped(nil, c.in, c.quote)); got != c.want {
			t.Errorf("%s: got %s, want %s", c.description, got, c.want)
		}
	}
}

func TestCompareLabels(t *testing.T) {
	sets := [][]label{
		{{"a", "2"}}, {{"a", "1"}, {"b", "1"}}, {{"a", "1"}}, nil, {{"a", "1"}, {"b", "0"}},
	}
	slices.SortFunc(sets, compareLabels)
	want := [][]label{nil, {{"a", "1"}}, {{"a", "1"}, {"b", "0"}}, {{"a", "1"}, {"b", "1"}}, {{"a", "2"}}}
	for i := range want {
		if !slices.Equal(sets[i], want[i]) {
			t.Fatalf("sorted %v, want %v", sets, want)
		}
	}
}

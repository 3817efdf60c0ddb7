package metrics

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"zhizhi/agent/wire"
)

func intp(v int) *int { return &v }

// get requests the endpoint of srv with extra headers and returns the response and its body.
func get(t *testing.T, srv *httptest.Server, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %s: %s", resp.Status, b)
	}
	return resp, b
}

// scrape serves m on loopback and returns one uncompressed scrape.
func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	_, b := get(t, srv, map[string]string{"Accept-Encoding": "identity"})
	return string(b)
}

// parse parses an exposition strictly (legacy names, valid UTF-8, no duplicate families).
func parse(t *testing.T, text string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, text)
	}
	return fams
}

// lint fails t on every promlint problem.
func lint(t *testing.T, text string) {
	t.Helper()
	problems, err := promlint.New(strings.NewReader(text)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// canonical re-encodes text with client_golang's encoder after sorting families by name and metrics by label
// values, as client_golang's registry does; an exposition written the Prometheus way is its own canonical form.
func canonical(t *testing.T, text string) string {
	t.Helper()
	fams := parse(t, text)
	var b bytes.Buffer
	for _, name := range slices.Sorted(maps.Keys(fams)) {
		mf := fams[name]
		slices.SortStableFunc(mf.Metric, func(a, b *dto.Metric) int {
			for i := range min(len(a.Label), len(b.Label)) {
				if c := strings.Compare(a.Label[i].GetValue(), b.Label[i].GetValue()); c != 0 {
					return c
				}
			}
			return len(a.Label) - len(b.Label)
		})
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// find returns the metric of family name whose labels are exactly labels (name=value pairs), or nil.
func find(fams map[string]*dto.MetricFamily, name string, labels ...string) *dto.Metric {
	mf := fams[name]
	if mf == nil {
		return nil
	}
	for _, m := range mf.Metric {
		if len(m.Label) != len(labels)/2 {
			continue
		}
		want := map[string]string{}
		for i := 0; i < len(labels); i += 2 {
			want[labels[i]] = labels[i+1]
		}
		ok := true
		for _, l := range m.Label {
			if v, has := want[l.GetName()]; !has || v != l.GetValue() {
				ok = false
			}
		}
		if ok {
			return m
		}
	}
	return nil
}

// value returns a counter's or gauge's value.
func value(m *dto.Metric) float64 {
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}

func TestExposition(t *testing.T) {
	last := time.Unix(1700000000, 0)
	m := New("1.2.3", Sources{
		SpoolBytes: func() int64 { return 4096 }, SpoolRecords: func() int64 { return 7 },
		SamplesDropped: func() uint64 { return 2 }, SamplesSent: func() uint64 { return 100 },
		SamplesRejected: func() uint64 { return 1 }, SendErrors: func() uint64 { return 5 },
		CyclesSkipped: func() uint64 { return 3 }, LastSendSuccess: func() time.Time { return last },
	})
	out := scrape(t, m)
	if strings.Contains(out, "zhizhi_host_") || strings.Contains(out, "zhizhi_agent_collect_") {
		t.Fatalf("host or collect metrics before any sample:\n%s", out)
	}
	lint(t, out)
	uptime := uint64(86400)
	s := wire.Sample{
		Time:   time.Unix(1700000015, 0),
		CPU:    &wire.CPU{BusyPct: 25, IOWaitPct: 5, StealPct: 1.5},
		Load:   &wire.Load{Load1: 0.5, Load5: 0.25, Load15: 2},
		Memory: &wire.Memory{TotalBytes: 8 << 30, UsedBytes: 2 << 30, AvailableBytes: 6 << 30, UsedPct: 25},
		Swap:   &wire.Swap{TotalBytes: 1 << 30, UsedBytes: 1 << 20},
		FS: []wire.Filesystem{{Mount: "/", FSType: "ext4", Device: "/dev/vda1", TotalBytes: 100, UsedBytes: 40,
			FreeBytes: 60, UsedPct: 40, InodesUsedPct: 10}},
		Net:      []wire.NetIO{{Interface: "eth0", RxBytes: 1000, TxBytes: 10, RxErrors: 1, TxErrors: 2}},
		Disks:    []wire.DiskIO{{Device: "vda", ReadBytes: 512, WriteBytes: 1024}},
		Conns:    &wire.Conns{Established: 12, Inbound: 4, Listening: 3},
		Sessions: intp(2),
		Procs:    intp(88),
		Uptime:   &uptime,
	}
	m.SetSample(s)
	first := parse(t, scrape(t, m))
	if find(first, "zhizhi_host_filesystem_size_bytes", "mount", "/", "fstype", "ext4", "device", "/dev/vda1") == nil {
		t.Fatal("filesystem missing")
	}
	s.FS = nil // the filesystem disappears
	s.Net[0].RxBytes = 500
	s.Disks = nil // counters seen once stay
	m.SetSample(s)
	m.ObserveCollect("cpu", 2*time.Millisecond, nil)
	m.ObserveCollect("fs", time.Second, errors.New("timeout"))
	m.ObserveCollect("fs", 10*time.Second, nil)

	out = scrape(t, m)
	fams := parse(t, out)
	type want struct {
		name   string
		typ    dto.MetricType
		labels []string
		v      float64
	}
	G, C := dto.MetricType_GAUGE, dto.MetricType_COUNTER
	for _, w := range []want{
		{"zhizhi_host_sample_timestamp_seconds", G, nil, 1700000015},
		{"zhizhi_host_cpu_busy_ratio", G, nil, 0.25},
		{"zhizhi_host_cpu_iowait_ratio", G, nil, 0.05},
		{"zhizhi_host_cpu_steal_ratio", G, nil, 0.015},
		{"zhizhi_host_load1", G, nil, 0.5},
		{"zhizhi_host_load5", G, nil, 0.25},
		{"zhizhi_host_load15", G, nil, 2},
		{"zhizhi_host_memory_total_bytes", G, nil, 8 << 30},
		{"zhizhi_host_memory_used_bytes", G, nil, 2 << 30},
		{"zhizhi_host_memory_available_bytes", G, nil, 6 << 30},
		{"zhizhi_host_swap_total_bytes", G, nil, 1 << 30},
		{"zhizhi_host_swap_used_bytes", G, nil, 1 << 20},
		{"zhizhi_host_network_receive_bytes_total", C, []string{"interface", "eth0"}, 1500},
		{"zhizhi_host_network_transmit_bytes_total", C, []string{"interface", "eth0"}, 20},
		{"zhizhi_host_network_errors_total", C, []string{"interface", "eth0"}, 6},
		{"zhizhi_host_disk_read_bytes_total", C, []string{"device", "vda"}, 512},
		{"zhizhi_host_disk_written_bytes_total", C, []string{"device", "vda"}, 1024},
		{"zhizhi_host_tcp_connections_established", G, nil, 12},
		{"zhizhi_host_tcp_connections_inbound", G, nil, 4},
		{"zhizhi_host_tcp_listening_ports", G, nil, 3},
		{"zhizhi_host_sessions", G, nil, 2},
		{"zhizhi_host_processes", G, nil, 88},
		{"zhizhi_host_uptime_seconds", G, nil, 86400},
		{"zhizhi_agent_spool_bytes", G, nil, 4096},
		{"zhizhi_agent_spool_records", G, nil, 7},
		{"zhizhi_agent_last_send_success_timestamp_seconds", G, nil, 1.7e9},
		{"zhizhi_agent_samples_sent_total", C, nil, 100},
		{"zhizhi_agent_samples_dropped_total", C, nil, 2},
		{"zhizhi_agent_samples_rejected_total", C, nil, 1},
		{"zhizhi_agent_send_errors_total", C, nil, 5},
		{"zhizhi_agent_cycles_skipped_total", C, nil, 3},
		{"zhizhi_agent_samples_collected_total", C, nil, 2},
		{"zhizhi_agent_collect_errors_total", C, []string{"family", "fs"}, 1},
		{"zhizhi_agent_build_info", G, []string{"version", "1.2.3", "goversion", runtime.Version()}, 1},
	} {
		mf := fams[w.name]
		if mf == nil {
			t.Errorf("%s missing", w.name)
			continue
		}
		if mf.GetType() != w.typ || mf.GetHelp() == "" {
			t.Errorf("%s: type %s help %q", w.name, mf.GetType(), mf.GetHelp())
		}
		if len(mf.Metric) != 1 {
			t.Errorf("%s: %d series", w.name, len(mf.Metric))
		}
		if mt := find(fams, w.name, w.labels...); mt == nil {
			t.Errorf("%s%v missing", w.name, w.labels)
		} else if got := value(mt); math.Abs(got-w.v) > 1e-9*math.Abs(w.v) {
			t.Errorf("%s = %v, want %v", w.name, got, w.v)
		}
	}
	if _, ok := fams["zhizhi_host_filesystem_size_bytes"]; ok {
		t.Error("a vanished filesystem is still exported")
	}
	if find(fams, "zhizhi_agent_collect_errors_total", "family", "cpu") != nil {
		t.Error("a family that never failed has an error series")
	}

	// The histogram: fixed buckets, cumulative counts, +Inf, sum and count.
	hf := fams["zhizhi_agent_collect_duration_seconds"]
	if hf.GetType() != dto.MetricType_HISTOGRAM || len(hf.Metric) != 2 {
		t.Fatalf("histogram family: %v", hf)
	}
	h := find(fams, "zhizhi_agent_collect_duration_seconds", "family", "fs").GetHistogram()
	if h.GetSampleCount() != 2 || h.GetSampleSum() != 11 {
		t.Errorf("fs histogram count %d sum %v", h.GetSampleCount(), h.GetSampleSum())
	}
	var bounds []float64
	for _, b := range h.Bucket {
		bounds = append(bounds, b.GetUpperBound())
		wantCount := uint64(0)
		switch {
		case math.IsInf(b.GetUpperBound(), 1):
			wantCount = 2
		case b.GetUpperBound() >= 1:
			wantCount = 1
		}
		if b.GetCumulativeCount() != wantCount {
			t.Errorf("fs bucket le=%v has %d", b.GetUpperBound(), b.GetCumulativeCount())
		}
	}
	if !slices.Equal(bounds, append(slices.Clone(collectBuckets), math.Inf(1))) {
		t.Errorf("buckets %v", bounds)
	}
	hc := find(fams, "zhizhi_agent_collect_duration_seconds", "family", "cpu").GetHistogram()
	if hc.GetSampleCount() != 1 || hc.GetSampleSum() != 0.002 || hc.Bucket[2].GetCumulativeCount() != 1 ||
		hc.Bucket[1].GetCumulativeCount() != 0 {
		t.Errorf("cpu histogram %v", hc)
	}

	for _, s := range []string{"go_goroutines", "process_", "promhttp_"} {
		if strings.Contains(out, s) {
			t.Errorf("exposes %s", s)
		}
	}
	if c := canonical(t, out); c != out {
		t.Errorf("not in client_golang's canonical form\n--- got\n%s\n--- canonical\n%s", out, c)
	}
	lint(t, out)
}

func TestNilSourcesLeftOut(t *testing.T) {
	out := scrape(t, New("", Sources{}))
	fams := parse(t, out)
	if got := slices.Sorted(maps.Keys(fams)); !slices.Equal(got, []string{"zhizhi_agent_build_info",
		"zhizhi_agent_samples_collected_total"}) {
		t.Fatalf("families %v", got)
	}
	lint(t, out)
}

func TestLastSendSuccessNeverIsZero(t *testing.T) {
	fams := parse(t, scrape(t, New("x", Sources{LastSendSuccess: func() time.Time { return time.Time{} }})))
	if m := find(fams, "zhizhi_agent_last_send_success_timestamp_seconds"); m == nil || value(m) != 0 {
		t.Fatalf("got %v", m)
	}
}

func TestEscaping(t *testing.T) {
	m := New(`1.0"rc\1`+"\n", Sources{})
	fs := func(mount, device string, total uint64) wire.Filesystem {
		return wire.Filesystem{Mount: mount, Device: device, FSType: "ext4", TotalBytes: total}
	}
	m.SetSample(wire.Sample{
		Time: time.Unix(1, 0),
		FS: []wire.Filesystem{
			fs(`/mnt/a"b`, "/dev/sdb1", 1),
			fs(`/mnt/back\slash`, "/dev/sdb2", 2),
			fs("/mnt/new\nline", "/dev/sdb3", 3),
			fs("/数据/备份", "/dev/mapper/卷组-lv", 4),
			fs(`C:\`, `\\?\Volume{3c2e}\`, 5),
			fs(`/mnt/"\`+"\n"+`"`, "/dev/sdb6", 6),
			fs("/mnt/a\"b", "/dev/other", 7),            // same mount again: the first wins
			fs("/mnt/\xb1\xb8\xb7\xdd", "/dev/sdc1", 8), // GBK, not UTF-8
			fs("/mnt/\xca\xfd\xbe\xdd", "/dev/sdc1", 9), // collapses to the same labels as the one before
		},
		Net:   []wire.NetIO{{Interface: "以太网 2", RxBytes: 10}, {Interface: `vEthernet (a"b\c)`, RxBytes: 20}},
		Disks: []wire.DiskIO{{Device: "\\\\.\\PhysicalDrive0", ReadBytes: 30}},
	})
	out := scrape(t, m)
	fams := parse(t, out)
	for _, c := range []struct {
		mount, device string
		v             float64
	}{
		{`/mnt/a"b`, "/dev/sdb1", 1},
		{`/mnt/back\slash`, "/dev/sdb2", 2},
		{"/mnt/new\nline", "/dev/sdb3", 3},
		{"/数据/备份", "/dev/mapper/卷组-lv", 4},
		{`C:\`, `\\?\Volume{3c2e}\`, 5},
		{`/mnt/"\` + "\n" + `"`, "/dev/sdb6", 6},
		{"/mnt/\uFFFD", "/dev/sdc1", 8},
	} {
		mt := find(fams, "zhizhi_host_filesystem_size_bytes", "mount", c.mount, "fstype", "ext4", "device", c.device)
		if mt == nil || value(mt) != c.v {
			t.Errorf("mount %q: %v", c.mount, mt)
		}
	}
	if n := len(fams["zhizhi_host_filesystem_size_bytes"].Metric); n != 7 {
		t.Errorf("%d filesystem series, want 7", n)
	}
	for _, c := range []struct {
		name   string
		labels []string
		v      float64
	}{
		{"zhizhi_host_network_receive_bytes_total", []string{"interface", "以太网 2"}, 10},
		{"zhizhi_host_network_receive_bytes_total", []string{"interface", `vEthernet (a"b\c)`}, 20},
		{"zhizhi_host_disk_read_bytes_total", []string{"device", `\\.\PhysicalDrive0`}, 30},
		{"zhizhi_agent_build_info", []string{"version", `1.0"rc\1` + "\n", "goversion", runtime.Version()}, 1},
	} {
		if mt := find(fams, c.name, c.labels...); mt == nil || value(mt) != c.v {
			t.Errorf("%s%q: %v", c.name, c.labels, mt)
		}
	}
	for _, s := range []string{`mount="/mnt/\"\\\n\""`, `device="\\\\?\\Volume{3c2e}\\"`, `version="1.0\"rc\\1\n"`,
		`mount="/数据/备份"`} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %s", s)
		}
	}
	if c := canonical(t, out); c != out {
		t.Errorf("not in client_golang's canonical form\n--- got\n%s\n--- canonical\n%s", out, c)
	}
	lint(t, out)
}

func TestHandlerHeadersAndGzip(t *testing.T) {
	m := New("1", Sources{})
	m.SetSample(wire.Sample{Time: time.Unix(5, 0), Procs: intp(3)})
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()

	resp, plain := get(t, srv, map[string]string{"Accept-Encoding": "identity"})
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain; version=0.0.4; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if f := expfmt.ResponseFormat(resp.Header); f.FormatType() != expfmt.TypeTextPlain {
		t.Errorf("format %v", f)
	}
	if resp.Header.Get("Content-Encoding") != "" || resp.ContentLength != int64(len(plain)) {
		t.Errorf("plain response: encoding %q length %d", resp.Header.Get("Content-Encoding"), resp.ContentLength)
	}

	// Setting Accept-Encoding ourselves stops the transport from decompressing transparently.
	resp, zipped := get(t, srv, map[string]string{"Accept-Encoding": "gzip, deflate"})
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding %q", resp.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(zipped))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if string(unzipped) != string(plain) || !strings.Contains(string(plain), "zhizhi_host_processes 3\n") {
		t.Fatalf("gzip body differs:\n%s\n---\n%s", unzipped, plain)
	}
}

func TestAcceptsGzip(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want bool
	}{
		{nil, false},
		{[]string{"gzip"}, true},
		{[]string{"deflate, GZIP;q=0.5"}, true},
		{[]string{"br", "gzip"}, true},
		{[]string{"gzip;q=0"}, false},
		{[]string{"gzip; q=0.0"}, false},
		{[]string{"identity"}, false},
		{[]string{"x-gzip"}, false},
	} {
		if got := acceptsGzip(c.in); got != c.want {
			t.Errorf("acceptsGzip(%q) = %v", c.in, got)
		}
	}
}

func TestObserveCollectBucketBoundaries(t *testing.T) {
	m := New("1", Sources{})
	for _, d := range []time.Duration{0, 500 * time.Microsecond, time.Millisecond, 1001 * time.Microsecond,
		5 * time.Second, time.Minute} {
		m.ObserveCollect("x", d, nil)
	}
	h := find(parse(t, scrape(t, m)), "zhizhi_agent_collect_duration_seconds", "family", "x").GetHistogram()
	want := map[float64]uint64{.0005: 2, .001: 3, .0025: 4, 2.5: 4, 5: 5} // upper bounds are inclusive
	for _, b := range h.Bucket {
		if w, ok := want[b.GetUpperBound()]; ok && b.GetCumulativeCount() != w {
			t.Errorf("le=%v: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), w)
		}
	}
	if h.GetSampleCount() != 6 || math.Abs(h.GetSampleSum()-65.0025010) > 1e-9 {
		t.Errorf("count %d sum %v", h.GetSampleCount(), h.GetSampleSum())
	}
}

// TestConcurrentScrape scrapes over loopback while samples and observations arrive; run it with -race.
func TestConcurrentScrape(t *testing.T) {
	var sent sync.Mutex
	sentN := uint64(0)
	m := New("1", Sources{SamplesSent: func() uint64 { sent.Lock(); defer sent.Unlock(); return sentN }})
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()

	const samples, scrapers, scrapes = 300, 3, 30
	families := []string{"cpu", "fs", "net"}
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range samples {
			s := wire.Sample{Time: time.Unix(int64(i), 0), Procs: intp(i),
				Disks: []wire.DiskIO{{Device: fmt.Sprintf("sd%c", 'a'+i%3), ReadBytes: 1}}}
			for j := range i % 4 {
				s.FS = append(s.FS, wire.Filesystem{Mount: fmt.Sprintf("/m%d", j)})
			}
			m.SetSample(s)
			sent.Lock()
			sentN++
			sent.Unlock()
		}
	})
	wg.Go(func() {
		for i := range samples {
			var err error
			if i%5 == 0 {
				err = errors.New("boom")
			}
			m.ObserveCollect(families[i%3], time.Duration(i)*time.Millisecond, err)
		}
	})
	errs := make(chan error, scrapers)
	for range scrapers {
		wg.Go(func() {
			errs <- scrapeRepeatedly(srv, scrapes)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}

	out := scrape(t, m)
	fams := parse(t, out)
	if v := value(find(fams, "zhizhi_agent_samples_collected_total")); v != samples {
		t.Errorf("collected %v", v)
	}
	if v := value(find(fams, "zhizhi_agent_samples_sent_total")); v != samples {
		t.Errorf("sent %v", v)
	}
	var total uint64
	for _, f := range families {
		total += find(fams, "zhizhi_agent_collect_duration_seconds", "family", f).GetHistogram().GetSampleCount()
	}
	var disk float64
	for _, mt := range fams["zhizhi_host_disk_read_bytes_total"].Metric {
		disk += value(mt)
	}
	if total != samples || disk != samples {
		t.Errorf("observations %d disk bytes %v, want %d", total, disk, samples)
	}
	lint(t, out)
}

// scrapeRepeatedly scrapes n times and checks each scrape parses, histograms are consistent within a scrape and
// counters never go down between scrapes.
func scrapeRepeatedly(srv *httptest.Server, n int) error {
	var lastCollected, lastObserved float64
	p := expfmt.NewTextParser(model.LegacyValidation)
	for range n {
		resp, err := srv.Client().Get(srv.URL)
		if err != nil {
			return err
		}
		fams, err := p.TextToMetricFamilies(resp.Body)
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("parse: %w", err)
		}
		collected := value(find(fams, "zhizhi_agent_samples_collected_total"))
		var observed float64
		if hf := fams["zhizhi_agent_collect_duration_seconds"]; hf != nil {
			for _, mt := range hf.Metric {
				h := mt.GetHistogram()
				prev := uint64(0)
				for _, b := range h.Bucket {
					if b.GetCumulativeCount() < prev || b.GetCumulativeCount() > h.GetSampleCount() {
						return fmt.Errorf("inconsistent histogram %v", h)
					}
					prev = b.GetCumulativeCount()
				}
				observed += float64(h.GetSampleCount())
			}
		}
		if collected < lastCollected || observed < lastObserved {
			return fmt.Errorf("counters went down: collected %v -> %v, observed %v -> %v",
				lastCollected, collected, lastObserved, observed)
		}
		lastCollected, lastObserved = collected, observed
	}
	return nil
}

func BenchmarkScrape(b *testing.B) {
	m := New("1", Sources{SpoolBytes: func() int64 { return 1 }})
	s := wire.Sample{Time: time.Unix(1, 0), CPU: &wire.CPU{}, Memory: &wire.Memory{}, Procs: intp(1)}
	for i := range 20 {
		s.FS = append(s.FS, wire.Filesystem{Mount: fmt.Sprintf("/mnt/%d", i), Device: "/dev/x", FSType: "xfs"})
		s.Net = append(s.Net, wire.NetIO{Interface: fmt.Sprintf("eth%d", i)})
	}
	m.SetSample(s)
	for _, f := range []string{"cpu", "mem", "fs", "disk", "net", "conns", "sessions"} {
		m.ObserveCollect(f, time.Millisecond, nil)
	}
	b.ReportAllocs()
	var buf []byte
	for b.Loop() {
		buf = m.appendText(buf[:0])
	}
}

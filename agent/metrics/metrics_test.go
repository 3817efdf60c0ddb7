package metrics

import (
	"bytes"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"zhizhi/agent/wire"
)

func intp(v int) *int { return &v }

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestExposition(t *testing.T) {
	last := time.Unix(1700000000, 0)
	m := New("1.2.3", Sources{
		SpoolBytes: func() int64 { return 4096 }, SpoolRecords: func() int64 { return 7 },
		SamplesDropped: func() uint64 { return 2 }, SamplesSent: func() uint64 { return 100 },
		SamplesRejected: func() uint64 { return 1 }, SendErrors: func() uint64 { return 5 },
		CyclesSkipped: func() uint64 { return 3 }, LastSendSuccess: func() time.Time { return last },
	})
	if out := scrape(t, m); strings.Contains(out, "zhizhi_host_") {
		t.Fatalf("host metrics before any sample:\n%s", out)
	}
	s := wire.Sample{
		Time:   time.Unix(1700000015, 0),
		CPU:    &wire.CPU{BusyPct: 25, IOWaitPct: 5},
		Load:   &wire.Load{Load1: 0.5},
		Memory: &wire.Memory{TotalBytes: 8 << 30, UsedBytes: 2 << 30, AvailableBytes: 6 << 30, UsedPct: 25},
		FS: []wire.Filesystem{{Mount: "/", FSType: "ext4", Device: "/dev/vda1", TotalBytes: 100, UsedBytes: 40,
			FreeBytes: 60, UsedPct: 40, InodesUsedPct: 10}},
		Net:   []wire.NetIO{{Interface: "eth0", RxBytes: 1000, TxBytes: 10}},
		Disks: []wire.DiskIO{{Device: "vda", ReadBytes: 512, WriteBytes: 1024}},
		Conns: &wire.Conns{Established: 12, Inbound: 4, Listening: 3},
		Procs: intp(88),
	}
	m.SetSample(s)
	s.FS = nil // the filesystem disappears
	s.Net[0].RxBytes = 500
	m.SetSample(s)
	m.ObserveCollect("cpu", 2*time.Millisecond, nil)
	m.ObserveCollect("fs", time.Second, errors.New("timeout"))

	out := scrape(t, m)
	for _, want := range []string{
		"zhizhi_host_cpu_busy_ratio 0.25",
		"zhizhi_host_memory_used_bytes 2.147483648e+09",
		`zhizhi_host_network_receive_bytes_total{interface="eth0"} 1500`,
		`zhizhi_host_disk_written_bytes_total{device="vda"} 2048`,
		"zhizhi_host_tcp_connections_established 12",
		"zhizhi_host_processes 88",
		"zhizhi_host_sample_timestamp_seconds 1.700000015e+09",
		"zhizhi_agent_spool_bytes 4096",
		"zhizhi_agent_spool_records 7",
		"zhizhi_agent_samples_sent_total 100",
		"zhizhi_agent_samples_dropped_total 2",
		"zhizhi_agent_samples_rejected_total 1",
		"zhizhi_agent_send_errors_total 5",
		"zhizhi_agent_cycles_skipped_total 3",
		"zhizhi_agent_samples_collected_total 2",
		"zhizhi_agent_last_send_success_timestamp_seconds 1.7e+09",
		`zhizhi_agent_collect_duration_seconds_count{family="cpu"} 1`,
		`zhizhi_agent_collect_errors_total{family="fs"} 1`,
		`zhizhi_agent_build_info{goversion="`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q", want)
		}
	}
	if strings.Contains(out, "zhizhi_host_filesystem_size_bytes") {
		t.Error("a vanished filesystem is still exported")
	}
	if strings.Contains(out, "go_goroutines") {
		t.Error("private registry exposes the default Go collectors")
	}
	problems, err := promlint.New(bytes.NewBufferString(out)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

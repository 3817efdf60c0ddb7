package forward

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"zhizhi/agent/wire"
	"zhizhi/collector/store"
)

// vmBinary is Debian's VictoriaMetrics (package victoria-metrics, listed in scripts/test-deps.txt).
const vmBinary = "/usr/bin/victoria-metrics"

// victoria is a VictoriaMetrics single-node process the test started on a loopback port.
type victoria struct {
	t     testing.TB
	bin   string
	addr  string // host:port
	dir   string // -storageDataPath
	cmd   *exec.Cmd
	done  chan struct{}
	logs  *strings.Builder
	mu    sync.Mutex
	nonce atomic.Int64
}

// startVictoria starts VictoriaMetrics on a free loopback port with a fresh data directory and waits until it
// is healthy. The test fails (never skips) when the binary is missing.
func startVictoria(t testing.TB) *victoria {
	t.Helper()
	bin, err := exec.LookPath(vmBinary)
	if err != nil {
		bin, err = exec.LookPath("victoria-metrics")
	}
	if err != nil {
		t.Fatalf("VictoriaMetrics is required for this test and was not found (%v): "+
			"install it with `apt-get install -y victoria-metrics` (listed in scripts/test-deps.txt)", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	v := &victoria{t: t, bin: bin, addr: addr, dir: t.TempDir()}
	v.start()
	t.Cleanup(v.kill)
	return v
}

func (v *victoria) start() {
	v.t.Helper()
	v.logs = &strings.Builder{}
	v.cmd = exec.Command(v.bin,
		"-httpListenAddr="+v.addr,
		"-storageDataPath="+v.dir,
		"-search.latencyOffset=1s",
		"-retentionPeriod=100y",
		"-loggerLevel=ERROR",
	)
	v.cmd.Stdout = &lockedWriter{mu: &v.mu, w: v.logs}
	v.cmd.Stderr = v.cmd.Stdout
	if err := v.cmd.Start(); err != nil {
		v.t.Fatalf("start victoria-metrics: %v", err)
	}
	v.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { cmd.Wait(); close(done) }(v.cmd, v.done) //nolint:errcheck // killed on purpose
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(v.url() + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-v.done:
			v.t.Fatalf("victoria-metrics exited at start: %s", v.log())
		default:
		}
		if time.Now().After(deadline) {
			v.t.Fatalf("victoria-metrics not healthy after 20 s: %v; log: %s", err, v.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (v *victoria) url() string { return "http://" + v.addr }

func (v *victoria) log() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.logs.String()
}

// kill ends the process with SIGKILL, as a crash would, and waits for it.
func (v *victoria) kill() {
	if v.cmd == nil || v.cmd.Process == nil {
		return
	}
	v.cmd.Process.Signal(syscall.SIGKILL) //nolint:errcheck // may have exited already
	<-v.done
	v.cmd = nil
}

// restart starts VictoriaMetrics again on the same port and data directory.
func (v *victoria) restart() {
	v.t.Helper()
	v.start()
}

// persist waits until VictoriaMetrics has written what it accepted to disk, so that a SIGKILL afterwards loses
// nothing it acknowledged before. VictoriaMetrics 1.79 answers 204 before the data is on disk and writes its
// data and index parts on its own schedule (about ten seconds here); a SIGKILL before that loses acknowledged
// samples, which no client can detect. The parts show as timestamps.bin and items.bin files.
func (v *victoria) persist() {
	v.t.Helper()
	resp, err := http.Get(v.url() + "/internal/force_flush")
	if err != nil {
		v.t.Fatalf("force_flush: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		v.t.Fatalf("force_flush: %s", resp.Status)
	}
	deadline := time.Now().Add(40 * time.Second)
	for {
		index, _ := filepath.Glob(filepath.Join(v.dir, "indexdb", "*", "*", "items.bin"))
		data, _ := filepath.Glob(filepath.Join(v.dir, "data", "*", "*", "*", "timestamps.bin"))
		if len(index) > 0 && len(data) > 0 {
			return
		}
		if time.Now().After(deadline) {
			v.t.Fatalf("victoria-metrics did not write its index to disk within 40 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

// exported is one series read back through /api/v1/export.
type exported struct {
	Metric     map[string]string `json:"metric"`
	Values     []float64         `json:"values"`
	Timestamps []int64           `json:"timestamps"`
}

// seriesKey renders a series' labels in a stable order.
func seriesKey(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%q ", k, labels[k])
	}
	return b.String()
}

// export reads every zhizhi series from VictoriaMetrics.
func (v *victoria) export() (map[string]exported, error) {
	// A filter never used before: VictoriaMetrics 1.79 caches the series a filter matched and, after a restart,
	// may keep serving the stale answer.
	q := url.Values{"match[]": {fmt.Sprintf(`{__name__=~"zhizhi_.*", __name__!="nonce_%d"}`, v.nonce.Add(1))}}
	resp, err := http.Get(v.url() + "/api/v1/export?" + q.Encode())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("export: %s: %s", resp.Status, body)
	}
	out := map[string]exported{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var e exported
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("export line: %w", err)
		}
		k := seriesKey(e.Metric)
		if prev, ok := out[k]; ok { // one series may come in several blocks
			e.Values = append(prev.Values, e.Values...)
			e.Timestamps = append(prev.Timestamps, e.Timestamps...)
		}
		out[k] = e
	}
	return out, sc.Err()
}

// point is one expected value at a millisecond timestamp.
type point struct {
	ts int64
	v  float64
}

// expectation maps series keys to the points that must be in VictoriaMetrics.
type expectation map[string][]point

// hostFieldNames are the fields zhizhi_host must carry, as the Grafana dashboards query them.
var hostFieldNames = []string{
	"cpu_busy_pct", "cpu_iowait_pct", "load_1", "mem_used_pct", "mem_used_bytes", "swap_used_pct",
	"fs_max_used_pct", "fs_used_bytes", "fs_total_bytes", "disk_read_bytes", "disk_write_bytes", "net_rx_bytes",
	"net_tx_bytes", "net_errors", "conn_established", "conn_inbound", "conn_new_inbound", "sessions", "procs",
}

// add records the series a sample must produce, built independently of the encoder: VictoriaMetrics names
// series <measurement>_<field> and turns tags into labels.
func (e expectation) add(t testing.TB, h hostLabels, s *wire.Sample) {
	t.Helper()
	base := map[string]string{"host": h.hostname, "agent_id": h.agentID, "system": h.system, "department": h.department}
	ts := s.Time.UnixMilli()
	i := 0
	s.Flatten(func(name string, v float64) {
		if strings.HasPrefix(name, wire.FSUsedPctPrefix) {
			return
		}
		if i >= len(hostFieldNames) || strings.ReplaceAll(name, ".", "_") != hostFieldNames[i] {
			t.Fatalf("test sample must carry every host metric in order; got %s at %d", name, i)
		}
		l := clone(base)
		l["__name__"] = "zhizhi_host_" + hostFieldNames[i]
		e[seriesKey(l)] = append(e[seriesKey(l)], point{ts, v})
		i++
	})
	for _, fs := range s.FS {
		for _, f := range []struct {
			name string
			v    float64
		}{{"used_pct", fs.UsedPct}, {"used_bytes", float64(fs.UsedBytes)}, {"total_bytes", float64(fs.TotalBytes)}} {
			l := clone(base)
			l["__name__"] = "zhizhi_fs_" + f.name
			l["mount"] = fs.Mount
			e[seriesKey(l)] = append(e[seriesKey(l)], point{ts, f.v})
		}
	}
}

func (e expectation) points() int {
	n := 0
	for _, p := range e {
		n += len(p)
	}
	return n
}

func clone(m map[string]string) map[string]string {
	out := make(map[string]string, len(m)+2)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// check compares an export with the expectation: the same series, every point exactly once with its value and
// millisecond timestamp, nothing else.
func (e expectation) check(got map[string]exported) error {
	var errs []string
	for k, want := range e {
		g, ok := got[k]
		if !ok {
			errs = append(errs, "missing series "+k)
			continue
		}
		seen := map[int64]int{}
		for _, ts := range g.Timestamps {
			if seen[ts]++; seen[ts] == 2 {
				errs = append(errs, fmt.Sprintf("series %s: duplicate timestamp %d", k, ts))
			}
		}
		vals := map[int64]float64{}
		for i, ts := range g.Timestamps {
			vals[ts] = g.Values[i]
		}
		for _, p := range want {
			v, ok := vals[p.ts]
			if !ok {
				errs = append(errs, fmt.Sprintf("series %s: missing point at %d", k, p.ts))
				continue
			}
			if !closeTo(v, p.v) {
				errs = append(errs, fmt.Sprintf("series %s at %d: value %v, want %v", k, p.ts, v, p.v))
			}
		}
		if len(g.Timestamps) != len(want) {
			errs = append(errs, fmt.Sprintf("series %s: %d points, want %d; got %v", k, len(g.Timestamps), len(want), g.Timestamps))
		}
	}
	for k := range got {
		if _, ok := e[k]; !ok {
			errs = append(errs, "unexpected series "+k)
		}
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		if len(errs) > 10 {
			errs = append(errs[:10], fmt.Sprintf("... and %d more", len(errs)-10))
		}
		return fmt.Errorf("%d problems:\n%s", len(errs), strings.Join(errs, "\n"))
	}
	return nil
}

// closeTo compares values VictoriaMetrics stored: it keeps about 12 significant decimal digits.
func closeTo(a, b float64) bool {
	if a == b {
		return true
	}
	return math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b))
}

// waitExport polls the export until it matches e (VictoriaMetrics makes new data searchable within a second or
// two) or 30 s passed, and returns the last mismatch.
func (v *victoria) waitExport(t testing.TB, e expectation) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := v.export()
		if err == nil {
			if err = e.check(got); err == nil {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("VictoriaMetrics export does not match the %d expected points: %v", e.points(), err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// hostLabels are the labels of one enrolled agent's host.
type hostLabels struct {
	agent                                 store.Agent
	hostname, agentID, system, department string
}

// fleet is a real store with enrolled agents that the tests feed.
type fleet struct {
	t     testing.TB
	path  string
	st    *store.Store
	hosts []hostLabels
	seq   []uint64
	base  time.Time
	want  expectation
}

func newFleet(t testing.TB, opts store.Options) *fleet {
	t.Helper()
	f := &fleet{t: t, path: filepath.Join(t.TempDir(), "zhizhi.db"), want: expectation{}}
	f.open(opts)
	// Whole minutes back, plus odd milliseconds to prove ms timestamps survive.
	f.base = time.Now().Add(-2 * time.Hour).Truncate(time.Minute).Add(123 * time.Millisecond)
	for _, h := range []struct{ system, dept, hostname string }{
		{"社保系统", "人社局", "rs-db-01"},
		{"OA, office=1", "数据 局", "win app 02"}, // commas, equals signs and spaces in labels
	} {
		a, _, err := f.st.EnrollAgent(context.Background(), h.system, h.dept)
		if err != nil {
			t.Fatalf("enroll: %v", err)
		}
		f.hosts = append(f.hosts, hostLabels{agent: a, hostname: h.hostname, agentID: a.ID, system: h.system, department: h.dept})
		f.seq = append(f.seq, 0)
	}
	return f
}

func (f *fleet) open(opts store.Options) {
	f.t.Helper()
	st, err := store.Open(context.Background(), f.path, opts)
	if err != nil {
		f.t.Fatalf("open store: %v", err)
	}
	f.st = st
	f.t.Cleanup(func() { st.Close() })
}

// reopen closes the store and opens it again, as a server restart does.
func (f *fleet) reopen() {
	f.t.Helper()
	if err := f.st.Close(); err != nil {
		f.t.Fatalf("close store: %v", err)
	}
	f.open(store.Options{})
}

// ingest stores n samples per host through Store.Ingest and records what must reach the engine.
func (f *fleet) ingest(n int) int {
	f.t.Helper()
	for i, h := range f.hosts {
		b := &wire.Batch{
			Version: wire.SchemaVersion, AgentID: h.agentID, SentAt: time.Now(),
			Host: &wire.HostFacts{Hostname: h.hostname, OS: "linux", CPUCores: 8},
		}
		for range n {
			f.seq[i]++
			b.Samples = append(b.Samples, testSample(f.seq[i], f.base.Add(time.Duration(f.seq[i])*15*time.Second), i))
		}
		ack, err := f.st.Ingest(context.Background(), h.agent, b, time.Now())
		if err != nil {
			f.t.Fatalf("ingest: %v", err)
		}
		if ack.Accepted != n {
			f.t.Fatalf("ingest: accepted %d of %d", ack.Accepted, n)
		}
		for j := range b.Samples {
			f.want.add(f.t, h, &b.Samples[j])
		}
	}
	return n * len(f.hosts)
}

// testSample has every family, values derived from seq so that every point differs.
func testSample(seq uint64, ts time.Time, host int) wire.Sample {
	x := float64(seq)
	sessions, procs := int(seq%7), 150+int(seq%50)
	mounts := []string{"/", "/data"}
	if host == 1 {
		mounts = []string{`C:\`, "/mnt/my data,x=1"} // a Windows drive and a mount needing escapes
	}
	return wire.Sample{
		Seq: seq, Time: ts, IntervalSeconds: 15,
		CPU:    &wire.CPU{BusyPct: math.Mod(x*1.37, 100), IOWaitPct: math.Mod(x*0.11, 5)},
		Load:   &wire.Load{Load1: x / 100},
		Memory: &wire.Memory{TotalBytes: 16 << 30, UsedBytes: 8<<30 + seq*4096, UsedPct: 50 + math.Mod(x, 40)},
		Swap:   &wire.Swap{UsedPct: math.Mod(x, 3)},
		FS: []wire.Filesystem{
			{Mount: mounts[0], TotalBytes: 100 << 30, UsedBytes: 40<<30 + seq, UsedPct: 40 + math.Mod(x, 10)},
			{Mount: mounts[1], TotalBytes: 2 << 40, UsedBytes: 1<<40 + seq*3, UsedPct: 50 + math.Mod(x*0.5, 10)},
		},
		Disks:    []wire.DiskIO{{Device: "sda", ReadBytes: seq * 1000, WriteBytes: seq * 2000}},
		Net:      []wire.NetIO{{Interface: "eth0", RxBytes: seq * 10, TxBytes: seq * 20, RxErrors: seq % 2}},
		Conns:    &wire.Conns{Established: int(seq % 200), Inbound: int(seq % 20), NewInbound: int(seq % 5)},
		Sessions: &sessions, Procs: &procs,
	}
}

// Command ingestload simulates a fleet of zhizhi agents over loopback against a real `zhizhi up` server and
// reports reports/s, samples/s, latency percentiles, errors and the CPU and RSS of server and load generator.
//
// It enrolls the agents directly in the store file before the server starts (reusing the tokens of an earlier
// run when the data directory already holds enough), starts `zhizhi up --no-local-agent` on a free loopback
// port, lets every simulated agent send one realistic one-sample gzip batch per interval at a random phase,
// and measures the window after a warm-up of one interval (which includes each agent's first report).
//
//	go run ./bench/ingestload -zhizhi /path/to/zhizhi -agents 10000 -interval 15s -duration 60s
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"zhizhi/agent/wire"
	"zhizhi/collector/store"
)

type options struct {
	zhizhi   string
	data     string
	agents   int
	interval time.Duration
	duration time.Duration
	warmup   time.Duration
	conns    int
	keep     bool
	inproc   bool
	pprof    string
	cpuprof  string
	noRollup bool
	rollupEv time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.zhizhi, "zhizhi", "", "zhizhi server binary (default: build ./cmd/zhizhi into a temp dir)")
	flag.StringVar(&o.data, "data", "", "data directory; tokens enrolled there are reused (default: a temp dir)")
	flag.IntVar(&o.agents, "agents", 10000, "simulated agents")
	flag.DurationVar(&o.interval, "interval", 15*time.Second, "report interval of each agent")
	flag.DurationVar(&o.duration, "duration", 60*time.Second, "measured window")
	flag.DurationVar(&o.warmup, "warmup", 0, "warm-up before the window (default: one interval)")
	flag.IntVar(&o.conns, "conns", 1024, "max idle keep-alive connections of the shared transport")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary data directory")
	flag.BoolVar(&o.inproc, "inproc", false, "run the ingest hot path in this process (store + auth + decode + validate + ingest) instead of `zhizhi up`, to profile it")
	flag.StringVar(&o.pprof, "pprof", "", "with -inproc: serve net/http/pprof on this address, e.g. 127.0.0.1:6060")
	flag.BoolVar(&o.noRollup, "no-rollup", false, "with -inproc: do not run the store's rollup and retention passes")
	flag.DurationVar(&o.rollupEv, "rollup-interval", 0, "with -inproc: the store's 1-minute rollup interval (default the store's, 5s)")
	flag.StringVar(&o.cpuprof, "cpuprofile", "", "with -inproc: write a CPU profile of the measured window to this file")
	flag.Parse()
	if o.warmup <= 0 {
		o.warmup = o.interval
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "ingestload:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "zhizhi-ingestload-")
	if err != nil {
		return err
	}
	if o.data == "" {
		o.data = filepath.Join(tmp, "data")
	}
	defer func() {
		if o.keep {
			fmt.Fprintln(os.Stderr, "kept", tmp)
			return
		}
		os.RemoveAll(tmp)
	}()
	if o.zhizhi == "" && !o.inproc {
		o.zhizhi = filepath.Join(tmp, "zhizhi")
		fmt.Fprintln(os.Stderr, "building ./cmd/zhizhi")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", o.zhizhi, "./cmd/zhizhi")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("build zhizhi (run from the repository root or pass -zhizhi): %w", err)
		}
	}

	tokens, enrollTime, err := enroll(ctx, o.data, o.agents)
	if err != nil {
		return err
	}

	var (
		base   string
		pid    = os.Getpid()
		stages *stageTimes
	)
	if o.inproc {
		var stop func()
		base, stages, stop, err = inproc(ctx, o.data, o.pprof, o.noRollup, o.rollupEv)
		if err != nil {
			return err
		}
		defer stop()
	} else {
		srv, url, err := startServer(o, tmp)
		if err != nil {
			return err
		}
		defer func() {
			srv.Process.Signal(syscall.SIGTERM)
			srv.Wait()
			if c, ok := srv.Stdout.(io.Closer); ok {
				c.Close()
			}
		}()
		base, pid = url, srv.Process.Pid
	}
	if err := waitHealthy(base+"/healthz", 30*time.Second); err != nil {
		return err
	}

	tr := &http.Transport{
		MaxIdleConns:        o.conns,
		MaxIdleConnsPerHost: o.conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}

	var (
		rec    recorder
		wg     sync.WaitGroup
		start  = time.Now()
		winBeg = start.Add(o.warmup)
		winEnd = winBeg.Add(o.duration)
	)
	rec.winBeg, rec.winEnd = winBeg, winEnd
	for i, tok := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			simulate(client, base+wire.IngestPath, tok, i, o.interval, start, winEnd, &rec)
		}()
	}

	// Resource figures at the window's edges.
	time.Sleep(time.Until(winBeg))
	s0, _ := procStat(pid)
	g0 := selfCPU()
	stopProf := func() {}
	if stages != nil {
		stages.reset()
		if o.cpuprof != "" {
			if stopProf, err = cpuProfile(o.cpuprof); err != nil {
				return err
			}
		}
	}
	time.Sleep(time.Until(winEnd))
	stopProf()
	s1, _ := procStat(pid)
	g1 := selfCPU()
	wg.Wait()
	tr.CloseIdleConnections()

	dbSize := fileSize(filepath.Join(o.data, "zhizhi.db")) + fileSize(filepath.Join(o.data, "zhizhi.db-wal"))
	report(o, enrollTime, &rec, s0, s1, g0, g1, dbSize)
	if stages != nil {
		stages.print()
	}
	return nil
}

// startServer starts `zhizhi up --no-local-agent` on a free loopback port with its log in dir/server.log.
func startServer(o options, dir string) (*exec.Cmd, string, error) {
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	srvLog, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		return nil, "", err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	srv := exec.Command(o.zhizhi, "up", "--data", o.data, "--listen", addr, "--no-local-agent")
	srv.Stdout, srv.Stderr = srvLog, srvLog
	if err := srv.Start(); err != nil {
		srvLog.Close()
		return nil, "", fmt.Errorf("start server: %w", err)
	}
	return srv, "http://" + addr, nil
}

func sortDurations(d []time.Duration) { slices.Sort(d) }

// enroll returns o.agents tokens from dir/ingestload-tokens.txt, enrolling the missing ones in the store.
func enroll(ctx context.Context, dir string, n int) ([]string, time.Duration, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, 0, err
	}
	path := filepath.Join(dir, "ingestload-tokens.txt")
	var tokens []string
	if b, err := os.ReadFile(path); err == nil {
		tokens = strings.Fields(string(b))
	}
	if len(tokens) >= n {
		fmt.Fprintf(os.Stderr, "reusing %d enrolled agents from %s\n", n, path)
		return tokens[:n], 0, nil
	}
	st, err := store.Open(ctx, filepath.Join(dir, "zhizhi.db"), store.Options{})
	if err != nil {
		return nil, 0, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		st.Close()
		return nil, 0, err
	}
	w := bufio.NewWriter(f)
	t0 := time.Now()
	for i := len(tokens); i < n; i++ {
		// 50 departments, 10 systems each: a district-sized catalog.
		dept := fmt.Sprintf("部门%02d", i%50)
		sys := fmt.Sprintf("系统%02d-%02d", i%50, (i/50)%10)
		_, tok, err := st.EnrollAgent(ctx, sys, dept)
		if err != nil {
			st.Close()
			f.Close()
			return nil, 0, fmt.Errorf("enroll agent %d: %w", i, err)
		}
		tokens = append(tokens, tok)
		fmt.Fprintln(w, tok)
	}
	took := time.Since(t0)
	if err := errors.Join(w.Flush(), f.Close(), st.Close()); err != nil {
		return nil, 0, err
	}
	fmt.Fprintf(os.Stderr, "enrolled %d agents in %v\n", n, took.Round(time.Millisecond))
	return tokens, took, nil
}

// simulate is one agent: one report per interval at a random phase, until end.
func simulate(client *http.Client, url, token string, idx int, interval time.Duration, start, end time.Time, rec *recorder) {
	rng := rand.New(rand.NewPCG(uint64(idx), 0x2a))
	agentID, _ := store.AgentIDFromToken(token)
	h := newHost(idx, rng)
	next := start.Add(time.Duration(rng.Int64N(int64(interval))))
	var seq uint64
	var body bytes.Buffer
	for next.Before(end) {
		time.Sleep(time.Until(next))
		seq++
		sent := time.Now()
		body.Reset()
		if err := h.batch(&body, agentID, seq, sent, interval, rng); err != nil {
			rec.fail(sent, "encode: "+err.Error())
			return
		}
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body.Bytes()))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Encoding", "gzip")
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			rec.fail(sent, "transport")
		} else {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			lat := time.Since(sent)
			if resp.StatusCode != http.StatusOK {
				rec.fail(sent, fmt.Sprintf("HTTP %d %s", resp.StatusCode, bytes.TrimSpace(b)))
			} else {
				var ack wire.Ack
				if json.Unmarshal(b, &ack) != nil || ack.Accepted+ack.Duplicates != 1 {
					rec.fail(sent, "bad ack "+string(b))
				} else {
					rec.ok(sent, lat, body.Len())
				}
			}
		}
		next = next.Add(interval)
	}
}

// host holds one simulated server's static facts and counters.
type host struct {
	facts   wire.HostFacts
	fsTotal [3]uint64
	fsUsed  [3]uint64
	memPct  float64
	cpuBase float64
}

var mounts = [3]struct{ mount, dev, typ string }{
	{"/", "/dev/vda1", "ext4"}, {"/data", "/dev/vdb1", "xfs"}, {"/boot", "/dev/vda2", "ext4"},
}

func newHost(i int, rng *rand.Rand) *host {
	h := &host{
		facts: wire.HostFacts{
			Hostname: fmt.Sprintf("gov-app-%05d", i), OS: "linux", Platform: "kylin", PlatformVersion: "V10",
			Kernel: "4.19.90-52.22.v2207.ky10.x86_64", Arch: "x86_64", Virtualization: "kvm", VirtRole: "guest",
			CPUModel: "Hygon C86 7285 32-core Processor", CPUCores: 8, MemTotalBytes: 16 << 30,
			BootTime: time.Now().Add(-40 * 24 * time.Hour).Unix(), AgentVersion: "0.1.0",
		},
		fsTotal: [3]uint64{100 << 30, 500 << 30, 1 << 30},
		memPct:  20 + rng.Float64()*60,
		cpuBase: rng.Float64() * 40,
	}
	for k := range h.fsUsed {
		h.fsUsed[k] = uint64(float64(h.fsTotal[k]) * (0.1 + rng.Float64()*0.7))
	}
	return h
}

var gzPool = sync.Pool{New: func() any { return gzip.NewWriter(io.Discard) }}

// batch writes the gzip JSON of a one-sample batch, as the agent's deliverer would send it.
func (h *host) batch(w io.Writer, agentID string, seq uint64, now time.Time, interval time.Duration, rng *rand.Rand) error {
	busy := h.cpuBase + rng.Float64()*10
	memUsed := uint64(float64(h.facts.MemTotalBytes) * h.memPct / 100)
	sessions, procs, uptime := rng.IntN(3), 180+rng.IntN(40), uint64(now.Unix()-h.facts.BootTime)
	s := wire.Sample{
		Seq: seq, Time: now.Add(-20 * time.Millisecond), IntervalSeconds: interval.Seconds(),
		CPU:    &wire.CPU{BusyPct: busy, UserPct: busy * 0.7, SystemPct: busy * 0.25, IOWaitPct: busy * 0.05},
		Load:   &wire.Load{Load1: busy / 12.5, Load5: busy / 13, Load15: busy / 14},
		Memory: &wire.Memory{TotalBytes: h.facts.MemTotalBytes, UsedBytes: memUsed, AvailableBytes: h.facts.MemTotalBytes - memUsed, UsedPct: h.memPct},
		Swap:   &wire.Swap{TotalBytes: 4 << 30, UsedBytes: 12 << 20, UsedPct: 0.29},
		Disks: []wire.DiskIO{
			{Device: "vda", ReadBytes: uint64(rng.IntN(1 << 20)), WriteBytes: uint64(rng.IntN(8 << 20)), Reads: uint64(rng.IntN(200)), Writes: uint64(rng.IntN(900))},
			{Device: "vdb", ReadBytes: uint64(rng.IntN(4 << 20)), WriteBytes: uint64(rng.IntN(16 << 20)), Reads: uint64(rng.IntN(500)), Writes: uint64(rng.IntN(2000))},
		},
		Net: []wire.NetIO{
			{Interface: "eth0", RxBytes: uint64(rng.IntN(4 << 20)), TxBytes: uint64(rng.IntN(2 << 20)), RxPackets: uint64(rng.IntN(5000)), TxPackets: uint64(rng.IntN(4000))},
			{Interface: "eth1", RxBytes: uint64(rng.IntN(64 << 10)), TxBytes: uint64(rng.IntN(64 << 10)), RxPackets: uint64(rng.IntN(300)), TxPackets: uint64(rng.IntN(300))},
		},
		Conns:    &wire.Conns{Established: 20 + rng.IntN(60), Inbound: 5 + rng.IntN(30), NewInbound: rng.IntN(40), Listening: 12},
		Sessions: &sessions, Procs: &procs, Uptime: &uptime,
	}
	for k, m := range mounts {
		used := h.fsUsed[k]
		s.FS = append(s.FS, wire.Filesystem{
			Mount: m.mount, Device: m.dev, FSType: m.typ, TotalBytes: h.fsTotal[k], UsedBytes: used,
			FreeBytes: h.fsTotal[k] - used, UsedPct: float64(used) * 100 / float64(h.fsTotal[k]), InodesUsedPct: 3.2,
		})
	}
	b := wire.Batch{Version: wire.SchemaVersion, AgentID: agentID, SentAt: now, Host: &h.facts, Samples: []wire.Sample{s}}
	zw := gzPool.Get().(*gzip.Writer)
	defer gzPool.Put(zw)
	zw.Reset(w)
	if err := json.NewEncoder(zw).Encode(b); err != nil {
		return err
	}
	return zw.Close()
}

// recorder collects the outcome of requests sent inside the window.
type recorder struct {
	winBeg, winEnd time.Time
	mu             sync.Mutex
	lat            []time.Duration
	errs           map[string]int
	bytes          atomic.Int64
	all            atomic.Int64 // requests including warm-up
}

func (r *recorder) in(t time.Time) bool { return !t.Before(r.winBeg) && t.Before(r.winEnd) }

func (r *recorder) ok(sent time.Time, lat time.Duration, n int) {
	r.all.Add(1)
	if !r.in(sent) {
		return
	}
	r.bytes.Add(int64(n))
	r.mu.Lock()
	r.lat = append(r.lat, lat)
	r.mu.Unlock()
}

func (r *recorder) fail(sent time.Time, kind string) {
	r.all.Add(1)
	if !r.in(sent) {
		kind = "(warm-up) " + kind
	}
	if len(kind) > 160 {
		kind = kind[:160]
	}
	r.mu.Lock()
	if r.errs == nil {
		r.errs = map[string]int{}
	}
	r.errs[kind]++
	r.mu.Unlock()
}

type procSample struct {
	cpu time.Duration // utime+stime
	rss int64         // bytes
}

// procStat reads utime+stime and VmRSS of pid from /proc.
func procStat(pid int) (procSample, error) {
	var ps procSample
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ps, err
	}
	// Fields after the parenthesised command name; utime and stime are fields 14 and 15.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	stt, _ := strconv.ParseInt(f[12], 10, 64)
	ps.cpu = time.Duration(ut+stt) * 10 * time.Millisecond // CLK_TCK is 100 on Linux
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ps, err
	}
	for line := range strings.Lines(string(st)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			ps.rss = kb << 10
		}
	}
	return ps, nil
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func fileSize(p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func waitHealthy(url string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("server not healthy at %s within %v", url, within)
}

func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/1e6) }

func report(o options, enrollTime time.Duration, r *recorder, s0, s1 procSample, g0, g1 time.Duration, dbSize int64) {
	slices.Sort(r.lat)
	n := len(r.lat)
	var nerr int
	for k, v := range r.errs {
		if !strings.HasPrefix(k, "(warm-up)") {
			nerr += v
		}
	}
	secs := o.duration.Seconds()
	want := float64(o.agents) / o.interval.Seconds()
	var load [3]string
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		copy(load[:], strings.Fields(string(b)))
	}
	fmt.Printf("ingestload: %d agents, interval %v, window %v after %v warm-up, %d CPUs, load %s %s %s\n",
		o.agents, o.interval, o.duration, o.warmup, numCPU(), load[0], load[1], load[2])
	if enrollTime > 0 {
		fmt.Printf("  enroll (store.EnrollAgent loop)  %d agents in %v (%.2f ms each)\n", o.agents, enrollTime.Round(time.Millisecond), float64(enrollTime)/1e6/float64(o.agents))
	}
	fmt.Printf("  reports/s                        %.1f (offered %.1f)\n", float64(n)/secs, want)
	fmt.Printf("  samples/s                        %.1f\n", float64(n)/secs)
	fmt.Printf("  metric values/s                  %.0f (%d per sample: 19 host + 3 per-mount series)\n", float64(n)/secs*22, 22)
	fmt.Printf("  request body (gzip)              %.0f bytes avg\n", float64(r.bytes.Load())/float64(max(n, 1)))
	fmt.Printf("  latency p50 / p90 / p99 / max    %s / %s / %s / %s\n", ms(pct(r.lat, 0.50)), ms(pct(r.lat, 0.90)), ms(pct(r.lat, 0.99)), ms(pct(r.lat, 1)))
	fmt.Printf("  errors in window                 %d\n", nerr)
	for k, v := range r.errs {
		fmt.Printf("    %6d  %s\n", v, k)
	}
	fmt.Printf("  server CPU                       %.1f%% of one core (%s per report)\n", 100*float64(s1.cpu-s0.cpu)/float64(o.duration), ms((s1.cpu-s0.cpu)/time.Duration(max(n, 1))))
	fmt.Printf("  server RSS start / end of window %.1f / %.1f MiB\n", float64(s0.rss)/(1<<20), float64(s1.rss)/(1<<20))
	if o.inproc {
		fmt.Println("  (-inproc: the server is this process, so its CPU above includes the load generator)")
	}
	fmt.Printf("  load generator CPU               %.1f%% of one core (%s per report)\n", 100*float64(g1-g0)/float64(o.duration), ms((g1-g0)/time.Duration(max(n, 1))))
	fmt.Printf("  database + WAL after run         %.1f MiB\n", float64(dbSize)/(1<<20))
	target := "MET"
	if pct(r.lat, 0.99) > 100*time.Millisecond || nerr > 0 || float64(n)/secs < 0.95*want {
		target = "MISSED"
	}
	fmt.Printf("  target (p99 <= 100 ms, no errors, >= 95%% of offered rate): %s\n", target)
}

func numCPU() int {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	return bytes.Count(b, []byte("\nprocessor")) + 1
}

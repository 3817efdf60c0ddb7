package collect

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shirou/gopsutil/v4/common"
	"github.com/shirou/gopsutil/v4/disk"
	"github.com/shirou/gopsutil/v4/mem"

	"zhizhi/agent/wire"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/golden")

// fixtureSource is the real gopsutil source pointed at a fixture tree. Swap and uptime come from sysinfo(2),
// and statfs reads real paths, so those three answer from canned values.
type fixtureSource struct {
	*psSource
}

func newFixtureSource(step string) *fixtureSource {
	return &fixtureSource{&psSource{env: fixtureEnv(step)}}
}

func fixtureEnv(step string) common.EnvMap {
	root, _ := filepath.Abs(filepath.Join("testdata", "fixture"))
	empty := filepath.Join(root, "empty")
	return common.EnvMap{
		common.HostProcEnvKey: filepath.Join(root, step, "proc"),
		common.HostSysEnvKey:  empty,
		common.HostEtcEnvKey:  empty,
		common.HostVarEnvKey:  empty, // no utmp
		common.HostRunEnvKey:  empty,
		common.HostDevEnvKey:  empty,
	}
}

func (f *fixtureSource) setStep(step string) { f.env = fixtureEnv(step) }

func (f *fixtureSource) SwapMemory(context.Context) (*mem.SwapMemoryStat, error) {
	return &mem.SwapMemoryStat{Total: 2048000000, Used: 512000000, Free: 1536000000}, nil
}

func (f *fixtureSource) Uptime(context.Context) (uint64, error) { return 86400, nil }

// Usage answers with sizes derived from the mount point so each filesystem is recognisable in the golden file.
func (f *fixtureSource) Usage(_ context.Context, path string) (*disk.UsageStat, error) {
	n := uint64(len(path))
	total, used := n*1e9, n*n*1e7
	return &disk.UsageStat{Path: path, Total: total, Used: used, Free: total - used, InodesTotal: 1000, InodesUsed: 10 * n}, nil
}

// TestFixtureCycles runs four cycles over fixture trees (normal deltas, a CPU counter reset and the cycle after
// it, network and disk counter resets, a new device, new inbound connections) and compares the samples with a
// golden file that a person can read.
func TestFixtureCycles(t *testing.T) {
	src := newFixtureSource("step1")
	c := New(Config{AgentVersion: "test"}, src, nil, nil)
	var samples []wire.Sample
	for i, step := range []string{"step1", "step2", "step3", "step4"} {
		src.setStep(step)
		s := c.Collect(context.Background(), t0.Add(time.Duration(i)*10*time.Second))
		s.Seq = uint64(i + 1)
		samples = append(samples, s)
	}
	got, err := json.MarshalIndent(samples, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "fixture_cycles.json", append(got, '\n'))

	// The key numbers, worked out by hand from the fixture files.
	s1, s2, s3, s4 := samples[0], samples[1], samples[2], samples[3]
	if s1.CPU != nil || s1.Disks != nil || s1.Net != nil || s1.Errors != nil {
		t.Fatalf("step1: cpu %v disks %v net %v errors %v", s1.CPU, s1.Disks, s1.Net, s1.Errors)
	}
	// step2: +600 user +100 nice +200 system +1000 idle +200 iowait +50 irq +50 softirq +100 steal = 2300
	wantCPU := wire.CPU{BusyPct: 1100.0 / 23, UserPct: 700.0 / 23, SystemPct: 300.0 / 23, IOWaitPct: 200.0 / 23,
		StealPct: 100.0 / 23}
	if s2.CPU == nil || !near(s2.CPU.BusyPct, wantCPU.BusyPct) || !near(s2.CPU.UserPct, wantCPU.UserPct) ||
		!near(s2.CPU.SystemPct, wantCPU.SystemPct) || !near(s2.CPU.IOWaitPct, wantCPU.IOWaitPct) ||
		!near(s2.CPU.StealPct, wantCPU.StealPct) {
		t.Fatalf("step2 cpu = %+v, want %+v", s2.CPU, wantCPU)
	}
	if s3.CPU != nil || !strings.Contains(s3.Errors["cpu"], "reset") {
		t.Fatalf("step3 (reset): cpu %+v errors %v", s3.CPU, s3.Errors)
	}
	// step4: +300 user +100 system +500 idle +50 iowait +10 softirq = 960; busy 410
	if s4.CPU == nil || !near(s4.CPU.BusyPct, 410.0/960*100) || s4.Errors != nil {
		t.Fatalf("step4 cpu = %+v errors %v", s4.CPU, s4.Errors)
	}
	if s1.Memory.UsedPct != 25 || s2.Memory.UsedPct != 75 || s2.Memory.TotalBytes != 8000000*1024 {
		t.Fatalf("memory: %+v %+v", s1.Memory, s2.Memory)
	}
	if *s2.Load != (wire.Load{Load1: 1.25, Load5: 0.80, Load15: 0.75}) {
		t.Fatalf("load = %+v", s2.Load)
	}
	var mounts []string
	for _, f := range s1.FS {
		mounts = append(mounts, f.Mount)
	}
	if want := []string{"/", "/boot/efi", "/data", "/var/lib/docker", "/mnt/usb", "/home"}; !slices.Equal(mounts, want) {
		t.Fatalf("mounts = %q, want %q", mounts, want)
	}
	wantDisk := []wire.DiskIO{
		{Device: "nvme0n1", ReadBytes: 800 * 512, Reads: 10},
		{Device: "sdb"}, // counters went backwards: reset
		{Device: "vda", ReadBytes: 2000 * 512, WriteBytes: 4000 * 512, Reads: 100, Writes: 300},
	}
	if !slices.Equal(s2.Disks, wantDisk) {
		t.Fatalf("step2 disks = %+v\nwant %+v", s2.Disks, wantDisk)
	}
	wantNet := []wire.NetIO{
		{Interface: "eth0", RxBytes: 500000, TxBytes: 250000, RxPackets: 400, TxPackets: 300, RxErrors: 3},
		{Interface: "eth1"}, // reset
	}
	if !slices.Equal(s2.Net, wantNet) {
		t.Fatalf("step2 net = %+v\nwant %+v", s2.Net, wantNet)
	}
	if *s1.Conns != (wire.Conns{Established: 5, Inbound: 4, NewInbound: 0, Listening: 3}) ||
		*s2.Conns != (wire.Conns{Established: 6, Inbound: 5, NewInbound: 2, Listening: 3}) ||
		*s3.Conns != (wire.Conns{Established: 6, Inbound: 5, NewInbound: 0, Listening: 3}) {
		t.Fatalf("conns = %+v %+v %+v", s1.Conns, s2.Conns, s3.Conns)
	}
	if *s1.Procs != 3 || *s2.Procs != 4 || *s1.Sessions != 0 {
		t.Fatalf("procs %d %d sessions %d", *s1.Procs, *s2.Procs, *s1.Sessions)
	}
}

// TestFixtureFSIncludeExclude checks the configured lists against the fixture mount table.
func TestFixtureFSIncludeExclude(t *testing.T) {
	f := func(cfg Config, want []string) {
		t.Helper()
		c := New(cfg, newFixtureSource("step1"), nil, nil)
		s := c.Collect(context.Background(), t0)
		var got []string
		for _, fs := range s.FS {
			got = append(got, fs.Mount+"="+fs.Device)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%+v:\n got %q\nwant %q", cfg, got, want)
		}
	}
	f(Config{}, []string{"/=/dev/vda1", "/boot/efi=/dev/vda15", "/data=/dev/nvme0n1p1", "/var/lib/docker=/dev/sdb",
		"/mnt/usb=/dev/sdc1", "/home=/dev/mapper/vg-home"})
	f(Config{FSIncludeTypes: []string{"nfs4", "iso9660"}, FSExcludeMounts: []string{"/boot/*", "/var/lib/docker"},
		FSExcludeTypes: []string{"FUSEBLK"}},
		[]string{"/=/dev/vda1", "/data=/dev/nvme0n1p1", "/mnt/nfs=10.0.0.5:/export", "/media/cdrom=/dev/sr0",
			"/home=/dev/mapper/vg-home"})
	f(Config{FSIncludeMounts: []string{"/run/user/*", "/snap/**"}},
		[]string{"/=/dev/vda1", "/boot/efi=/dev/vda15", "/data=/dev/nvme0n1p1", "/var/lib/docker=/dev/sdb",
			"/snap/core20/2015=/dev/loop0", "/mnt/usb=/dev/sdc1", "/run/user/1000=tmpfs",
			"/home=/dev/mapper/vg-home"})
}

func TestParseProcNetTCPErrors(t *testing.T) {
	f := func(body, wantErr string) {
		t.Helper()
		_, err := parseProcNetTCP(nil, strings.NewReader("header\n"+body))
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("%q: err = %v, want %q", body, err, wantErr)
		}
	}
	f("   0: 0100007F:1F90 00000000:0000\n", "line 2: too few fields")
	f("   0: 0100007F:1F90 00000000:0000 0A\n   1: 0100007F 00000000:0000 0A\n", "line 3: local address: no port")
	f("   0: 0100007F:1F90 0000000:0000 01\n", "line 2: remote address: address \"0000000\": bad length")
	f("   0: 0100007G:1F90 00000000:0000 01\n", "line 2: local address")
	f("   0: 0100007F:1F90Z 00000000:0000 0A\n", "line 2: local address: port")
	// sockets in other states are not decoded at all
	got, err := parseProcNetTCP(nil, strings.NewReader("header\n   0: junk junk 06 rest\n"))
	if err != nil || len(got) != 0 {
		t.Fatalf("time-wait line: %v %v", got, err)
	}
}

func TestTCPConnsFixture(t *testing.T) {
	src := newFixtureSource("step1")
	got, err := src.TCPConns(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, c := range got {
		lines = append(lines, []string{"other", "established", "listen"}[c.State]+" "+c.Local.String()+" "+c.Remote.String())
	}
	want := []string{
		"listen 0.0.0.0:22 0.0.0.0:0",
		"listen 127.0.0.1:5432 0.0.0.0:0",
		"established 10.0.0.10:22 10.0.0.11:54321",
		"established 10.0.0.10:22 10.0.0.12:50000",
		"established 10.0.0.10:41394 10.0.0.13:443",
		"listen [::]:80 [::]:0",
		"established 10.0.0.10:80 10.0.0.15:57585",
		"established [2001:db8::1]:80 [2001:db8::2]:53000",
	}
	if !slices.Equal(lines, want) {
		t.Fatalf("conns:\n got %q\nwant %q", lines, want)
	}
	// no tcp6 table (IPv6 disabled) is fine; no tcp table is an error naming the file
	src.env[common.HostProcEnvKey] = t.TempDir()
	if _, err := src.TCPConns(context.Background()); err == nil || !strings.Contains(err.Error(), "net/tcp") {
		t.Fatalf("missing table: err = %v", err)
	}
}

func TestSessionsAndProcsFixture(t *testing.T) {
	src := newFixtureSource("step2")
	n, err := src.Sessions(context.Background())
	if err != nil || n != 0 {
		t.Fatalf("sessions without utmp = %d, %v; want 0, nil", n, err)
	}
	p, err := src.ProcCount(context.Background())
	if err != nil || p != 4 { // 1, 42, 1000, 1001; not self or sys
		t.Fatalf("procs = %d, %v; want 4", p, err)
	}
	src.env[common.HostProcEnvKey] = filepath.Join(t.TempDir(), "missing")
	if _, err := src.ProcCount(context.Background()); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("missing proc: err = %v", err)
	}
}

// golden compares got with testdata/golden/name, rewriting it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update to create): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the golden file (run with -update after checking):\n%s", name, got)
	}
}

func TestParseDiskstats(t *testing.T) {
	good := "   8       0 sda 10 0 80 1 20 0 160 2 0 3 3 0 0 0 0\n\n 259 1 nvme0n1p1 1 0 8 0 0 0 0 0 0\n"
	f := func(in, wantErr string) {
		t.Helper()
		m, err := parseDiskstats(strings.NewReader(in))
		if wantErr == "" {
			if err != nil || m["sda"] != (disk.IOCountersStat{Name: "sda", ReadCount: 10, ReadBytes: 80 * 512,
				WriteCount: 20, WriteBytes: 160 * 512}) {
				t.Fatalf("%q: %+v %v", in, m, err)
			}
			return
		}
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("%q: err = %v, want %q", in, err, wantErr)
		}
		if _, ok := m["sda"]; !ok {
			t.Fatalf("%q: lines before the bad one were lost: %v", in, m)
		}
	}
	f(good[:strings.Index(good, "\n\n")+1], "")
	f(good, "line 3: 12 fields, want at least 14")
	f("   8       0 sda 10 0 80 1 20 0 160 2 0 3 3\n 8 1 sda1 x 0 0 0 0 0 0 0 0 0 0\n", "line 2: field 4: strconv.ParseUint")
}

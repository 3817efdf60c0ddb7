package collect

import (
	"context"
	"encoding/json"
	"math"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/disk"
	"github.com/shirou/gopsutil/v4/host"
	"github.com/shirou/gopsutil/v4/net"

	"zhizhi/agent/wire"
)

var t0 = time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestCPUPercent(t *testing.T) {
	f := func(name string, prev, cur cpu.TimesStat, want *wire.CPU, wantErr error) {
		t.Helper()
		got, err := cpuPercent(prev, cur)
		if err != wantErr {
			t.Fatalf("%s: err = %v, want %v", name, err, wantErr)
		}
		if (got == nil) != (want == nil) {
			t.Fatalf("%s: got %+v, want %+v", name, got, want)
		}
		if got == nil {
			return
		}
		g := []float64{got.BusyPct, got.UserPct, got.SystemPct, got.IOWaitPct, got.StealPct}
		w := []float64{want.BusyPct, want.UserPct, want.SystemPct, want.IOWaitPct, want.StealPct}
		for i := range g {
			if !near(g[i], w[i]) || g[i] < 0 || g[i] > 100 {
				t.Fatalf("%s: got %+v, want %+v", name, got, want)
			}
		}
	}
	base := cpu.TimesStat{User: 100, Nice: 10, System: 50, Idle: 800, Iowait: 20, Irq: 5, Softirq: 5, Steal: 10}
	// +30 user, +10 nice, +10 system, +40 idle, +5 iowait, +5 steal: total 100
	next := cpu.TimesStat{User: 130, Nice: 20, System: 60, Idle: 840, Iowait: 25, Irq: 5, Softirq: 5, Steal: 15,
		Guest: 7} // guest is inside user and must not change the total
	f("normal", base, next, &wire.CPU{BusyPct: 55, UserPct: 40, SystemPct: 10, IOWaitPct: 5, StealPct: 5}, nil)
	f("all idle", base, cpu.TimesStat{User: 100, Nice: 10, System: 50, Idle: 900, Iowait: 20, Irq: 5, Softirq: 5,
		Steal: 10}, &wire.CPU{}, nil)
	f("no time elapsed", base, base, nil, nil)
	reset := base
	reset.Idle = 10
	f("idle went backwards", base, reset, nil, errCPUReset)
	reset = next
	reset.User = 1
	f("user went backwards", base, reset, nil, errCPUReset)
}

func TestCollectCPUFirstResetRecover(t *testing.T) {
	src := &fakeSource{}
	c := New(Config{}, src, nil, nil)
	steps := []struct {
		times   cpu.TimesStat
		busy    float64 // -1: CPU family absent
		errWant bool
	}{
		{cpu.TimesStat{User: 100, Idle: 100}, -1, false}, // first cycle: nothing to compare
		{cpu.TimesStat{User: 150, Idle: 150}, 50, false},
		{cpu.TimesStat{User: 10, Idle: 10}, -1, true}, // reset
		{cpu.TimesStat{User: 40, Idle: 80}, 30, false},
	}
	for i, st := range steps {
		src.cpu = st.times
		s := c.Collect(context.Background(), t0.Add(time.Duration(i)*10*time.Second))
		if st.busy < 0 {
			if s.CPU != nil {
				t.Fatalf("step %d: CPU = %+v, want nil", i, s.CPU)
			}
		} else if s.CPU == nil || !near(s.CPU.BusyPct, st.busy) {
			t.Fatalf("step %d: CPU = %+v, want busy %v", i, s.CPU, st.busy)
		}
		if _, has := s.Errors["cpu"]; has != st.errWant {
			t.Fatalf("step %d: errors = %v", i, s.Errors)
		}
	}
}

func TestCollectDeltasAndResets(t *testing.T) {
	src := &fakeSource{
		disk: map[string]disk.IOCountersStat{
			"sda":  {ReadBytes: 1000, WriteBytes: 2000, ReadCount: 10, WriteCount: 20},
			"sda1": {ReadBytes: 900, WriteBytes: 1900, ReadCount: 9, WriteCount: 19},
			"sdb":  {ReadBytes: 5000, WriteBytes: 5000, ReadCount: 50, WriteCount: 50},
		},
		net: []net.IOCountersStat{
			{Name: "lo", BytesRecv: 100, BytesSent: 100},
			{Name: "eth0", BytesRecv: 1000, BytesSent: 500, PacketsRecv: 10, PacketsSent: 5, Errin: 1},
			{Name: "eth1", BytesRecv: math.MaxUint64 - 10, BytesSent: 10},
		},
	}
	c := New(Config{}, src, nil, nil)
	s := c.Collect(context.Background(), t0)
	if s.Disks != nil || s.Net != nil || s.IntervalSeconds != 0 {
		t.Fatalf("first cycle: disks %v net %v interval %v, want nil/nil/0", s.Disks, s.Net, s.IntervalSeconds)
	}
	src.disk = map[string]disk.IOCountersStat{
		"sda":  {ReadBytes: 1500, WriteBytes: 2100, ReadCount: 15, WriteCount: 21},
		"sda1": {ReadBytes: 1400, WriteBytes: 2000, ReadCount: 14, WriteCount: 20},
		"sdb":  {ReadBytes: 10, WriteBytes: 6000, ReadCount: 1, WriteCount: 60}, // read counters reset
		"sdc":  {ReadBytes: 1, WriteBytes: 1},                                   // new device
	}
	src.net = []net.IOCountersStat{
		{Name: "lo", BytesRecv: 900, BytesSent: 900},
		{Name: "eth0", BytesRecv: 1600, BytesSent: 800, PacketsRecv: 16, PacketsSent: 8, Errin: 3, Errout: 1},
		{Name: "eth1", BytesRecv: 5, BytesSent: 20}, // rx wrapped/reset
	}
	s = c.Collect(context.Background(), t0.Add(15*time.Second))
	if s.IntervalSeconds != 15 {
		t.Fatalf("interval = %v, want 15", s.IntervalSeconds)
	}
	wantDisk := []wire.DiskIO{
		{Device: "sda", ReadBytes: 500, WriteBytes: 100, Reads: 5, Writes: 1},
		{Device: "sdb", ReadBytes: 0, WriteBytes: 1000, Reads: 0, Writes: 10},
	}
	if !reflect.DeepEqual(s.Disks, wantDisk) {
		t.Fatalf("disks = %+v\nwant %+v", s.Disks, wantDisk)
	}
	wantNet := []wire.NetIO{
		{Interface: "eth0", RxBytes: 600, TxBytes: 300, RxPackets: 6, TxPackets: 3, RxErrors: 2, TxErrors: 1},
		{Interface: "eth1", RxBytes: 0, TxBytes: 10},
	}
	if !reflect.DeepEqual(s.Net, wantNet) {
		t.Fatalf("net = %+v\nwant %+v", s.Net, wantNet)
	}
	// disk counters unavailable: family nil and named in Errors, other families unaffected
	src.disk = nil
	s = c.Collect(context.Background(), t0.Add(30*time.Second))
	if s.Disks != nil || !strings.Contains(s.Errors["disk"], "fake failure") || s.Net == nil {
		t.Fatalf("disk failure: disks %v errors %v", s.Disks, s.Errors)
	}
}

func TestNetExcludeConfig(t *testing.T) {
	list := []net.IOCountersStat{{Name: "lo"}, {Name: "eth0"}, {Name: "veth12ab"}, {Name: "docker0"}}
	f := func(exclude []string, want []string) {
		t.Helper()
		c := New(Config{NetExcludeInterfaces: exclude}, &fakeSource{net: list}, nil, nil)
		c.Collect(context.Background(), t0)
		s := c.Collect(context.Background(), t0.Add(time.Second))
		var got []string
		for _, n := range s.Net {
			got = append(got, n.Interface)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("exclude %q: got %q, want %q", exclude, got, want)
		}
	}
	f(nil, []string{"docker0", "eth0", "veth12ab"})
	f([]string{"lo", "veth*", "docker*"}, []string{"eth0"})
	f([]string{}, []string{"docker0", "eth0", "lo", "veth12ab"})
}

func TestWholeDisks(t *testing.T) {
	in := []string{"sda", "sda1", "sda2", "nvme0n1", "nvme0n1p1", "mmcblk0", "mmcblk0p1", "vdb1", "loop0",
		"loop0p1", "ram0", "zram0", "dm-0", "md127", "sr0", "xvda", "xvda1", "nbd0", "hdc"}
	want := []string{"hdc", "mmcblk0", "nvme0n1", "sda", "vdb1", "xvda"}
	if got := wholeDisks(in); !slices.Equal(got, want) {
		t.Fatalf("wholeDisks = %q, want %q", got, want)
	}
}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func TestConnsInboundAndNew(t *testing.T) {
	listen := []TCPConn{
		{State: TCPListen, Local: ap("0.0.0.0:22")},
		{State: TCPListen, Local: ap("[::]:22")}, // same port twice: one listening port
		{State: TCPListen, Local: ap("127.0.0.1:5432")},
	}
	est := func(local, remote string) TCPConn {
		return TCPConn{State: TCPEstablished, Local: ap(local), Remote: ap(remote)}
	}
	src := &fakeSource{}
	c := New(Config{}, src, nil, nil)
	cycles := []struct {
		conns []TCPConn
		want  wire.Conns
	}{
		{append(slices.Clone(listen),
			est("10.0.0.1:22", "10.0.0.9:50000"),
			est("10.0.0.1:40000", "10.0.0.8:443"), // outbound
			TCPConn{State: TCPOther, Local: ap("10.0.0.1:22"), Remote: ap("10.0.0.7:1")},
		), wire.Conns{Established: 2, Inbound: 1, NewInbound: 0, Listening: 2}},
		{append(slices.Clone(listen),
			est("10.0.0.1:22", "10.0.0.9:50000"), // still there
			est("10.0.0.1:22", "10.0.0.9:50001"), // new
			est("127.0.0.1:5432", "127.0.0.1:33333"),
			est("10.0.0.1:40000", "10.0.0.8:443"),
		), wire.Conns{Established: 4, Inbound: 3, NewInbound: 2, Listening: 2}},
		{append(slices.Clone(listen),
			est("10.0.0.1:22", "10.0.0.9:50000"), // seen two cycles ago and last cycle
		), wire.Conns{Established: 1, Inbound: 1, NewInbound: 0, Listening: 2}},
		{append(slices.Clone(listen),
			est("10.0.0.1:22", "10.0.0.9:50001"), // gone last cycle: new again
		), wire.Conns{Established: 1, Inbound: 1, NewInbound: 1, Listening: 2}},
		{nil, wire.Conns{}},
	}
	for i, cy := range cycles {
		src.conns = cy.conns
		s := c.Collect(context.Background(), t0.Add(time.Duration(i)*time.Minute))
		if s.Conns == nil || *s.Conns != cy.want {
			t.Fatalf("cycle %d: conns = %+v, want %+v", i, s.Conns, cy.want)
		}
	}
}

func TestCollectAllFamiliesAndObserver(t *testing.T) {
	src := &fakeSource{
		cpu:   cpu.TimesStat{User: 1, Idle: 1},
		parts: []disk.PartitionStat{{Device: "/dev/sda1", Mountpoint: "/", Fstype: "ext4"}},
		disk:  map[string]disk.IOCountersStat{},
	}
	calls := map[string]int{}
	var failed []string
	obs := func(family string, d time.Duration, err error) {
		calls[family]++
		if d < 0 {
			t.Errorf("%s: negative duration", family)
		}
		if err != nil {
			failed = append(failed, family)
		}
	}
	c := New(Config{}, src, obs, nil)
	c.Collect(context.Background(), t0)
	src.cpu = cpu.TimesStat{User: 3, Idle: 3}
	s := c.Collect(context.Background(), t0.Add(10*time.Second))
	for _, fam := range Families() {
		if calls[fam] != 2 {
			t.Fatalf("observer called %d times for %s, want 2", calls[fam], fam)
		}
	}
	if len(calls) != len(Families()) || len(failed) != 0 || s.Errors != nil {
		t.Fatalf("calls %v failed %v errors %v", calls, failed, s.Errors)
	}
	want := wire.Sample{
		Time: t0.Add(10 * time.Second), IntervalSeconds: 10,
		CPU:    &wire.CPU{BusyPct: 50, UserPct: 50},
		Load:   &wire.Load{Load1: 1, Load5: 2, Load15: 3},
		Memory: &wire.Memory{TotalBytes: 1000, UsedBytes: 750, AvailableBytes: 250, UsedPct: 75},
		Swap:   &wire.Swap{TotalBytes: 200, UsedBytes: 50, UsedPct: 25},
		FS: []wire.Filesystem{{Mount: "/", Device: "/dev/sda1", FSType: "ext4", TotalBytes: 100, UsedBytes: 40,
			FreeBytes: 60, UsedPct: 40, InodesUsedPct: 10}},
		Disks: []wire.DiskIO{}, Net: []wire.NetIO{},
		Conns:    &wire.Conns{},
		Sessions: ptr(2), Procs: ptr(123), Uptime: ptr[uint64](3600),
	}
	if g, w := jsonString(t, s), jsonString(t, want); g != w {
		t.Fatalf("sample:\n got %s\nwant %s", g, w)
	}
}

func jsonString(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func ptr[T any](v T) *T { return &v }

func TestCollectPanicAndCancel(t *testing.T) {
	src := &fakeSource{cpuPanic: true, disk: map[string]disk.IOCountersStat{}}
	c := New(Config{}, src, nil, nil)
	s := c.Collect(context.Background(), t0)
	if s.CPU != nil || !strings.Contains(s.Errors["cpu"], "panic: boom") || s.Memory == nil {
		t.Fatalf("panic: cpu %v errors %v mem %v", s.CPU, s.Errors, s.Memory)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s = c.Collect(ctx, t0.Add(time.Second))
	for _, fam := range Families() {
		if !strings.Contains(s.Errors[fam], "context canceled") {
			t.Fatalf("cancelled: errors[%s] = %q", fam, s.Errors[fam])
		}
	}
	if s.Memory != nil || s.Procs != nil || s.Conns != nil {
		t.Fatalf("cancelled cycle reported data: %+v", s)
	}
}

func TestHungMount(t *testing.T) {
	b := newBlocker("/mnt/dead")
	t.Cleanup(func() {
		select {
		case <-b.release:
		default:
			close(b.release)
		}
	})
	src := &fakeSource{
		parts: []disk.PartitionStat{
			{Device: "/dev/sda1", Mountpoint: "/", Fstype: "ext4"},
			{Device: "/dev/sdb1", Mountpoint: "/mnt/dead", Fstype: "ext4"},
			{Device: "/dev/sdc1", Mountpoint: "/srv", Fstype: "xfs"},
		},
		usage: b.usage,
		disk:  map[string]disk.IOCountersStat{},
	}
	const timeout = 100 * time.Millisecond
	c := New(Config{StatfsTimeout: timeout}, src, nil, nil)
	mounts := func(s wire.Sample) []string {
		var m []string
		for _, f := range s.FS {
			m = append(m, f.Mount)
		}
		return m
	}
	check := func(step string, s wire.Sample, wantMounts []string, wantErr string, wantCalls int32) {
		t.Helper()
		if got := mounts(s); !slices.Equal(got, wantMounts) {
			t.Fatalf("%s: mounts %q, want %q", step, got, wantMounts)
		}
		if !strings.Contains(s.Errors["fs"], wantErr) || (wantErr == "") != (s.Errors["fs"] == "") {
			t.Fatalf("%s: errors[fs] = %q, want %q", step, s.Errors["fs"], wantErr)
		}
		if n := b.calls.Load(); n != wantCalls {
			t.Fatalf("%s: %d statfs calls on the dead mount, want %d", step, n, wantCalls)
		}
		if p := b.peak.Load(); p > 1 {
			t.Fatalf("%s: %d concurrent statfs calls on the dead mount", step, p)
		}
	}

	// The cycle returns although statfs never does (the bound is generous: it only proves there is no hang).
	start := time.Now()
	s := c.Collect(context.Background(), t0)
	if el := time.Since(start); el > 20*timeout {
		t.Fatalf("first cycle took %v with a %v timeout", el, timeout)
	}
	check("first cycle", s, []string{"/", "/srv"}, "/mnt/dead: statfs timeout after 100ms", 1)

	// Later cycles do not call it again while the first call is outstanding, even past the retry time.
	s = c.Collect(context.Background(), t0.Add(time.Minute))
	check("second cycle", s, []string{"/", "/srv"}, "/mnt/dead: statfs hung since 2026-11-30T02:00:00Z", 1)
	s = c.Collect(context.Background(), t0.Add(StatfsRetryAfter+time.Minute))
	check("past retry time, still hung", s, []string{"/", "/srv"}, "/mnt/dead: statfs hung", 1)

	// The call returns: the mount is still skipped until its retry time...
	close(b.release)
	for b.inflight.Load() != 0 {
		time.Sleep(time.Millisecond)
	}
	s = c.Collect(context.Background(), t0.Add(StatfsRetryAfter+2*time.Minute))
	check("returned after retry time", s, []string{"/", "/mnt/dead", "/srv"}, "", 2)
}

func TestHungMountSkippedUntilRetry(t *testing.T) {
	b := newBlocker("/mnt/dead")
	src := &fakeSource{
		parts: []disk.PartitionStat{{Device: "/dev/sdb1", Mountpoint: "/mnt/dead", Fstype: "ext4"}},
		usage: b.usage,
		disk:  map[string]disk.IOCountersStat{},
	}
	c := New(Config{StatfsTimeout: 20 * time.Millisecond}, src, nil, nil)
	s := c.Collect(context.Background(), t0)
	if !strings.Contains(s.Errors["fs"], "statfs timeout") {
		t.Fatalf("errors = %v", s.Errors)
	}
	close(b.release) // the hung call returns before the retry time
	for b.inflight.Load() != 0 {
		time.Sleep(time.Millisecond)
	}
	s = c.Collect(context.Background(), t0.Add(time.Minute))
	if !strings.Contains(s.Errors["fs"], "skipped after statfs timeout until 2026-11-30T02:10:00Z") || len(s.FS) != 0 {
		t.Fatalf("before retry: fs %v errors %v", s.FS, s.Errors)
	}
	if b.calls.Load() != 1 {
		t.Fatalf("calls = %d before retry time, want 1", b.calls.Load())
	}
	s = c.Collect(context.Background(), t0.Add(StatfsRetryAfter))
	if len(s.FS) != 1 || s.Errors != nil || b.calls.Load() != 2 {
		t.Fatalf("at retry: fs %v errors %v calls %d", s.FS, s.Errors, b.calls.Load())
	}
}

func TestHostFacts(t *testing.T) {
	src := &fakeSource{info: &host.InfoStat{Hostname: "gov-db-01", OS: "linux", Platform: "kylin",
		PlatformVersion: "V10", KernelVersion: "4.19.90", KernelArch: "loongarch64", VirtualizationSystem: "kvm",
		VirtualizationRole: "guest", BootTime: 1764460800}}
	c := New(Config{AgentVersion: "1.2.3"}, src, nil, nil)
	got, err := c.HostFacts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := wire.HostFacts{Hostname: "gov-db-01", OS: "linux", Platform: "kylin", PlatformVersion: "V10",
		Kernel: "4.19.90", Arch: "loongarch64", Virtualization: "kvm", VirtRole: "guest",
		CPUModel: "Loongson-3A5000", CPUCores: 4, MemTotalBytes: 1000, BootTime: 1764460800, AgentVersion: "1.2.3"}
	if got != want {
		t.Fatalf("facts:\n got %+v\nwant %+v", got, want)
	}
	// host info failing: the rest is still returned, with the error
	src.info, src.infoErr = nil, errFake
	got, err = c.HostFacts(context.Background())
	if err == nil || !strings.Contains(err.Error(), "host info: fake failure") {
		t.Fatalf("err = %v", err)
	}
	if got.CPUCores != 4 || got.MemTotalBytes != 1000 || got.Hostname == "" || got.AgentVersion != "1.2.3" {
		t.Fatalf("partial facts = %+v", got)
	}
}

func TestHungPartitions(t *testing.T) {
	root := disk.PartitionStat{Device: "/dev/sda1", Mountpoint: "/", Fstype: "ext4"}
	src := &fakeSource{parts: []disk.PartitionStat{root}, disk: map[string]disk.IOCountersStat{}}
	c := New(Config{StatfsTimeout: 30 * time.Millisecond}, src, nil, nil)
	if s := c.Collect(context.Background(), t0); len(s.FS) != 1 || s.Errors != nil {
		t.Fatalf("first cycle: fs %v errors %v", s.FS, s.Errors)
	}
	release := make(chan struct{})
	var calls atomic.Int32
	src.partsHook = func() { calls.Add(1); <-release }
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	s := c.Collect(context.Background(), t0.Add(time.Minute))
	if len(s.FS) != 1 || !strings.Contains(s.Errors["fs"], "mount listing timed out after 30ms; using the previous list") {
		t.Fatalf("hung listing: fs %v errors %v", s.FS, s.Errors)
	}
	s = c.Collect(context.Background(), t0.Add(2*time.Minute))
	if len(s.FS) != 1 || !strings.Contains(s.Errors["fs"], "still hung") || calls.Load() != 1 {
		t.Fatalf("still hung: fs %v errors %v calls %d", s.FS, s.Errors, calls.Load())
	}
	src.parts = append(src.parts, disk.PartitionStat{Device: "/dev/sdb1", Mountpoint: "/srv", Fstype: "xfs"})
	close(release)
	src.partsHook = nil
	for {
		s = c.Collect(context.Background(), t0.Add(3*time.Minute))
		if s.Errors == nil {
			break
		}
		time.Sleep(5 * time.Millisecond) // the released call has not delivered its result yet
	}
	if len(s.FS) != 2 {
		t.Fatalf("after release: fs %v", s.FS)
	}
}

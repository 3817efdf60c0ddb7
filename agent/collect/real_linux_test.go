package collect

import (
	"context"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestRealMachine runs two cycles against this machine through gopsutil and checks the values are sane.
func TestRealMachine(t *testing.T) {
	c := New(Config{AgentVersion: "test"}, nil, nil, nil)
	ctx := context.Background()
	first := c.Collect(ctx, time.Now())
	if first.CPU != nil || first.IntervalSeconds != 0 {
		t.Fatalf("first cycle: cpu %+v interval %v", first.CPU, first.IntervalSeconds)
	}
	// Burn some CPU so the counters move between the cycles.
	deadline := time.Now().Add(100 * time.Millisecond)
	for x := 0; time.Now().Before(deadline); x++ {
		_ = x * x
	}
	s := c.Collect(ctx, time.Now())
	if len(s.Errors) != 0 {
		t.Fatalf("errors: %v", s.Errors)
	}
	if s.IntervalSeconds <= 0 {
		t.Fatalf("interval = %v", s.IntervalSeconds)
	}
	if s.CPU == nil || s.CPU.BusyPct <= 0 || s.CPU.BusyPct > 100 || s.CPU.IOWaitPct < 0 || s.CPU.UserPct > 100 {
		t.Fatalf("cpu = %+v", s.CPU)
	}
	if s.Load == nil || s.Load.Load1 < 0 {
		t.Fatalf("load = %+v", s.Load)
	}
	if s.Memory == nil || s.Memory.TotalBytes == 0 || s.Memory.UsedBytes == 0 ||
		s.Memory.UsedPct <= 0 || s.Memory.UsedPct >= 100 {
		t.Fatalf("memory = %+v", s.Memory)
	}
	if s.Swap == nil || s.Swap.UsedBytes > s.Swap.TotalBytes {
		t.Fatalf("swap = %+v", s.Swap)
	}
	if len(s.FS) == 0 {
		t.Fatal("no filesystem")
	}
	for _, f := range s.FS {
		if f.TotalBytes == 0 || f.UsedPct < 0 || f.UsedPct > 100 || f.Mount == "" {
			t.Fatalf("fs = %+v", f)
		}
	}
	if s.Disks == nil || s.Net == nil {
		t.Fatalf("disks %v net %v", s.Disks, s.Net)
	}
	for _, n := range s.Net {
		if n.Interface == "lo" {
			t.Fatal("loopback reported")
		}
	}
	if s.Conns == nil || s.Conns.Inbound > s.Conns.Established {
		t.Fatalf("conns = %+v", s.Conns)
	}
	if s.Sessions == nil || *s.Sessions < 0 || s.Procs == nil || *s.Procs < 2 || s.Uptime == nil || *s.Uptime == 0 {
		t.Fatalf("sessions %v procs %v uptime %v", s.Sessions, s.Procs, s.Uptime)
	}

	f, err := c.HostFacts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if f.Hostname == "" || f.OS == "" || f.Kernel == "" || f.Arch == "" || f.CPUCores <= 0 ||
		f.MemTotalBytes != s.Memory.TotalBytes || f.BootTime <= 0 || f.AgentVersion != "test" {
		t.Fatalf("host facts = %+v", f)
	}
}

// BenchmarkCollect measures one whole cycle against this machine.
func BenchmarkCollect(b *testing.B) {
	c := New(Config{}, nil, nil, nil)
	ctx := context.Background()
	now := time.Now()
	c.Collect(ctx, now)
	b.ReportAllocs()
	before := cpuTime(b)
	for b.Loop() {
		now = now.Add(10 * time.Second)
		c.Collect(ctx, now)
	}
	// CPU time (user + system, all threads) per cycle: the kernel's share matters here.
	b.ReportMetric(float64(cpuTime(b)-before)/float64(b.N), "cpu-ns/op")
}

// cpuTime is the CPU time this process has used so far.
func cpuTime(tb testing.TB) time.Duration {
	tb.Helper()
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

package collect

import (
	"context"
	"errors"

	"sync/atomic"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/disk"
	"github.com/shirou/gopsutil/v4/host"
	"github.com/shirou/gopsutil/v4/load"
	"github.com/shirou/gopsutil/v4/mem"
	"github.com/shirou/gopsutil/v4/net"
)

// fakeSource is a scripted Source: each field holds the next answer; a nil func field answers with an error.
type fakeSource struct {
	cpu       cpu.TimesStat
	cpuPanic  bool
	parts     []disk.PartitionStat
	partsHook func() // called inside Partitions, e.g. to block
	usage     func(path string) (*disk.UsageStat, error)
	disk      map[string]disk.IOCountersStat
	net       []net.IOCountersStat
	conns     []TCPConn
	info      *host.InfoStat
	infoErr   error
}

var errFake = errors.New("fake failure")

func (f *fakeSource) CPUTimes(context.Context) (cpu.TimesStat, error) {
	if f.cpuPanic {
		panic("boom")
	}
	return f.cpu, nil
}
func (f *fakeSource) LoadAvg(context.Context) (*load.AvgStat, error) {
	return &load.AvgStat{Load1: 1, Load5: 2, Load15: 3}, nil
}
func (f *fakeSource) VirtualMemory(context.Context) (*mem.VirtualMemoryStat, error) {
	return &mem.VirtualMemoryStat{Total: 1000, Available: 250}, nil
}
func (f *fakeSource) SwapMemory(context.Context) (*mem.SwapMemoryStat, error) {
	return &mem.SwapMemoryStat{Total: 200, Used: 50}, nil
}
func (f *fakeSource) Partitions(context.Context, bool) ([]disk.PartitionStat, error) {
	parts, hook := f.parts, f.partsHook // read before blocking: the test changes them later
	if hook != nil {
		hook()
	}
	return parts, nil
}
func (f *fakeSource) Usage(_ context.Context, path string) (*disk.UsageStat, error) {
	if f.usage == nil {
		return &disk.UsageStat{Path: path, Total: 100, Used: 40, Free: 60, InodesTotal: 10, InodesUsed: 1}, nil
	}
	return f.usage(path)
}
func (f *fakeSource) IOCounters(context.Context) (map[string]disk.IOCountersStat, error) {
	if f.disk == nil {
		return nil, errFake
	}
	return f.disk, nil
}
func (f *fakeSource) NetIOCounters(context.Context) ([]net.IOCountersStat, error) { return f.net, nil }
func (f *fakeSource) TCPConns(context.Context) ([]TCPConn, error)                 { return f.conns, nil }
func (f *fakeSource) Sessions(context.Context) (int, error)                       { return 2, nil }
func (f *fakeSource) ProcCount(context.Context) (int, error)                      { return 123, nil }
func (f *fakeSource) Uptime(context.Context) (uint64, error)                      { return 3600, nil }
func (f *fakeSource) HostInfo(context.Context) (*host.InfoStat, error)            { return f.info, f.infoErr }
func (f *fakeSource) CPUInfo(context.Context) ([]cpu.InfoStat, error) {
	return []cpu.InfoStat{{ModelName: "  Loongson-3A5000  "}}, nil
}
func (f *fakeSource) LogicalCPUs(context.Context) (int, error) { return 4, nil }

// blocker makes Usage hang on one mount until released, counting calls and the peak of concurrent calls.
type blocker struct {
	mount    string
	release  chan struct{}
	calls    atomic.Int32
	inflight atomic.Int32
	peak     atomic.Int32
}

func newBlocker(mount string) *blocker { return &blocker{mount: mount, release: make(chan struct{})} }

func (b *blocker) usage(path string) (*disk.UsageStat, error) {
	if path != b.mount {
		return &disk.UsageStat{Path: path, Total: 100, Used: 10, Free: 90}, nil
	}
	b.calls.Add(1)
	n := b.inflight.Add(1)
	defer b.inflight.Add(-1)
	for {
		p := b.peak.Load()
		if n <= p || b.peak.CompareAndSwap(p, n) {
			break
		}
	}
	<-b.release
	return &disk.UsageStat{Path: path, Total: 100, Used: 50, Free: 50}, nil
}

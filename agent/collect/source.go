package collect

import (
	"context"
	"net/netip"
	"sync"

	"github.com/shirou/gopsutil/v4/common"
	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/disk"
	"github.com/shirou/gopsutil/v4/host"
	"github.com/shirou/gopsutil/v4/load"
	"github.com/shirou/gopsutil/v4/mem"
	"github.com/shirou/gopsutil/v4/net"
)

// CPUSource reads the cumulative CPU time counters of the whole host (all CPUs together).
type CPUSource interface {
	CPUTimes(ctx context.Context) (cpu.TimesStat, error)
}

// LoadSource reads the run-queue load averages.
type LoadSource interface {
	LoadAvg(ctx context.Context) (*load.AvgStat, error)
}

// MemSource reads physical memory and swap.
type MemSource interface {
	VirtualMemory(ctx context.Context) (*mem.VirtualMemoryStat, error)
	SwapMemory(ctx context.Context) (*mem.SwapMemoryStat, error)
}

// FSSource lists mounted filesystems and reads their usage. Usage may block forever (a dead network mount):
// the collector calls it in a goroutine of its own under a timeout.
type FSSource interface {
	// Partitions lists mounts; all=false keeps only the kernel's real (non-"nodev") filesystem types.
	Partitions(ctx context.Context, all bool) ([]disk.PartitionStat, error)
	Usage(ctx context.Context, path string) (*disk.UsageStat, error)
}

// DiskIOSource reads cumulative block-device counters keyed by device name.
type DiskIOSource interface {
	IOCounters(ctx context.Context) (map[string]disk.IOCountersStat, error)
}

// NetIOSource reads cumulative per-interface counters.
type NetIOSource interface {
	NetIOCounters(ctx context.Context) ([]net.IOCountersStat, error)
}

// ConnSource lists the host's TCP sockets (IPv4 and IPv6) with their states.
type ConnSource interface {
	TCPConns(ctx context.Context) ([]TCPConn, error)
}

// SystemSource reads the logged-in session count, process count and uptime.
type SystemSource interface {
	// Sessions counts logged-in user sessions; a system that keeps no utmp reports 0 without error.
	Sessions(ctx context.Context) (int, error)
	ProcCount(ctx context.Context) (int, error)
	Uptime(ctx context.Context) (uint64, error)
}

// HostSource reads the slow-changing facts about the host; it may be slow (host.Info can exec lsb_release).
type HostSource interface {
	HostInfo(ctx context.Context) (*host.InfoStat, error)
	CPUInfo(ctx context.Context) ([]cpu.InfoStat, error)
	LogicalCPUs(ctx context.Context) (int, error)
}

// Source is everything the Collector reads from the operating system, one small interface per metric family.
// NewSource returns the real implementation over gopsutil; tests substitute fakes.
type Source interface {
	CPUSource
	LoadSource
	MemSource
	FSSource
	DiskIOSource
	NetIOSource
	ConnSource
	SystemSource
	HostSource
}

// TCPState is the state of a TCP socket, reduced to what the collector counts.
type TCPState uint8

// TCP socket states the collector distinguishes.
const (
	TCPOther TCPState = iota
	TCPEstablished
	TCPListen
)

// TCPConn is one TCP socket: its state and its local and remote endpoints.
type TCPConn struct {
	State  TCPState
	Local  netip.AddrPort
	Remote netip.AddrPort
}

// NewSource returns the real Source over gopsutil v4. It honours HOST_PROC, HOST_SYS, HOST_ETC, HOST_VAR
// (environment variables, or a common.EnvMap under common.EnvKey in the context passed to each call).
func NewSource() Source { return &psSource{} }

// psSource implements Source over gopsutil. env, when set, overrides the host paths of every call (tests point
// it at fixture trees under testdata/).
type psSource struct {
	env common.EnvMap

	mu    sync.Mutex // guards nlBuf
	nlBuf []byte     // netlink receive buffer, reused across calls
}

func (s *psSource) ctx(ctx context.Context) context.Context {
	if s.env == nil {
		return ctx
	}
	return context.WithValue(ctx, common.EnvKey, s.env)
}

// hostPath resolves a HOST_* path the way gopsutil does: the context's EnvMap, then the environment, then dflt.
func hostPath(ctx context.Context, key common.EnvKeyType, dflt string, elem ...string) string {
	var v string
	if env, ok := ctx.Value(common.EnvKey).(common.EnvMap); ok {
		v = env[key]
	}
	if v == "" {
		v = getenv(string(key))
	}
	if v == "" {
		v = dflt
	}
	return joinPath(v, elem...)
}

func (s *psSource) CPUTimes(ctx context.Context) (cpu.TimesStat, error) {
	ts, err := cpu.TimesWithContext(s.ctx(ctx), false)
	if err != nil {
		return cpu.TimesStat{}, err
	}
	if len(ts) == 0 {
		return cpu.TimesStat{}, errNoData
	}
	return ts[0], nil
}

func (s *psSource) LoadAvg(ctx context.Context) (*load.AvgStat, error) {
	return load.AvgWithContext(s.ctx(ctx))
}

func (s *psSource) VirtualMemory(ctx context.Context) (*mem.VirtualMemoryStat, error) {
	return mem.VirtualMemoryWithContext(s.ctx(ctx))
}

func (s *psSource) Partitions(ctx context.Context, all bool) ([]disk.PartitionStat, error) {
	return listPartitions(s.ctx(ctx), all)
}

func (s *psSource) Usage(ctx context.Context, path string) (*disk.UsageStat, error) {
	return disk.UsageWithContext(s.ctx(ctx), path)
}

func (s *psSource) NetIOCounters(ctx context.Context) ([]net.IOCountersStat, error) {
	return net.IOCountersWithContext(s.ctx(ctx), true)
}

func (s *psSource) HostInfo(ctx context.Context) (*host.InfoStat, error) {
	return host.InfoWithContext(s.ctx(ctx))
}

func (s *psSource) CPUInfo(ctx context.Context) ([]cpu.InfoStat, error) {
	return cpu.InfoWithContext(s.ctx(ctx))
}

func (s *psSource) LogicalCPUs(ctx context.Context) (int, error) {
	return cpu.CountsWithContext(s.ctx(ctx), true)
}

func (s *psSource) Uptime(ctx context.Context) (uint64, error) {
	return host.UptimeWithContext(s.ctx(ctx))
}

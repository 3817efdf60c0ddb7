package store

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"zhizhi/agent/wire"
)

// fakeClock is a settable clock for tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func openAt(t testing.TB, path string, opts Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), path, opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openTest(t testing.TB, opts Options) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "zhizhi.db")
	return openAt(t, path, opts), path
}

func enroll(t testing.TB, s *Store, system, dept string) (Agent, string) {
	t.Helper()
	a, tok, err := s.EnrollAgent(context.Background(), system, dept)
	if err != nil {
		t.Fatalf("enroll: %v", err)
	}
	return a, tok
}

// realisticSample is a sample with ~3 filesystems, 2 disks and 2 NICs whose values derive from r.
func realisticSample(r *rand.Rand, seq uint64, ts time.Time) wire.Sample {
	sessions, procs, up, own := r.IntN(5), 150+r.IntN(100), uint64(100000+seq*15), uint64(2000+r.IntN(1000))
	fsPct := func(base float64) float64 { return base + r.Float64()*5 }
	return wire.Sample{
		Seq: seq, Time: ts, IntervalSeconds: 15,
		CPU:    &wire.CPU{BusyPct: r.Float64() * 100, UserPct: r.Float64() * 50, SystemPct: r.Float64() * 10, IOWaitPct: r.Float64() * 5},
		Load:   &wire.Load{Load1: r.Float64() * 4, Load5: r.Float64() * 4, Load15: r.Float64() * 4},
		Memory: &wire.Memory{TotalBytes: 16 << 30, UsedBytes: uint64(r.IntN(16 << 30)), AvailableBytes: 4 << 30, UsedPct: r.Float64() * 100},
		Swap:   &wire.Swap{TotalBytes: 2 << 30, UsedBytes: 0, UsedPct: r.Float64()},
		FS: []wire.Filesystem{
			{Mount: "/", Device: "/dev/sda1", FSType: "ext4", TotalBytes: 100 << 30, UsedBytes: uint64(r.IntN(100 << 30)), FreeBytes: 10 << 30, UsedPct: fsPct(40), InodesUsedPct: 3},
			{Mount: "/boot", Device: "/dev/sda2", FSType: "xfs", TotalBytes: 1 << 30, UsedBytes: 200 << 20, FreeBytes: 800 << 20, UsedPct: fsPct(20), InodesUsedPct: 1},
			{Mount: "/data", Device: "/dev/mapper/vg-data", FSType: "ext4", TotalBytes: 2 << 40, UsedBytes: uint64(r.IntN(1 << 40)), FreeBytes: 1 << 40, UsedPct: fsPct(60), InodesUsedPct: 2},
		},
		Disks: []wire.DiskIO{
			{Device: "sda", ReadBytes: uint64(r.IntN(1 << 24)), WriteBytes: uint64(r.IntN(1 << 24)), Reads: 10, Writes: 20},
			{Device: "sdb", ReadBytes: uint64(r.IntN(1 << 20)), WriteBytes: uint64(r.IntN(1 << 20)), Reads: 1, Writes: 2},
		},
		Net: []wire.NetIO{
			{Interface: "eth0", RxBytes: uint64(r.IntN(1 << 22)), TxBytes: uint64(r.IntN(1 << 22)), RxPackets: 100, TxPackets: 90, RxErrors: uint64(r.IntN(2))},
			{Interface: "eth1", RxBytes: uint64(r.IntN(1 << 16)), TxBytes: uint64(r.IntN(1 << 16)), RxPackets: 10, TxPackets: 9},
		},
		Conns:    &wire.Conns{Established: r.IntN(200), Inbound: r.IntN(50), NewInbound: r.IntN(10), Listening: 12},
		Sessions: &sessions, Procs: &procs, Uptime: &up, AgentNetBytes: &own,
	}
}

func batchOf(a Agent, sentAt time.Time, samples ...wire.Sample) *wire.Batch {
	return &wire.Batch{
		Version: wire.SchemaVersion, AgentID: a.ID, SentAt: sentAt,
		Host:    &wire.HostFacts{Hostname: "host-" + a.ID, OS: "linux", Platform: "kylin", CPUCores: 8, AgentVersion: "test"},
		Samples: samples,
	}
}

func mustIngest(t testing.TB, s *Store, a Agent, b *wire.Batch, at time.Time) wire.Ack {
	t.Helper()
	ack, err := s.Ingest(context.Background(), a, b, at)
	if err != nil {
		t.Fatalf("ingest: %v", err)
	}
	return ack
}

func countRows(t testing.TB, s *Store, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := s.rdb.QueryRowContext(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func hostID(t testing.TB, s *Store, agentID string) int64 {
	t.Helper()
	return countRows(t, s, `SELECT id FROM hosts WHERE agent_id = ?`, agentID)
}

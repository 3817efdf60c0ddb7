// Package collect turns operating-system readings (gopsutil v4 behind small interfaces) into wire samples.
package collect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"zhizhi/agent/wire"
)

// Family names, in the order Collect reads them.
const (
	FamilyCPU      = "cpu"
	FamilyLoad     = "load"
	FamilyMem      = "mem"
	FamilySwap     = "swap"
	FamilyFS       = "fs"
	FamilyDisk     = "disk"
	FamilyNet      = "net"
	FamilyConns    = "conns"
	FamilySessions = "sessions"
	FamilyProcs    = "procs"
	FamilyUptime   = "uptime"
)

// Families lists the metric families a Collector reads, in collection order.
func Families() []string {
	return []string{FamilyCPU, FamilyLoad, FamilyMem, FamilySwap, FamilyFS, FamilyDisk, FamilyNet, FamilyConns,
		FamilySessions, FamilyProcs, FamilyUptime}
}

// DefaultStatfsTimeout bounds each filesystem's statfs call when Config.StatfsTimeout is zero.
const DefaultStatfsTimeout = 2 * time.Second

// StatfsRetryAfter is how long a mount whose statfs timed out is skipped before it is tried again (and only
// once the hung call has returned: there is never more than one outstanding call per mount).
const StatfsRetryAfter = 10 * time.Minute

// Config selects what the Collector reports.
type Config struct {
	FSIncludeMounts, FSExcludeMounts []string // globs on mount points; include wins over default skips
	FSIncludeTypes, FSExcludeTypes   []string
	NetExcludeInterfaces             []string      // globs; default {"lo"} added when nil
	StatfsTimeout                    time.Duration // default 2s
	AgentVersion                     string
}

// Observer is told how long each family took and whether it failed; it is called once per family per cycle.
type Observer func(family string, d time.Duration, err error)

// Collector reads one wire.Sample per cycle and keeps the previous counters that deltas need.
// Collect must not be called concurrently; HostFacts may be called at any time.
type Collector struct {
	cfg Config
	src Source
	obs Observer
	log *slog.Logger

	prevTime time.Time
	cpu      cpuState
	fs       *fsState
	disk     diskState
	net      netState
	conns    connState
}

// New returns a Collector over src (the real gopsutil source when src is nil). obs may be nil.
func New(cfg Config, src Source, obs Observer, logger *slog.Logger) *Collector {
	if src == nil {
		src = NewSource()
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.StatfsTimeout <= 0 {
		cfg.StatfsTimeout = DefaultStatfsTimeout
	}
	if cfg.NetExcludeInterfaces == nil {
		cfg.NetExcludeInterfaces = []string{"lo"}
	}
	log := logger.With("component", "collect")
	return &Collector{cfg: cfg, src: src, obs: obs, log: log, fs: newFSState(log)}
}

// Collect reads every family once and returns the sample for time now; the caller sets Seq. Delta families
// (cpu, disk, net) are nil on the first cycle. A family that fails stays nil and is named in Errors with a
// short reason; the filesystem family also reports mounts it had to skip. Collect never panics.
func (c *Collector) Collect(ctx context.Context, now time.Time) wire.Sample {
	s := wire.Sample{Time: now}
	if !c.prevTime.IsZero() {
		if d := now.Sub(c.prevTime); d > 0 {
			s.IntervalSeconds = d.Seconds()
		}
	}
	c.prevTime = now

	c.run(ctx, &s, FamilyCPU, func() error {
		var err error
		s.CPU, err = c.collectCPU(ctx)
		return err
	})
	c.run(ctx, &s, FamilyLoad, func() error {
		var err error
		s.Load, err = c.collectLoad(ctx)
		return err
	})
	c.run(ctx, &s, FamilyMem, func() error {
		var err error
		s.Memory, err = c.collectMem(ctx)
		return err
	})
	c.run(ctx, &s, FamilySwap, func() error {
		var err error
		s.Swap, err = c.collectSwap(ctx)
		return err
	})
	c.run(ctx, &s, FamilyFS, func() error {
		var err error
		s.FS, err = c.collectFS(ctx, now)
		return err
	})
	c.run(ctx, &s, FamilyDisk, func() error {
		var err error
		s.Disks, err = c.collectDisk(ctx)
		return err
	})
	c.run(ctx, &s, FamilyNet, func() error {
		var err error
		s.Net, err = c.collectNet(ctx)
		return err
	})
	c.run(ctx, &s, FamilyConns, func() error {
		var err error
		s.Conns, err = c.collectConns(ctx)
		return err
	})
	c.run(ctx, &s, FamilySessions, func() error {
		n, err := c.src.Sessions(ctx)
		if err == nil {
			s.Sessions = &n
		}
		return err
	})
	c.run(ctx, &s, FamilyProcs, func() error {
		n, err := c.src.ProcCount(ctx)
		if err == nil {
			s.Procs = &n
		}
		return err
	})
	c.run(ctx, &s, FamilyUptime, func() error {
		n, err := c.src.Uptime(ctx)
		if err == nil {
			s.Uptime = &n
		}
		return err
	})
	return s
}

// run times one family, turns a panic into an error, records the error in s and tells the observer.
func (c *Collector) run(ctx context.Context, s *wire.Sample, family string, fn func() error) {
	start := time.Now()
	var err error
	if err = ctx.Err(); err == nil {
		err = safeCall(fn)
	}
	d := time.Since(start)
	if err != nil {
		if s.Errors == nil {
			s.Errors = make(map[string]string)
		}
		s.Errors[family] = err.Error()
		c.log.Debug("family failed", "family", family, "err", err)
	}
	if c.obs != nil {
		c.obs(family, d, err)
	}
}

func safeCall(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return fn()
}

// errNoData is returned when a source answered with nothing.
var errNoData = errors.New("no data")

func getenv(key string) string { return os.Getenv(key) }

func joinPath(base string, elem ...string) string {
	return filepath.Join(append([]string{base}, elem...)...)
}

// counterDelta is cur-prev for a cumulative counter; a decrease is a reset and yields 0.
func counterDelta(cur, prev uint64) uint64 {
	if cur < prev {
		return 0
	}
	return cur - prev
}

func pct(part, total float64) float64 {
	if total <= 0 {
		return 0
	}
	return clampPct(part / total * 100)
}

func clampPct(v float64) float64 {
	switch {
	case v != v || v < 0: // NaN or negative
		return 0
	case v > 100:
		return 100
	}
	return v
}

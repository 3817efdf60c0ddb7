package collect

import (
	"context"
	"fmt"

	"zhizhi/agent/wire"
)

func (c *Collector) collectLoad(ctx context.Context) (*wire.Load, error) {
	l, err := c.src.LoadAvg(ctx)
	if err != nil {
		return nil, fmt.Errorf("load average: %w", err)
	}
	if l == nil {
		return nil, fmt.Errorf("load average: %w", errNoData)
	}
	return &wire.Load{Load1: l.Load1, Load5: l.Load5, Load15: l.Load15}, nil
}

// collectMem reports used memory as total - available (what cannot be reclaimed), not gopsutil's Used.
func (c *Collector) collectMem(ctx context.Context) (*wire.Memory, error) {
	m, err := c.src.VirtualMemory(ctx)
	if err != nil {
		return nil, fmt.Errorf("virtual memory: %w", err)
	}
	if m == nil || m.Total == 0 {
		return nil, fmt.Errorf("virtual memory: %w", errNoData)
	}
	avail := min(m.Available, m.Total)
	used := m.Total - avail
	return &wire.Memory{
		TotalBytes:     m.Total,
		UsedBytes:      used,
		AvailableBytes: avail,
		UsedPct:        pct(float64(used), float64(m.Total)),
	}, nil
}

func (c *Collector) collectSwap(ctx context.Context) (*wire.Swap, error) {
	s, err := c.src.SwapMemory(ctx)
	if err != nil {
		return nil, fmt.Errorf("swap: %w", err)
	}
	if s == nil {
		return nil, fmt.Errorf("swap: %w", errNoData)
	}
	used := min(s.Used, s.Total)
	return &wire.Swap{TotalBytes: s.Total, UsedBytes: used, UsedPct: pct(float64(used), float64(s.Total))}, nil
}

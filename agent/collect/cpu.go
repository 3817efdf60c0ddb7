package collect

import (
	"context"
	"errors"
	"fmt"

	"github.com/shirou/gopsutil/v4/cpu"

	"zhizhi/agent/wire"
)

// errCPUReset is reported in the cycle where a CPU time counter went backwards (CPU hot-unplug, a bad read).
var errCPUReset = errors.New("cpu counters went backwards (reset); skipped this cycle")

// cpuState holds the previous reading that the next cycle's deltas start from.
type cpuState struct {
	prev cpu.TimesStat
	have bool
}

func (c *Collector) collectCPU(ctx context.Context) (*wire.CPU, error) {
	cur, err := c.src.CPUTimes(ctx)
	if err != nil {
		return nil, fmt.Errorf("cpu times: %w", err)
	}
	prev, had := c.cpu.prev, c.cpu.have
	c.cpu.prev, c.cpu.have = cur, true
	if !had {
		return nil, nil // first cycle: nothing to compare with
	}
	return cpuPercent(prev, cur)
}

// cpuFields lists the counters that make up the total; guest time is already counted in user and nice.
func cpuFields(t cpu.TimesStat) [8]float64 {
	return [8]float64{t.User, t.Nice, t.System, t.Idle, t.Iowait, t.Irq, t.Softirq, t.Steal}
}

// cpuPercent computes the share of each kind of CPU time between two cumulative readings, in percent of all
// CPUs. busy = total - idle - iowait (steal counts as busy and is also reported on its own). It returns
// errCPUReset when any counter decreased, and nil without error when no time elapsed.
func cpuPercent(prev, cur cpu.TimesStat) (*wire.CPU, error) {
	p, q := cpuFields(prev), cpuFields(cur)
	var d [8]float64
	var total float64
	for i := range p {
		d[i] = q[i] - p[i]
		if d[i] < 0 {
			return nil, errCPUReset
		}
		total += d[i]
	}
	if total <= 0 {
		return nil, nil
	}
	user, nice, system, idle, iowait, irq, softirq, steal := d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]
	return &wire.CPU{
		BusyPct:   pct(total-idle-iowait, total),
		UserPct:   pct(user+nice, total),
		SystemPct: pct(system+irq+softirq, total),
		IOWaitPct: pct(iowait, total),
		StealPct:  pct(steal, total),
	}, nil
}

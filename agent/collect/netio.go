package collect

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/shirou/gopsutil/v4/net"

	"zhizhi/agent/wire"
)

// netState holds the previous counters per interface.
type netState struct {
	prev map[string]net.IOCountersStat
}

// collectNet reports per-interface deltas since the previous cycle, without the excluded interfaces (by
// default the loopback "lo"); nil on the first cycle. A new interface is reported from the next cycle on.
func (c *Collector) collectNet(ctx context.Context) ([]wire.NetIO, error) {
	list, err := c.src.NetIOCounters(ctx)
	if err != nil {
		return nil, fmt.Errorf("net io counters: %w", err)
	}
	cur := make(map[string]net.IOCountersStat, len(list))
	for _, n := range list {
		if matchAny(c.cfg.NetExcludeInterfaces, n.Name) {
			continue
		}
		cur[n.Name] = n
	}
	prev := c.net.prev
	c.net.prev = cur
	if prev == nil {
		return nil, nil
	}
	out := make([]wire.NetIO, 0, len(cur))
	for name, q := range cur {
		p, ok := prev[name]
		if !ok {
			continue
		}
		out = append(out, wire.NetIO{
			Interface: name,
			RxBytes:   counterDelta(q.BytesRecv, p.BytesRecv),
			TxBytes:   counterDelta(q.BytesSent, p.BytesSent),
			RxPackets: counterDelta(q.PacketsRecv, p.PacketsRecv),
			TxPackets: counterDelta(q.PacketsSent, p.PacketsSent),
			RxErrors:  counterDelta(q.Errin, p.Errin),
			TxErrors:  counterDelta(q.Errout, p.Errout),
		})
	}
	slices.SortFunc(out, func(a, b wire.NetIO) int { return strings.Compare(a.Interface, b.Interface) })
	return out, nil
}

package wire

// Metric names of the host-level series that the store rolls up (1 minute, 1 hour, 1 day). Per-mount
// filesystem series are named FSUsedPctPrefix + mount point and are rolled up hourly and daily only.
const (
	MetricCPUBusyPct     = "cpu.busy_pct"
	MetricCPUIOWaitPct   = "cpu.iowait_pct"
	MetricLoad1          = "load.1"
	MetricMemUsedPct     = "mem.used_pct"
	MetricMemUsedBytes   = "mem.used_bytes"
	MetricSwapUsedPct    = "swap.used_pct"
	MetricFSMaxUsedPct   = "fs.max_used_pct" // the fullest real filesystem
	MetricFSUsedBytes    = "fs.used_bytes"   // sum over real filesystems
	MetricFSTotalBytes   = "fs.total_bytes"
	MetricDiskReadBytes  = "disk.read_bytes" // per interval, summed over devices
	MetricDiskWriteBytes = "disk.write_bytes"
	MetricNetRxBytes     = "net.rx_bytes" // per interval, summed over interfaces
	MetricNetTxBytes     = "net.tx_bytes"
	MetricNetErrors      = "net.errors"
	MetricConnEstab      = "conn.established"
	MetricConnInbound    = "conn.inbound"
	MetricConnNewInbound = "conn.new_inbound" // per interval
	MetricSessions       = "sessions"
	MetricProcs          = "procs"
	MetricAgentNetBytes  = "agent.net_bytes" // per interval: the agent's own traffic

	FSUsedPctPrefix = "fs.used_pct:"
)

// HostMetrics lists the host-level metric names in a stable order.
var HostMetrics = []string{
	MetricCPUBusyPct, MetricCPUIOWaitPct, MetricLoad1, MetricMemUsedPct, MetricMemUsedBytes, MetricSwapUsedPct,
	MetricFSMaxUsedPct, MetricFSUsedBytes, MetricFSTotalBytes, MetricDiskReadBytes, MetricDiskWriteBytes,
	MetricNetRxBytes, MetricNetTxBytes, MetricNetErrors, MetricConnEstab, MetricConnInbound, MetricConnNewInbound,
	MetricSessions, MetricProcs, MetricAgentNetBytes,
}

// IsDelta reports whether a metric counts events during the sample's interval (its rollup sum is a total),
// as opposed to a gauge (its rollup average is meaningful).
func IsDelta(name string) bool {
	switch name {
	case MetricDiskReadBytes, MetricDiskWriteBytes, MetricNetRxBytes, MetricNetTxBytes, MetricNetErrors,
		MetricConnNewInbound, MetricAgentNetBytes:
		return true
	}
	return false
}

// Flatten calls fn for every metric value present in s: the host-level metrics first, in HostMetrics order,
// then one FSUsedPctPrefix+mount series per filesystem. Families missing from s produce nothing. Delta metrics
// are only produced when the sample covers an interval (IntervalSeconds > 0).
func (s *Sample) Flatten(fn func(name string, v float64)) {
	if c := s.CPU; c != nil {
		fn(MetricCPUBusyPct, c.BusyPct)
		fn(MetricCPUIOWaitPct, c.IOWaitPct)
	}
	if l := s.Load; l != nil {
		fn(MetricLoad1, l.Load1)
	}
	if m := s.Memory; m != nil {
		fn(MetricMemUsedPct, m.UsedPct)
		fn(MetricMemUsedBytes, float64(m.UsedBytes))
	}
	if sw := s.Swap; sw != nil {
		fn(MetricSwapUsedPct, sw.UsedPct)
	}
	if len(s.FS) > 0 {
		var maxPct float64
		var used, total uint64
		for _, f := range s.FS {
			maxPct = max(maxPct, f.UsedPct)
			used += f.UsedBytes
			total += f.TotalBytes
		}
		fn(MetricFSMaxUsedPct, maxPct)
		fn(MetricFSUsedBytes, float64(used))
		fn(MetricFSTotalBytes, float64(total))
	}
	delta := s.IntervalSeconds > 0
	if delta && s.Disks != nil {
		var r, w uint64
		for _, d := range s.Disks {
			r += d.ReadBytes
			w += d.WriteBytes
		}
		fn(MetricDiskReadBytes, float64(r))
		fn(MetricDiskWriteBytes, float64(w))
	}
	if delta && s.Net != nil {
		var rx, tx, e uint64
		for _, n := range s.Net {
			rx += n.RxBytes
			tx += n.TxBytes
			e += n.RxErrors + n.TxErrors
		}
		fn(MetricNetRxBytes, float64(rx))
		fn(MetricNetTxBytes, float64(tx))
		fn(MetricNetErrors, float64(e))
	}
	if c := s.Conns; c != nil {
		fn(MetricConnEstab, float64(c.Established))
		fn(MetricConnInbound, float64(c.Inbound))
		if delta {
			fn(MetricConnNewInbound, float64(c.NewInbound))
		}
	}
	if s.Sessions != nil {
		fn(MetricSessions, float64(*s.Sessions))
	}
	if s.Procs != nil {
		fn(MetricProcs, float64(*s.Procs))
	}
	if delta && s.AgentNetBytes != nil {
		fn(MetricAgentNetBytes, float64(*s.AgentNetBytes))
	}
	for _, f := range s.FS {
		fn(FSUsedPctPrefix+f.Mount, f.UsedPct)
	}
}

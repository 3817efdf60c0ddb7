// Package metrics exposes the latest host sample and the agent's own counters in the Prometheus text format.
//
// It writes the text exposition format 0.0.4 itself instead of linking client_golang, whose protobuf runtime
// would add about 3 MB to the agent binary.
package metrics

import (
	"compress/gzip"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"zhizhi/agent/wire"
)

// Sources are read at every scrape; a nil source leaves its metric out.
type Sources struct {
	SpoolBytes      func() int64
	SpoolRecords    func() int64
	SamplesDropped  func() uint64 // spool over its cap, cumulative
	SamplesSent     func() uint64
	SamplesRejected func() uint64
	SendErrors      func() uint64
	CyclesSkipped   func() uint64
	LastSendSuccess func() time.Time
}

// collectBuckets are the upper bounds, in seconds, of zhizhi_agent_collect_duration_seconds.
var collectBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

// Metrics holds the agent's own metrics and the latest host sample; it is safe for concurrent use.
type Metrics struct {
	version   string
	src       Sources
	collected atomic.Uint64

	mu       sync.Mutex
	collectD map[string]*histSnapshot // family -> collection durations
	collectE map[string]uint64        // family -> failed collections

	host hostState
}

// New returns metrics that report version in zhizhi_agent_build_info and read src at every scrape.
func New(version string, src Sources) *Metrics {
	return &Metrics{version: version, src: src, collectD: map[string]*histSnapshot{}, collectE: map[string]uint64{}}
}

// Handler serves the metrics in the Prometheus text format 0.0.4, gzip-compressed when the client accepts it.
func (m *Metrics) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := m.appendText(nil)
		h := w.Header()
		h.Set("Content-Type", ContentType)
		h.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Values("Accept-Encoding")) {
			h.Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			// A scraper that hung up is not an error worth reporting.
			_, _ = zw.Write(body)
			_ = zw.Close()
			return
		}
		h.Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	})
}

// acceptsGzip reports whether Accept-Encoding values allow gzip (present and not weighted q=0).
func acceptsGzip(values []string) bool {
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(part, ";")
			if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
				continue
			}
			q, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q=")
			if !ok {
				return true
			}
			f, err := strconv.ParseFloat(q, 64)
			return err == nil && f > 0
		}
	}
	return false
}

// ObserveCollect records one family's collection; it matches collect.Observer.
func (m *Metrics) ObserveCollect(family string, d time.Duration, err error) {
	v := d.Seconds()
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.collectD[family]
	if h == nil {
		h = &histSnapshot{bounds: collectBuckets, counts: make([]uint64, len(collectBuckets))}
		m.collectD[family] = h
	}
	// The first bucket whose upper bound is >= v; past the last bound only count (the +Inf bucket) grows.
	if i, _ := slices.BinarySearch(h.bounds, v); i < len(h.counts) {
		h.counts[i]++
	}
	h.count++
	h.sum += v
	if err != nil {
		m.collectE[family]++
	}
}

// SetSample makes s the sample shown by the host metrics and adds its deltas to the cumulative counters.
func (m *Metrics) SetSample(s wire.Sample) {
	m.collected.Add(1)
	m.host.set(s)
}

// desc names and documents one metric family and its label names.
type desc struct {
	name, help string
	kind       kind
	labels     []string
}

func gaugeDesc(name, help string, labels ...string) *desc {
	return &desc{name: name, help: help, kind: kindGauge, labels: labels}
}

func counterDesc(name, help string, labels ...string) *desc {
	return &desc{name: name, help: help, kind: kindCounter, labels: labels}
}

var (
	dCollectDuration = &desc{name: "zhizhi_agent_collect_duration_seconds", help: "Time taken to collect one metric family.",
		kind: kindHistogram, labels: []string{"family"}}
	dCollectErrors   = counterDesc("zhizhi_agent_collect_errors_total", "Collections of a metric family that failed.", "family")
	dCollected       = counterDesc("zhizhi_agent_samples_collected_total", "Samples collected and written to the spool.")
	dBuildInfo       = gaugeDesc("zhizhi_agent_build_info", "Agent build information; always 1.", "version", "goversion")
	dSpoolBytes      = gaugeDesc("zhizhi_agent_spool_bytes", "Bytes of spool files on disk.")
	dSpoolRecords    = gaugeDesc("zhizhi_agent_spool_records", "Samples in the spool not yet acknowledged by the server.")
	dLastSendSuccess = gaugeDesc("zhizhi_agent_last_send_success_timestamp_seconds", "Unix time of the last batch the server acknowledged.")
	dSamplesSent     = counterDesc("zhizhi_agent_samples_sent_total", "Samples acknowledged by the server.")
	dSamplesDropped  = counterDesc("zhizhi_agent_samples_dropped_total", "Samples dropped because the spool reached its size cap.")
	dSamplesRejected = counterDesc("zhizhi_agent_samples_rejected_total", "Samples the server refused as invalid; they were dropped.")
	dSendErrors      = counterDesc("zhizhi_agent_send_errors_total", "Failed delivery attempts.")
	dCyclesSkipped   = counterDesc("zhizhi_agent_cycles_skipped_total", "Collection cycles skipped because the previous one overran.")

	dCPUBusy     = gaugeDesc("zhizhi_host_cpu_busy_ratio", "Share of CPU time not idle during the last interval (0-1).")
	dCPUIOWait   = gaugeDesc("zhizhi_host_cpu_iowait_ratio", "Share of CPU time waiting for I/O during the last interval (0-1).")
	dCPUSteal    = gaugeDesc("zhizhi_host_cpu_steal_ratio", "Share of CPU time stolen by the hypervisor during the last interval (0-1).")
	dLoad1       = gaugeDesc("zhizhi_host_load1", "1-minute load average.")
	dLoad5       = gaugeDesc("zhizhi_host_load5", "5-minute load average.")
	dLoad15      = gaugeDesc("zhizhi_host_load15", "15-minute load average.")
	dMemTotal    = gaugeDesc("zhizhi_host_memory_total_bytes", "Physical memory.")
	dMemUsed     = gaugeDesc("zhizhi_host_memory_used_bytes", "Physical memory in use (total minus available).")
	dMemAvail    = gaugeDesc("zhizhi_host_memory_available_bytes", "Physical memory available without swapping.")
	dSwapTotal   = gaugeDesc("zhizhi_host_swap_total_bytes", "Swap space.")
	dSwapUsed    = gaugeDesc("zhizhi_host_swap_used_bytes", "Swap space in use.")
	dFSSize      = gaugeDesc("zhizhi_host_filesystem_size_bytes", "Filesystem size.", "mount", "fstype", "device")
	dFSUsed      = gaugeDesc("zhizhi_host_filesystem_used_bytes", "Filesystem space in use.", "mount", "fstype", "device")
	dFSFree      = gaugeDesc("zhizhi_host_filesystem_free_bytes", "Filesystem space free.", "mount", "fstype", "device")
	dFSInodes    = gaugeDesc("zhizhi_host_filesystem_inodes_used_ratio", "Share of inodes in use (0-1).", "mount", "fstype", "device")
	dDiskRead    = counterDesc("zhizhi_host_disk_read_bytes_total", "Bytes read from the block device since the agent started.", "device")
	dDiskWritten = counterDesc("zhizhi_host_disk_written_bytes_total", "Bytes written to the block device since the agent started.", "device")
	dNetRx       = counterDesc("zhizhi_host_network_receive_bytes_total", "Bytes received since the agent started.", "interface")
	dNetTx       = counterDesc("zhizhi_host_network_transmit_bytes_total", "Bytes sent since the agent started.", "interface")
	dNetErr      = counterDesc("zhizhi_host_network_errors_total", "Receive and transmit errors since the agent started.", "interface")
	dConnEstab   = gaugeDesc("zhizhi_host_tcp_connections_established", "Established TCP connections.")
	dConnIn      = gaugeDesc("zhizhi_host_tcp_connections_inbound", "Established TCP connections to a local listening port.")
	dListen      = gaugeDesc("zhizhi_host_tcp_listening_ports", "Listening TCP ports.")
	dSessions    = gaugeDesc("zhizhi_host_sessions", "Logged-in user sessions.")
	dProcs       = gaugeDesc("zhizhi_host_processes", "Processes.")
	dUptime      = gaugeDesc("zhizhi_host_uptime_seconds", "Time since boot.")
	dSampleTime  = gaugeDesc("zhizhi_host_sample_timestamp_seconds", "Unix time of the sample shown.")
)

// builder gathers the series of one scrape into families, one per desc.
type builder struct {
	fams []family
	idx  map[*desc]int
}

// add appends a series with labelValues given in d.labels order; its labels are stored sorted by name.
func (b *builder) add(d *desc, v float64, hist *histSnapshot, labelValues ...string) {
	if b.idx == nil {
		b.idx = map[*desc]int{}
	}
	i, ok := b.idx[d]
	if !ok {
		i = len(b.fams)
		b.idx[d] = i
		b.fams = append(b.fams, family{name: d.name, help: d.help, kind: d.kind})
	}
	var labels []label
	if len(d.labels) > 0 {
		labels = make([]label, len(d.labels))
		for j, n := range d.labels {
			labels[j] = label{name: n, value: labelValues[j]}
		}
		slices.SortFunc(labels, func(a, b label) int { return strings.Compare(a.name, b.name) })
	}
	b.fams[i].series = append(b.fams[i].series, series{labels: labels, value: v, hist: hist})
}

// appendText appends the current exposition to dst.
func (m *Metrics) appendText(dst []byte) []byte {
	var b builder
	b.add(dBuildInfo, 1, nil, m.version, runtime.Version())
	b.add(dCollected, float64(m.collected.Load()), nil)
	m.addSources(&b)
	m.mu.Lock()
	for fam, h := range m.collectD {
		snap := *h
		snap.counts = slices.Clone(h.counts)
		b.add(dCollectDuration, 0, &snap, fam)
	}
	for fam, n := range m.collectE {
		b.add(dCollectErrors, float64(n), nil, fam)
	}
	m.mu.Unlock()
	m.host.addTo(&b)
	return appendText(dst, b.fams)
}

// addSources reads the sources; they run outside every lock of m.
func (m *Metrics) addSources(b *builder) {
	src := m.src
	if src.SpoolBytes != nil {
		b.add(dSpoolBytes, float64(src.SpoolBytes()), nil)
	}
	if src.SpoolRecords != nil {
		b.add(dSpoolRecords, float64(src.SpoolRecords()), nil)
	}
	if src.LastSendSuccess != nil {
		var v float64
		if t := src.LastSendSuccess(); !t.IsZero() {
			v = float64(t.UnixNano()) / 1e9
		}
		b.add(dLastSendSuccess, v, nil)
	}
	counter := func(d *desc, f func() uint64) {
		if f != nil {
			b.add(d, float64(f()), nil)
		}
	}
	counter(dSamplesSent, src.SamplesSent)
	counter(dSamplesDropped, src.SamplesDropped)
	counter(dSamplesRejected, src.SamplesRejected)
	counter(dSendErrors, src.SendErrors)
	counter(dCyclesSkipped, src.CyclesSkipped)
}

// hostState holds the latest sample and the cumulative disk and network counters; filesystems that disappear
// disappear from the output too.
type hostState struct {
	mu     sync.Mutex
	latest *wire.Sample
	disk   map[string]*[2]float64 // device -> read, written
	net    map[string]*[3]float64 // interface -> rx, tx, errors
}

func (h *hostState) set(s wire.Sample) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.latest = &s
	if h.disk == nil {
		h.disk, h.net = map[string]*[2]float64{}, map[string]*[3]float64{}
	}
	for _, d := range s.Disks {
		c := h.disk[d.Device]
		if c == nil {
			c = &[2]float64{}
			h.disk[d.Device] = c
		}
		c[0] += float64(d.ReadBytes)
		c[1] += float64(d.WriteBytes)
	}
	for _, n := range s.Net {
		c := h.net[n.Interface]
		if c == nil {
			c = &[3]float64{}
			h.net[n.Interface] = c
		}
		c[0] += float64(n.RxBytes)
		c[1] += float64(n.TxBytes)
		c[2] += float64(n.RxErrors + n.TxErrors)
	}
}

// addTo adds the host series; nothing before the first sample.
func (h *hostState) addTo(b *builder) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.latest
	if s == nil {
		return
	}
	g := func(d *desc, v float64, labels ...string) { b.add(d, v, nil, labels...) }
	g(dSampleTime, float64(s.Time.UnixNano())/1e9)
	if x := s.CPU; x != nil {
		g(dCPUBusy, x.BusyPct/100)
		g(dCPUIOWait, x.IOWaitPct/100)
		g(dCPUSteal, x.StealPct/100)
	}
	if x := s.Load; x != nil {
		g(dLoad1, x.Load1)
		g(dLoad5, x.Load5)
		g(dLoad15, x.Load15)
	}
	if x := s.Memory; x != nil {
		g(dMemTotal, float64(x.TotalBytes))
		g(dMemUsed, float64(x.UsedBytes))
		g(dMemAvail, float64(x.AvailableBytes))
	}
	if x := s.Swap; x != nil {
		g(dSwapTotal, float64(x.TotalBytes))
		g(dSwapUsed, float64(x.UsedBytes))
	}
	// The first filesystem per mount wins; the writer also drops any later series whose labels repeat.
	seen := map[string]bool{}
	for _, f := range s.FS {
		if seen[f.Mount] {
			continue
		}
		seen[f.Mount] = true
		g(dFSSize, float64(f.TotalBytes), f.Mount, f.FSType, f.Device)
		g(dFSUsed, float64(f.UsedBytes), f.Mount, f.FSType, f.Device)
		g(dFSFree, float64(f.FreeBytes), f.Mount, f.FSType, f.Device)
		g(dFSInodes, f.InodesUsedPct/100, f.Mount, f.FSType, f.Device)
	}
	for dev, v := range h.disk {
		g(dDiskRead, v[0], dev)
		g(dDiskWritten, v[1], dev)
	}
	for ifc, v := range h.net {
		g(dNetRx, v[0], ifc)
		g(dNetTx, v[1], ifc)
		g(dNetErr, v[2], ifc)
	}
	if x := s.Conns; x != nil {
		g(dConnEstab, float64(x.Established))
		g(dConnIn, float64(x.Inbound))
		g(dListen, float64(x.Listening))
	}
	if s.Sessions != nil {
		g(dSessions, float64(*s.Sessions))
	}
	if s.Procs != nil {
		g(dProcs, float64(*s.Procs))
	}
	if s.Uptime != nil {
		g(dUptime, float64(*s.Uptime))
	}
}

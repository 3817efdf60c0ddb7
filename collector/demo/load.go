package demo

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"zhizhi/agent/wire"
	"zhizhi/collector/store"
)

// Options configure Load.
type Options struct {
	// Seed makes the district and its history; the same seed (and End) gives identical rows.
	Seed uint64
	// End is "now": the history covers the Days days up to it. Zero means time.Now().
	End time.Time
	// Progress, when set, is called after each step with the steps done and the total.
	Progress func(done, total int)
	// Days is how many days of daily rollups end at End (default 550, the last one partial: more than a year and a
	// season, so that the analyzer can tell a seasonal system from a zombie by last year's same window); HourDays the same
	// for hourly rollups (default 90) and MinuteHours the hours of 1-minute rollups of CPU and memory (default 24).
	Days, HourDays, MinuteHours int
}

// Summary describes what Load wrote.
type Summary struct {
	Departments, Systems, Hosts int
	// Rows counts the rollup rows written.
	Rows int
	// Exceptions counts the analyzer exceptions recorded (the disaster-recovery standbys).
	Exceptions int
	// From and To bound the simulated history: the first day's midnight and End.
	From, To time.Time
}

// Metrics written at each resolution.
var (
	dayMetrics = []string{wire.MetricCPUBusyPct, wire.MetricMemUsedPct, wire.MetricFSMaxUsedPct, wire.MetricFSUsedBytes,
		wire.MetricFSTotalBytes, wire.MetricNetRxBytes, wire.MetricNetTxBytes, wire.MetricDiskWriteBytes,
		wire.MetricConnInbound, wire.MetricConnNewInbound, wire.MetricSessions}
	hourMetrics = []string{wire.MetricCPUBusyPct, wire.MetricMemUsedPct, wire.MetricFSMaxUsedPct, wire.MetricNetRxBytes,
		wire.MetricNetTxBytes, wire.MetricConnInbound}
	minuteMetrics = []string{wire.MetricCPUBusyPct, wire.MetricMemUsedPct, wire.MetricFSMaxUsedPct, wire.MetricConnInbound}
)

const (
	samplesPerHour = 240 // one sample every 15 s
	rxShare        = 0.55
)

// Load fills st with the simulated district: it enrolls one agent per host, sends each host's facts and one
// current sample through Ingest (so the overview has latest values), bulk-loads a year of daily rollups, the
// last HourDays of hourly and the last MinuteHours of 1-minute rollups, and marks the store as demo. A host
// whose agent was silent has no rows in its gap. Load does not check whether st already holds data.
func Load(ctx context.Context, st *store.Store, opts Options) (Summary, error) {
	if opts.End.IsZero() {
		opts.End = time.Now()
	}
	if opts.Days <= 0 {
		opts.Days = 550
	}
	if opts.HourDays <= 0 {
		opts.HourDays = 90
	}
	if opts.MinuteHours <= 0 {
		opts.MinuteHours = 24
	}
	end := opts.End
	deps := Build(opts.Seed, end)
	from := dayOf(end).AddDate(0, 0, -opts.Days+1)
	sum := Summary{Departments: len(deps), From: from, To: end}
	type job struct {
		sys  *System
		host *Host
		id   int64
	}
	var jobs []job
	for di := range deps {
		sum.Systems += len(deps[di].Systems)
		for si := range deps[di].Systems {
			for hi := range deps[di].Systems[si].Hosts {
				jobs = append(jobs, job{sys: &deps[di].Systems[si], host: &deps[di].Systems[si].Hosts[hi]})
			}
		}
	}
	sum.Hosts = len(jobs)
	total, done := 2*len(jobs)+1, 0
	step := func() {
		done++
		if opts.Progress != nil {
			opts.Progress(done, total)
		}
	}
	// Label the store first: a load that stops halfway still holds only demo data.
	if err := st.SetDemo(ctx, true); err != nil {
		return sum, fmt.Errorf("demo: %w", err)
	}
	if err := st.SetMeta(ctx, MetaSeed, strconv.FormatUint(opts.Seed, 10)); err != nil {
		return sum, fmt.Errorf("demo: %w", err)
	}
	rng := rand.New(rand.NewPCG(opts.Seed, 0x5eed))
	di := 0
	for _, d := range deps {
		for _, s := range d.Systems {
			for range s.Hosts {
				j := &jobs[di]
				di++
				a, _, err := st.EnrollAgent(ctx, s.Name, d.Name)
				if err != nil {
					return sum, fmt.Errorf("demo: %w", err)
				}
				b := &wire.Batch{Version: wire.SchemaVersion, AgentID: a.ID, SentAt: end, Dropped: 0,
					Host:    facts(rng, j.host, end),
					Samples: []wire.Sample{currentSample(opts.Seed, j.sys, j.host, from, end)}}
				if _, err := st.Ingest(ctx, a, b, end); err != nil {
					return sum, fmt.Errorf("demo: host %s: %w", j.host.Name, err)
				}
				a, err = st.Agent(ctx, a.ID)
				if err != nil {
					return sum, fmt.Errorf("demo: %w", err)
				}
				j.id = a.HostID
				step()
			}
		}
	}

	// Generate one host's rows while the previous host's are written.
	type chunk struct {
		rows []store.RollupRow
		err  error
	}
	ch := make(chan chunk, 2)
	gctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(ch)
		g := generator{seed: opts.Seed, from: from, end: end, hourDays: opts.HourDays, minuteHours: opts.MinuteHours}
		for _, j := range jobs {
			rows := g.host(j.sys, j.host, j.id)
			select {
			case ch <- chunk{rows: rows}:
			case <-gctx.Done():
				return
			}
		}
	}()
	for c := range ch {
		if err := st.BulkInsertRollups(ctx, c.rows); err != nil {
			return sum, fmt.Errorf("demo: %w", err)
		}
		sum.Rows += len(c.rows)
		step()
	}
	if err := ctx.Err(); err != nil {
		return sum, fmt.Errorf("demo: %w", err)
	}
	// Disaster-recovery standbys are idle by design: the bureau has recorded exceptions for them, so their
	// findings show as excepted rather than as zombies.
	for _, d := range deps {
		for _, s := range d.Systems {
			if s.Pattern != Standby {
				continue
			}
			_, err := st.AddException(ctx, store.Exception{Type: "dr-standby", System: s.Name,
				Owner: d.Name + "信息科", Reason: "异地灾备节点，平时不承载业务，灾备演练时启用",
				Created: end.AddDate(0, -2, 0), Expires: end.AddDate(0, 10, 0)})
			if err != nil {
				return sum, fmt.Errorf("demo: exception for %s: %w", s.Name, err)
			}
			sum.Exceptions++
		}
	}
	step()
	return sum, nil
}

// generator turns the hourly model into rollup rows.
type generator struct {
	seed                  uint64
	from, end             time.Time
	hourDays, minuteHours int
}

// hourAgg is one hourly rollup of one metric.
type hourAgg struct {
	n                  int64
	min, max, sum, p95 float64
}

// Indexes of dayMetrics in the array hourValues returns.
const (
	iCPU = iota
	iMem
	iFSPct
	iFSUsed
	iFSTotal
	iRx
	iTx
	iDiskW
	iInbound
	iNewInbound
	iSessions
	nDayMetrics
)

// dayAgg accumulates one day of hourly rollups of one metric.
type dayAgg struct {
	n        int64
	min, max float64
	sum      float64
	peaks    []float64
}

// host returns every rollup row of one host, sorted by resolution, metric and time.
func (g generator) host(sys *System, h *Host, id int64) []store.RollupRow {
	hourFrom := dayOf(g.end).AddDate(0, 0, -g.hourDays+1)
	minuteFrom := g.end.Add(-time.Duration(g.minuteHours) * time.Hour).Truncate(time.Minute)
	endHour := g.end.Truncate(time.Hour)
	var days, hours [nDayMetrics][]store.RollupRow
	var minutes, minuteMem, minuteDisk, minuteConn []store.RollupRow
	connIdx := slices.Index(dayMetrics, wire.MetricConnInbound)
	var acc [nDayMetrics]dayAgg
	hourIdx := make([]int, len(hourMetrics))
	for i, m := range hourMetrics {
		hourIdx[i] = slices.Index(dayMetrics, m)
	}
	var pcg rand.PCG
	rng := rand.New(&pcg)
	for d := g.from; !d.After(g.end); d = d.AddDate(0, 0, 1) {
		if h.Silent(d) {
			continue
		}
		for i := range acc {
			acc[i] = dayAgg{min: math.Inf(1), max: math.Inf(-1), peaks: acc[i].peaks[:0]}
		}
		for hr := 0; hr < 24; hr++ {
			t := d.Add(time.Duration(hr) * time.Hour)
			if t.After(endHour) {
				break
			}
			x := sys.HourAt(g.seed, h, t)
			pcg.Seed(g.seed^hash(h.Name)^0xa5a5, uint64(t.Unix()))
			n := int64(samplesPerHour)
			if rng.IntN(400) == 0 {
				n = int64(180 + rng.IntN(60)) // a short network blip: some samples missing
			}
			if t.Equal(endHour) {
				n = max(1, int64(float64(samplesPerHour)*g.end.Sub(t).Hours()))
			}
			vals := hourValues(h, x, n, g.from, t)
			for i := range acc {
				a, v := &acc[i], &vals[i]
				a.n += v.n
				a.sum += v.sum
				a.min, a.max = min(a.min, v.min), max(a.max, v.max)
				a.peaks = append(a.peaks, v.p95)
			}
			if !t.Before(hourFrom) {
				for k, i := range hourIdx {
					a := vals[i]
					hours[k] = append(hours[k], store.RollupRow{HostID: id, Metric: hourMetrics[k], Res: store.ResHour, TS: t,
						N: a.n, Min: a.min, Max: a.max, Sum: a.sum, P95: a.p95})
				}
			}
			if t.Add(time.Hour).After(minuteFrom) {
				for mi := 0; mi < 60; mi++ {
					mt := t.Add(time.Duration(mi) * time.Minute)
					if mt.Before(minuteFrom) || !mt.Before(g.end) {
						continue
					}
					c := clamp(x.CPU*(1+0.2*(rng.Float64()-0.5)), 0.1, 100)
					cm := clamp(c*(1.05+0.15*rng.Float64()), c, 100)
					minutes = append(minutes, store.RollupRow{HostID: id, Metric: wire.MetricCPUBusyPct, Res: store.ResMinute,
						TS: mt, N: 4, Min: c * 0.9, Max: cm, Sum: 4 * c})
					m := clamp(x.Mem+0.6*(rng.Float64()-0.5), 0, 100)
					minuteMem = append(minuteMem, store.RollupRow{HostID: id, Metric: wire.MetricMemUsedPct, Res: store.ResMinute,
						TS: mt, N: 4, Min: m - 0.2, Max: m + 0.2, Sum: 4 * m})
					dk := h.DiskUsedPct(g.from, mt)
					minuteDisk = append(minuteDisk, store.RollupRow{HostID: id, Metric: wire.MetricFSMaxUsedPct, Res: store.ResMinute,
						TS: mt, N: 4, Min: dk, Max: dk, Sum: 4 * dk})
					var cn float64
					if v := vals[connIdx]; v.n > 0 {
						cn = math.Round(v.sum / float64(v.n) * (1 + 0.3*(rng.Float64()-0.5)))
					}
					minuteConn = append(minuteConn, store.RollupRow{HostID: id, Metric: wire.MetricConnInbound, Res: store.ResMinute,
						TS: mt, N: 4, Min: max(0, cn-1), Max: cn + 1, Sum: 4 * cn})
				}
			}
		}
		for i, m := range dayMetrics {
			a := &acc[i]
			if a.n == 0 {
				continue
			}
			// The day's p95: the 95th percentile of the hourly p95s, kept within [avg, max].
			slices.Sort(a.peaks)
			avg := a.sum / float64(a.n)
			days[i] = append(days[i], store.RollupRow{HostID: id, Metric: m, Res: store.ResDay, TS: d,
				N: a.n, Min: a.min, Max: a.max, Sum: a.sum, P95: clamp(quantile(a.peaks, 0.95), avg, a.max)})
		}
	}
	size := len(minutes) + len(minuteMem) + len(minuteDisk) + len(minuteConn)
	for i := range days {
		size += len(days[i]) + len(hours[i])
	}
	out := make([]store.RollupRow, 0, size)
	for i := range days {
		out = append(out, days[i]...)
	}
	for i := range hours {
		out = append(out, hours[i]...)
	}
	out = append(out, minutes...)
	out = append(out, minuteMem...)
	out = append(out, minuteDisk...)
	return append(out, minuteConn...)
}

// hourValues derives the hourly rollup of every day metric (indexed like dayMetrics) from one simulated hour
// of n samples.
func hourValues(h *Host, x Hour, n int64, start, t time.Time) [nDayMetrics]hourAgg {
	fn := float64(n)
	gauge := func(avg, peak, lo float64) hourAgg {
		return hourAgg{n: n, min: lo, max: max(peak*1.08, peak), sum: avg * fn, p95: peak}
	}
	delta := func(total float64) hourAgg { // total over the hour, spread over its samples
		per := total / samplesPerHour
		return hourAgg{n: n, min: per * 0.3, max: per * 2.5, sum: per * fn, p95: per * 1.8}
	}
	disk := h.DiskUsedPct(start, t)
	total := float64(h.DiskBytes) + 1<<30 // the data disk plus /boot
	used := disk/100*float64(h.DiskBytes) + 200<<20
	inbound := math.Round(x.NewInbound / 10)
	var v [nDayMetrics]hourAgg
	v[iCPU] = gauge(x.CPU, x.CPUPeak, x.CPU*0.6)
	v[iMem] = gauge(x.Mem, min(100, x.Mem+1.5), x.Mem-1.5)
	v[iFSPct] = hourAgg{n: n, min: disk - 0.02, max: disk + 0.02, sum: disk * fn, p95: disk + 0.01}
	v[iFSUsed] = hourAgg{n: n, min: used * 0.999, max: used * 1.001, sum: used * fn, p95: used * 1.0005}
	v[iFSTotal] = hourAgg{n: n, min: total, max: total, sum: total * fn, p95: total}
	v[iRx] = delta(x.NetBytes * rxShare)
	v[iTx] = delta(x.NetBytes * (1 - rxShare))
	v[iDiskW] = delta(x.DiskWriteBytes)
	v[iInbound] = gauge(inbound, inbound*1.5, 0)
	v[iNewInbound] = delta(x.NewInbound)
	v[iSessions] = gauge(x.Sessions, x.Sessions, 0)
	return v
}

// quantile of sorted values, interpolated.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 1 {
		return sorted[0]
	}
	pos := q * float64(len(sorted)-1)
	i := int(pos)
	if i+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	return sorted[i] + (pos-float64(i))*(sorted[i+1]-sorted[i])
}

// currentSample is the host's sample at end, so the overview shows latest values.
func currentSample(seed uint64, sys *System, h *Host, start, end time.Time) wire.Sample {
	x := sys.HourAt(seed, h, end.Truncate(time.Hour))
	disk := h.DiskUsedPct(start, end)
	sessions, procs := int(x.Sessions), 140+int(hash(h.Name)%120)
	up := uint64(3600 * 24 * (20 + hash(h.Name)%200))
	memUsed := uint64(x.Mem / 100 * float64(h.MemBytes))
	per := func(v float64) uint64 { return uint64(v / samplesPerHour) }
	return wire.Sample{
		Seq: 1, Time: end.Add(-time.Second), IntervalSeconds: 15,
		CPU:    &wire.CPU{BusyPct: x.CPU, UserPct: x.CPU * 0.7, SystemPct: x.CPU * 0.25, IOWaitPct: x.CPU * 0.05},
		Load:   &wire.Load{Load1: x.CPU / 100 * float64(h.VCPU), Load5: x.CPU / 100 * float64(h.VCPU), Load15: x.CPU / 100 * float64(h.VCPU)},
		Memory: &wire.Memory{TotalBytes: h.MemBytes, UsedBytes: memUsed, AvailableBytes: h.MemBytes - memUsed, UsedPct: x.Mem},
		Swap:   &wire.Swap{TotalBytes: 4 << 30},
		FS: []wire.Filesystem{
			{Mount: "/", Device: "/dev/mapper/klas-root", FSType: "xfs", TotalBytes: h.DiskBytes,
				UsedBytes: uint64(disk / 100 * float64(h.DiskBytes)), FreeBytes: uint64((100 - disk) / 100 * float64(h.DiskBytes)),
				UsedPct: disk, InodesUsedPct: disk / 20},
			{Mount: "/boot", Device: "/dev/sda1", FSType: "xfs", TotalBytes: 1 << 30, UsedBytes: 200 << 20,
				FreeBytes: 824 << 20, UsedPct: 19.5, InodesUsedPct: 0.1},
		},
		Disks: []wire.DiskIO{{Device: "sda", WriteBytes: per(x.DiskWriteBytes), ReadBytes: per(x.DiskWriteBytes / 3)}},
		Net:   []wire.NetIO{{Interface: "eth0", RxBytes: per(x.NetBytes * rxShare), TxBytes: per(x.NetBytes * (1 - rxShare))}},
		Conns: &wire.Conns{Established: int(x.NewInbound/10) + 12, Inbound: int(x.NewInbound / 10),
			NewInbound: int(x.NewInbound / samplesPerHour), Listening: 9},
		Sessions: &sessions, Procs: &procs, Uptime: &up,
	}
}

// platform is a simulated operating system image.
type platform struct {
	name, version, kernel, arch, cpu string
}

var platforms = []platform{
	{"kylin", "V10 SP3", "4.19.90-52.22.v2207.ky10.aarch64", "aarch64", "HUAWEI Kunpeng 920 5250"},
	{"kylin", "V10 SP2", "4.19.90-24.4.v2101.ky10.x86_64", "x86_64", "Hygon C86 7285 32-core Processor"},
	{"uos", "20", "4.19.0-arm64-server", "aarch64", "Phytium FT-2000+/64"},
	{"uos", "20", "4.19.190-6-loongson-3", "loongarch64", "Loongson-3C5000L"},
	{"centos", "7.9.2009", "3.10.0-1160.el7.x86_64", "x86_64", "Intel(R) Xeon(R) Gold 6248R CPU @ 3.00GHz"},
	{"openeuler", "22.03 LTS SP2", "5.10.0-153.12.0.92.oe2203sp2.aarch64", "aarch64", "HUAWEI Kunpeng 920 7260"},
	{"openeuler", "22.03 LTS SP2", "5.10.0-153.12.0.92.oe2203sp2.x86_64", "x86_64", "Intel(R) Xeon(R) Silver 4314 CPU @ 2.40GHz"},
}

// facts returns a host's simulated facts.
func facts(rng *rand.Rand, h *Host, end time.Time) *wire.HostFacts {
	p := platforms[rng.IntN(len(platforms))]
	virt, role := []string{"kvm", "kvm", "vmware", ""}[rng.IntN(4)], "guest"
	if virt == "" {
		role = ""
	}
	return &wire.HostFacts{
		Hostname: h.Name, OS: "linux", Platform: p.name, PlatformVersion: p.version, Kernel: p.kernel, Arch: p.arch,
		Virtualization: virt, VirtRole: role, CPUModel: p.cpu, CPUCores: h.VCPU, MemTotalBytes: h.MemBytes,
		BootTime: end.Add(-time.Duration(20+rng.IntN(200)) * 24 * time.Hour).Unix(), AgentVersion: "0.3.0-demo",
	}
}

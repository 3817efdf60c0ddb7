// Package findingsmetrics exports the analyzer's findings as Prometheus metrics from a cached snapshot that is
// evaluated at most once per interval, never on every scrape.
package findingsmetrics

import (
	"context"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"zhizhi/analyzer/detect"
	"zhizhi/analyzer/report"
)

// Evaluator evaluates the fleet; *report.Engine implements it.
type Evaluator interface {
	Evaluate(ctx context.Context) (report.Snapshot, error)
}

// Defaults of Options.
const (
	// DefaultInterval is the least time between two evaluations: one reads a year of daily rollups per host.
	DefaultInterval = 10 * time.Minute
	// DefaultTimeout bounds one evaluation.
	DefaultTimeout = 2 * time.Minute
)

// Metric names.
const (
	FindingsName      = "zhizhi_findings"
	InfoName          = "zhizhi_finding_info"
	FreesVCPUName     = "zhizhi_findings_frees_vcpu"
	FreesMemoryName   = "zhizhi_findings_frees_memory_bytes"
	FreesStorageName  = "zhizhi_findings_frees_storage_bytes"
	EvaluatedName     = "zhizhi_findings_evaluated_timestamp_seconds"
	DurationName      = "zhizhi_findings_evaluation_duration_seconds"
	FailuresTotalName = "zhizhi_findings_evaluation_failures_total"
)

// Names lists every metric name the collector exports.
var Names = []string{FindingsName, InfoName, FreesVCPUName, FreesMemoryName, FreesStorageName, EvaluatedName,
	DurationName, FailuresTotalName}

var (
	findingsDesc = prometheus.NewDesc(FindingsName,
		"Hosts with a finding of this kind and status, per department (a host with several findings counts in each).",
		[]string{"kind", "status", "department"}, nil)
	infoDesc = prometheus.NewDesc(InfoName,
		"Always 1: the primary finding of each host whose finding is not ok (one series per host).",
		[]string{"host_id", "host", "system", "department", "kind", "status", "confidence"}, nil)
	freesVCPUDesc = prometheus.NewDesc(FreesVCPUName,
		"vCPUs that acting on open findings would free: shutting down idle hosts and right-sizing underused ones.",
		[]string{"department"}, nil)
	freesMemDesc = prometheus.NewDesc(FreesMemoryName,
		"Memory bytes that acting on open findings would free: shutting down idle hosts and right-sizing underused ones.",
		[]string{"department"}, nil)
	freesStorageDesc = prometheus.NewDesc(FreesStorageName,
		"Storage bytes that shutting down idle hosts with open findings would free.",
		[]string{"department"}, nil)
	evaluatedDesc = prometheus.NewDesc(EvaluatedName,
		"Evaluation time of the findings exported, in seconds since the epoch.", nil, nil)
	durationDesc = prometheus.NewDesc(DurationName,
		"Duration of the last evaluation of the findings, successful or not.", nil, nil)
	failuresDesc = prometheus.NewDesc(FailuresTotalName,
		"Evaluations of the findings that failed (the previous findings stay exported).", nil, nil)
)

// Options configure a Collector. The zero value is usable.
type Options struct {
	// Interval is the least time between the starts of two evaluations (default DefaultInterval).
	Interval time.Duration
	// Timeout bounds one evaluation (default DefaultTimeout).
	Timeout time.Duration
	// Clock decides when the snapshot is due and measures evaluations; nil means time.Now.
	Clock  func() time.Time
	Logger *slog.Logger
}

// Collector is a prometheus.Collector of the findings. A scrape starts an evaluation in the background when the
// last one started at least Interval ago, and exports the last successful snapshot meanwhile; only the first
// scrape, with no snapshot yet, waits for its evaluation.
type Collector struct {
	ev       Evaluator
	interval time.Duration
	timeout  time.Duration
	clock    func() time.Time
	log      *slog.Logger
	ctx      context.Context // cancelled by Close; parent of every evaluation
	cancel   context.CancelFunc
	wg       sync.WaitGroup

	mu       sync.Mutex
	started  time.Time     // start of the last evaluation; zero before the first
	inflight chan struct{} // closed when the running evaluation ends; nil when none runs
	closed   bool
	metrics  []prometheus.Metric // of the last successful evaluation; nil before it
	duration time.Duration       // of the last evaluation
	ran      bool                // an evaluation has ended
	failures uint64
}

// New returns a collector of ev's findings. Close it before closing what ev reads.
func New(ev Evaluator, opts Options) *Collector {
	c := &Collector{ev: ev, interval: opts.Interval, timeout: opts.Timeout, clock: opts.Clock, log: opts.Logger}
	if c.interval <= 0 {
		c.interval = DefaultInterval
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.clock == nil {
		c.clock = time.Now
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.log = c.log.With("component", "findingsmetrics")
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c
}

// Describe sends the descriptors of every metric the collector exports.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{findingsDesc, infoDesc, freesVCPUDesc, freesMemDesc, freesStorageDesc,
		evaluatedDesc, durationDesc, failuresDesc} {
		ch <- d
	}
}

// Collect exports the cached snapshot, starting a new evaluation when one is due.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	if wait := c.kick(); wait != nil {
		<-wait
	}
	c.mu.Lock()
	ms, dur, failures, ran := c.metrics, c.duration, c.failures, c.ran
	c.mu.Unlock()
	for _, m := range ms {
		ch <- m
	}
	if ran {
		ch <- prometheus.MustNewConstMetric(durationDesc, prometheus.GaugeValue, dur.Seconds())
	}
	ch <- prometheus.MustNewConstMetric(failuresDesc, prometheus.CounterValue, float64(failures))
}

// kick starts an evaluation when one is due and none runs. It returns the channel to wait on when there is no
// snapshot yet and an evaluation runs, else nil.
func (c *Collector) kick() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	now := c.clock()
	if c.inflight == nil && (c.started.IsZero() || !now.Before(c.started.Add(c.interval))) {
		done := make(chan struct{})
		c.inflight, c.started = done, now
		c.wg.Add(1)
		go c.refresh(done)
	}
	if c.metrics == nil && c.inflight != nil {
		return c.inflight
	}
	return nil
}

// refresh runs one evaluation and caches its metrics.
func (c *Collector) refresh(done chan struct{}) {
	defer c.wg.Done()
	defer close(done)
	ctx, cancel := context.WithTimeout(c.ctx, c.timeout)
	defer cancel()
	start := c.clock()
	snap, err := c.ev.Evaluate(ctx)
	d := c.clock().Sub(start)
	var ms []prometheus.Metric
	if err == nil {
		ms = Metrics(snap)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inflight, c.duration, c.ran = nil, d, true
	if err != nil {
		c.failures++
		c.log.Warn("evaluate findings for metrics", "err", err, "duration", d)
		return
	}
	c.metrics = ms
	c.log.Debug("evaluated findings for metrics", "hosts", len(snap.Report.Hosts), "duration", d)
}

// Close cancels a running evaluation, waits for it and stops further ones; scrapes then export the last
// snapshot.
func (c *Collector) Close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
}

// statuses are the finding statuses, for the zero series of zhizhi_findings.
var statuses = []detect.Status{detect.StatusOpen, detect.StatusExcepted}

const (
	gib = 1 << 30
	tb  = 1e12
)

// Metrics returns the metrics of snap (every series but the duration and the failure count): zhizhi_findings
// for every kind, status and department that has a host (zeros included, so that sums and stat panels never
// lack a series), one zhizhi_finding_info per host whose primary finding is not ok, what open findings would
// free per department in base units, and the evaluation time.
func Metrics(snap report.Snapshot) []prometheus.Metric {
	type key struct {
		kind   detect.Kind
		status detect.Status
		dept   string
	}
	counts := map[key]map[int64]bool{}
	frees := map[string]*detect.Resources{}
	var ms []prometheus.Metric
	for _, h := range snap.Report.Hosts {
		if frees[h.Department] == nil {
			frees[h.Department] = &detect.Resources{}
		}
		for _, f := range h.Findings {
			k := key{f.Kind, f.Status, h.Department}
			if counts[k] == nil {
				counts[k] = map[int64]bool{}
			}
			counts[k][h.HostID] = true
			// Idle and underused findings are exclusive on a host, so a host frees at most once.
			if a := report.ActionFor(f.Kind, f.Status); f.Frees != nil && f.Status == detect.StatusOpen &&
				(a == report.ActionShutdown || a == report.ActionConsolidate) {
				r := frees[h.Department]
				r.VCPU += f.Frees.VCPU
				r.MemGiB += f.Frees.MemGiB
				r.StorageTB += f.Frees.StorageTB
			}
		}
		if p := h.Primary(); p.Kind != detect.KindOK {
			ms = append(ms, prometheus.MustNewConstMetric(infoDesc, prometheus.GaugeValue, 1,
				strconv.FormatInt(h.HostID, 10), h.Host, h.System, h.Department, string(p.Kind), string(p.Status),
				string(p.Confidence)))
		}
	}
	depts := make([]string, 0, len(frees))
	for d := range frees {
		depts = append(depts, d)
	}
	slices.Sort(depts)
	kinds := append(slices.Clone(report.Kinds), detect.KindOK)
	for _, d := range depts {
		for _, k := range kinds {
			for _, st := range statuses {
				ms = append(ms, prometheus.MustNewConstMetric(findingsDesc, prometheus.GaugeValue,
					float64(len(counts[key{k, st, d}])), string(k), string(st), d))
			}
		}
		r := frees[d]
		ms = append(ms,
			prometheus.MustNewConstMetric(freesVCPUDesc, prometheus.GaugeValue, r.VCPU, d),
			prometheus.MustNewConstMetric(freesMemDesc, prometheus.GaugeValue, math.Round(r.MemGiB*gib), d),
			prometheus.MustNewConstMetric(freesStorageDesc, prometheus.GaugeValue, math.Round(r.StorageTB*tb), d))
	}
	// A kind the detector adds later still gets counted, without its zero series.
	for k, hosts := range counts {
		if !slices.Contains(kinds, k.kind) || !slices.Contains(statuses, k.status) {
			ms = append(ms, prometheus.MustNewConstMetric(findingsDesc, prometheus.GaugeValue, float64(len(hosts)),
				string(k.kind), string(k.status), k.dept))
		}
	}
	if !snap.At.IsZero() {
		ms = append(ms, prometheus.MustNewConstMetric(evaluatedDesc, prometheus.GaugeValue,
			float64(snap.At.UnixNano())/1e9))
	}
	return ms
}

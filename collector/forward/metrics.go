package forward

import "github.com/prometheus/client_golang/prometheus"

var (
	backlogDesc = prometheus.NewDesc("zhizhi_forward_backlog_samples",
		"Raw samples queued for the time-series engine.", nil, nil)
	sentDesc = prometheus.NewDesc("zhizhi_forward_sent_samples_total",
		"Raw samples written to the time-series engine (persisted across restarts).", nil, nil)
	droppedDesc = prometheus.NewDesc("zhizhi_forward_dropped_samples_total",
		"Raw samples never forwarded: queue over its bound, undecodable, or rejected by the engine (persisted).", nil, nil)
	errorsDesc = prometheus.NewDesc("zhizhi_forward_errors_total",
		"Failed write requests to the time-series engine since the server started.", nil, nil)
	lastOKDesc = prometheus.NewDesc("zhizhi_forward_last_success_timestamp_seconds",
		"Unix time of the last successful write to the time-series engine (0 before the first).", nil, nil)
)

// Collector returns a Prometheus collector of the forwarder's counters, for the server's /metrics.
func (f *Forwarder) Collector() prometheus.Collector { return collector{f} }

type collector struct{ f *Forwarder }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- backlogDesc
	ch <- sentDesc
	ch <- droppedDesc
	ch <- errorsDesc
	ch <- lastOKDesc
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	s := c.f.Stats()
	var last float64
	if !s.LastSuccess.IsZero() {
		last = float64(s.LastSuccess.UnixMilli()) / 1e3
	}
	ch <- prometheus.MustNewConstMetric(backlogDesc, prometheus.GaugeValue, float64(s.Backlog))
	ch <- prometheus.MustNewConstMetric(sentDesc, prometheus.CounterValue, float64(s.Sent))
	ch <- prometheus.MustNewConstMetric(droppedDesc, prometheus.CounterValue, float64(s.Dropped))
	ch <- prometheus.MustNewConstMetric(errorsDesc, prometheus.CounterValue, float64(s.Errors))
	ch <- prometheus.MustNewConstMetric(lastOKDesc, prometheus.GaugeValue, last)
}

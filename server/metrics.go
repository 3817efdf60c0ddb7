package server

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

type metrics struct {
	requests   *prometheus.CounterVec
	samples    prometheus.Counter
	duplicates prometheus.Counter
	duration   prometheus.Histogram
	handler    http.Handler
}

func newMetrics(s *Server) *metrics {
	reg := prometheus.NewRegistry()
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zhizhi_ingest_requests_total", Help: "Ingest requests by HTTP status code.",
		}, []string{"code"}),
		samples: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "zhizhi_ingest_samples_total", Help: "Samples newly stored by ingest.",
		}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "zhizhi_ingest_duplicate_samples_total", Help: "Samples received again and acknowledged without storing.",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "zhizhi_ingest_duration_seconds", Help: "Time to answer an ingest request, durable commit included.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
	}
	reg.MustRegister(m.requests, m.samples, m.duplicates, m.duration, &agentCollector{s: s},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(s.opts.Collectors...)
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      reg,
	})
	return m
}

func (m *metrics) observeIngest(code int, d time.Duration) {
	m.requests.WithLabelValues(strconv.Itoa(code)).Inc()
	m.duration.Observe(d.Seconds())
}

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request, _ caller) error {
	s.m.handler.ServeHTTP(w, r)
	return nil
}

var (
	agentsDesc  = prometheus.NewDesc("zhizhi_agents", "Agents by state (online, stale, offline, revoked).", []string{"state"}, nil)
	droppedDesc = prometheus.NewDesc("zhizhi_agents_dropped_samples",
		"Samples the agents dropped (spool over its cap), summed over agents as they last reported.", nil, nil)
)

// agentCollector reads agent states from the store on every scrape.
type agentCollector struct{ s *Server }

func (c *agentCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- agentsDesc
	ch <- droppedDesc
}

func (c *agentCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, dropped, err := c.s.agentStates(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(agentsDesc, err)
		return
	}
	for _, st := range []string{StatusOnline, StatusStale, StatusOffline, StatusRevoked} {
		ch <- prometheus.MustNewConstMetric(agentsDesc, prometheus.GaugeValue, float64(counts[st]), st)
	}
	ch <- prometheus.MustNewConstMetric(droppedDesc, prometheus.GaugeValue, float64(dropped))
}

// agentStates counts agents by state and sums the samples they reported dropped.
func (s *Server) agentStates(ctx context.Context) (map[string]int, uint64, error) {
	agents, err := s.store.ListAgents(ctx)
	if err != nil {
		return nil, 0, err
	}
	hosts, err := s.store.Hosts(ctx)
	if err != nil {
		return nil, 0, err
	}
	interval := make(map[string]time.Duration, len(hosts))
	for _, h := range hosts {
		interval[h.AgentID] = sampleInterval(h.Latest)
	}
	now := s.clock()
	counts := map[string]int{}
	var dropped uint64
	for _, a := range agents {
		dropped += a.Dropped
		switch {
		case a.RevokedAt != nil:
			counts[StatusRevoked]++
		case a.LastSeen == nil:
			counts[StatusOffline]++
		default:
			counts[s.fresh.Status(*a.LastSeen, now, interval[a.ID])]++
		}
	}
	return counts, dropped, nil
}

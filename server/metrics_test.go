package server

import (
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestMetricsExtraCollectors checks that Options.Collectors are served on /metrics next to the server's own.
func TestMetricsExtraCollectors(t *testing.T) {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "zhizhi_test_extra", Help: "A collector from the caller."})
	g.Set(42)
	e := newEnv(t, Options{Collectors: []prometheus.Collector{g}})
	code, data, _ := e.do("GET", "/metrics", nil)
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", code, data)
	}
	for _, want := range []string{"zhizhi_test_extra 42\n", `zhizhi_agents{state="revoked"} 1` + "\n"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

package agent

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"zhizhi/agent/wire"
)

// The counter sees every byte the client sends and receives, plus the per-segment estimate.
func TestTrafficCounterCountsOwnConnections(t *testing.T) {
	body := strings.Repeat("x", 10_000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, body)
	}))
	defer srv.Close()
	var c trafficCounter
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = c.dialer(tr.DialContext)
	client := &http.Client{Transport: tr}
	req := strings.Repeat("y", 5_000)
	resp, err := client.Post(srv.URL, "text/plain", strings.NewReader(req))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := c.Total()
	// At least both payloads and their headers; not wildly more than payload + headers + overhead.
	if min := uint64(len(body) + len(req)); got < min || got > min+4_000 {
		t.Fatalf("counted %d bytes for %d bytes of payload", got, min)
	}
}

// deltaCollector reports samples that cover an interval, as the real collector does after its first read.
type deltaCollector struct{ fakeCollector }

func (d *deltaCollector) Collect(ctx context.Context, now time.Time) wire.Sample {
	s := d.fakeCollector.Collect(ctx, now)
	s.IntervalSeconds = 0.02
	return s
}

// Every sample carries the agent's own traffic since the previous cycle; once batches have gone out, it is
// more than zero and sums to no more than the counter's total.
func TestSamplesCarryOwnTraffic(t *testing.T) {
	srv := &ingest{}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	a, err := newAgent(testConfig(t, hs.URL), Deps{Collector: &deltaCollector{}, Jitter: func() float64 { return 0 }})
	if err != nil {
		t.Fatal(err)
	}
	stop := startAgent(t, a)
	waitFor(t, "10 delivered samples", func() bool { return len(srv.delivered()) >= 10 })
	stop()
	srv.mu.Lock()
	own := append([]uint64(nil), srv.own...)
	srv.mu.Unlock()
	if len(own) < 10 {
		t.Fatalf("%d of the delivered samples carry agent_net_bytes", len(own))
	}
	var sum uint64
	nonZero := 0
	for _, b := range own {
		sum += b
		if b > 0 {
			nonZero++
		}
	}
	if nonZero == 0 || sum > a.traffic.Total() {
		t.Fatalf("own traffic per sample %v (sum %d), counter total %d", own, sum, a.traffic.Total())
	}
}

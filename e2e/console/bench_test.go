package consolee2e

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"zhizhi/collector/calendar"
	"zhizhi/server/console"
	"zhizhi/server/console/consoletest"
)

// BenchmarkHeatmapInteractive measures the heatmap page's time to interactive in Chromium for a district of
// 1,000 systems × 365 days (the consoletest fake served in-process): ready-ms is the page's data-ready-ms, the
// time from navigation start until the matrix is drawn and clickable, as the page itself measures it.
func BenchmarkHeatmapInteractive(b *testing.B) {
	now := time.Date(2026, 6, 15, 10, 0, 0, 0, calendar.Shanghai)
	fake := consoletest.District(20, 50, 1, now)
	pc := func(*http.Request) console.PageContext {
		return console.PageContext{User: console.User{Name: "bench", Role: "analyst"}, Scope: console.Scope{All: true},
			Lang: "zh-CN", CSRF: "bench"}
	}
	srv := httptest.NewServer(consoletest.Handler(fake, pc, func() time.Time { return now }))
	b.Cleanup(srv.Close)
	br := newBrowser(b)
	url := srv.URL + "/heatmap?year=2025&metric=cpu&stat=p95"
	const want = 1000 * 365

	b.ReportAllocs()
	var total float64
	for b.Loop() {
		br.open(url)
		cells, ready := br.heatmapReady()
		if cells != want {
			b.Fatalf("data-cells = %d, want %d", cells, want)
		}
		total += ready
	}
	b.ReportMetric(total/float64(b.N), "ready-ms")
	if p := br.takeProblems(); len(p) > 0 {
		b.Fatalf("browser errors: %q", p)
	}
}

package console_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"zhizhi/server/console"
	"zhizhi/server/console/consoletest"
)

// BenchmarkAppendMatrixJSON encodes the district matrix of 1,000 systems × 365 days.
func BenchmarkAppendMatrixJSON(b *testing.B) {
	f := consoletest.District(25, 40, 1, testNow)
	m, err := f.Matrix(b.Context(), console.Scope{All: true}, 2025, console.MetricCPU, console.StatP95)
	if err != nil || len(m.Rows) != 1000 {
		b.Fatalf("%d rows, %v", len(m.Rows), err)
	}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf, err = console.AppendMatrixJSON(buf[:0], "zh-CN", 2025, "cpu", "p95", m)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkMatrixHandler serves /console/api/matrix for 1,000 systems × 365 days over a fake Data, gzip included.
func BenchmarkMatrixHandler(b *testing.B) {
	f := consoletest.District(25, 40, 1, testNow)
	c := console.New(f, func(*http.Request) console.PageContext {
		return console.PageContext{Scope: console.Scope{All: true}}
	}, slog.New(slog.DiscardHandler)).WithClock(func() time.Time { return testNow })
	var h http.Handler
	for _, rt := range c.Routes() {
		if rt.Pattern == "/console/api/matrix" {
			h = rt.Handler
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("GET", "/console/api/matrix?year=2025", nil)
		req.Header.Set("Accept-Encoding", "gzip")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}

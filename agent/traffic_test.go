package agent

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
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

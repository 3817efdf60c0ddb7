package server

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"zhizhi/agent/wire"
)

// TestIngestBusy: a store refusing a batch because its queue is full gives 503 with Retry-After and a JSON
// error; once the store accepts again the same batch is stored.
func TestIngestBusy(t *testing.T) {
	e := newEnv(t, Options{})
	e.store.mu.Lock()
	e.store.ingestErr = fmt.Errorf("ingest: %w", ErrBusy)
	e.store.mu.Unlock()
	code, data, h := e.do("POST", wire.IngestPath, jsonBody(e.batch(1, 2)), e.agent())
	if code != http.StatusServiceUnavailable || h.Get("Retry-After") == "" || !strings.Contains(string(data), "busy") {
		t.Fatalf("busy store: %d %q %s", code, h.Get("Retry-After"), data)
	}
	e.store.mu.Lock()
	e.store.ingestErr = nil
	e.store.mu.Unlock()
	code, data, _ = e.do("POST", wire.IngestPath, jsonBody(e.batch(1, 2)), e.agent())
	if code != http.StatusOK || !strings.Contains(string(data), `"accepted":2`) {
		t.Fatalf("retry: %d %s", code, data)
	}
}

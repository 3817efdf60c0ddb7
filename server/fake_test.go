package server

import (
	"context"
	"fmt"
	"sync"
	"time"

	"zhizhi/agent/wire"
)

// fakeStore is an in-memory Store with the store's semantics for tokens, revocation and duplicate seqs.
type fakeStore struct {
	mu      sync.Mutex
	agents  map[string]*Agent
	tokens  map[string]string // token → agent id
	seqs    map[string]map[uint64]bool
	hosts   []HostSummary
	series  Series
	batches []*wire.Batch
	pingErr error
	// ingestErr, when set, is what Ingest returns.
	ingestErr error
	next      int
	// seriesArgs records the last Series call.
	seriesFrom, seriesTo time.Time
}

func newFakeStore() *fakeStore {
	return &fakeStore{agents: map[string]*Agent{}, tokens: map[string]string{}, seqs: map[string]map[uint64]bool{}}
}

func (f *fakeStore) AuthenticateAgent(_ context.Context, token string) (Agent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id, ok := f.tokens[token]
	if !ok {
		return Agent{}, fmt.Errorf("token: %w", ErrUnauthorized)
	}
	a := f.agents[id]
	if a.RevokedAt != nil {
		return Agent{}, fmt.Errorf("agent %s: %w", id, ErrRevoked)
	}
	return *a, nil
}

func (f *fakeStore) Ingest(_ context.Context, a Agent, b *wire.Batch, receivedAt time.Time) (wire.Ack, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ingestErr != nil {
		return wire.Ack{}, f.ingestErr
	}
	seen := f.seqs[a.ID]
	if seen == nil {
		seen = map[uint64]bool{}
		f.seqs[a.ID] = seen
	}
	var ack wire.Ack
	for _, s := range b.Samples {
		if seen[s.Seq] {
			ack.Duplicates++
		} else {
			seen[s.Seq] = true
			ack.Accepted++
		}
	}
	for s := range seen {
		ack.MaxSeq = max(ack.MaxSeq, s)
	}
	ag := f.agents[a.ID]
	ag.LastSeen, ag.ClockSkew, ag.Dropped = &receivedAt, b.SentAt.Sub(receivedAt), b.Dropped
	f.batches = append(f.batches, b)
	return ack, nil
}

func (f *fakeStore) EnrollAgent(_ context.Context, system, department string) (Agent, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.next++
	a := &Agent{ID: fmt.Sprintf("ag%d", f.next), System: system, Department: department, CreatedAt: testNow}
	token := fmt.Sprintf("tok-%d-secret", f.next)
	f.agents[a.ID], f.tokens[token] = a, a.ID
	return *a, token, nil
}

func (f *fakeStore) ListAgents(context.Context) ([]Agent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Agent
	for i := 1; i <= f.next; i++ {
		if a, ok := f.agents[fmt.Sprintf("ag%d", i)]; ok {
			out = append(out, *a)
		}
	}
	return out, nil
}

func (f *fakeStore) RevokeAgent(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.agents[id]
	if !ok {
		return fmt.Errorf("agent %s: %w", id, ErrNotFound)
	}
	if a.RevokedAt == nil {
		t := testNow
		a.RevokedAt = &t
	}
	return nil
}

func (f *fakeStore) Systems(context.Context) ([]SystemSummary, error) {
	return []SystemSummary{{ID: 1, Name: "不动产登记", Department: "自然资源局", Hosts: len(f.hosts), LastSeen: testNow}}, nil
}

func (f *fakeStore) Hosts(context.Context) ([]HostSummary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]HostSummary(nil), f.hosts...), nil
}

func (f *fakeStore) Host(_ context.Context, id int64) (HostSummary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, h := range f.hosts {
		if h.ID == id {
			return h, nil
		}
	}
	return HostSummary{}, fmt.Errorf("host %d: %w", id, ErrNotFound)
}

func (f *fakeStore) Series(_ context.Context, hostID int64, metric string, from, to time.Time) (Series, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seriesFrom, f.seriesTo = from, to
	s := f.series
	s.HostID, s.Metric = hostID, metric
	return s, nil
}

func (f *fakeStore) Ping(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pingErr
}

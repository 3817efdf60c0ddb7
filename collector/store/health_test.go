package store

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"zhizhi/agent/wire"
)

func TestAgentHealth(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t, Options{})
	a, _ := enroll(t, s, "社会救助管理系统", "民政局")
	h, err := s.AgentHealth(ctx, a.ID)
	if err != nil || h.SpoolBytes != nil || h.LastSeen != nil {
		t.Fatalf("before any batch: %+v %v", h, err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	now := time.Now().UTC()
	b := batchOf(a, now.Add(1500*time.Millisecond), realisticSample(r, 1, now))
	b.Dropped = 7
	b.Spool = &wire.SpoolStats{Bytes: 4096, Records: 3}
	mustIngest(t, s, a, b, now)
	h, err = s.AgentHealth(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if h.SpoolBytes == nil || *h.SpoolBytes != 4096 || *h.SpoolRecords != 3 || h.Dropped != 7 ||
		h.ClockSkew != 1500*time.Millisecond || h.LastSeen == nil {
		t.Fatalf("after a batch: %+v", h)
	}
	// A batch without spool stats (an older agent) keeps the last reported backlog.
	b = batchOf(a, now, realisticSample(r, 2, now.Add(time.Second)))
	mustIngest(t, s, a, b, now)
	if h, _ = s.AgentHealth(ctx, a.ID); h.SpoolBytes == nil || *h.SpoolBytes != 4096 {
		t.Fatalf("spool forgotten: %+v", h)
	}
	if _, err := s.AgentHealth(ctx, "ag-nosuchagent00"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown agent: %v", err)
	}
}

func TestPing(t *testing.T) {
	s, _ := openTest(t, Options{})
	if err := s.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(context.Background()); err == nil {
		t.Fatal("ping of a closed store succeeded")
	}
}

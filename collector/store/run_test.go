package store

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"
)

func TestRunRollsUpAndStops(t *testing.T) {
	s, _ := openTest(t, Options{RollupInterval: 10 * time.Millisecond, CoarseRollupInterval: 20 * time.Millisecond,
		RetentionInterval: 30 * time.Millisecond})
	a, _ := enroll(t, s, "OA", "Finance")
	now := time.Now()
	mustIngest(t, s, a, batchOf(a, now, realisticSample(rand.New(rand.NewPCG(1, 3)), 1, now)), now)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := s.Stats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if st.RollupBacklog == 0 && st.Rollup1m > 0 && st.Rollup1d > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Run did not roll up: %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run returned %v", err)
	}
}

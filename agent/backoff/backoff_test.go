package backoff

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestNext(t *testing.T) {
	b := Backoff{Min: time.Second, Max: 10 * time.Second, Jitter: func() float64 { return 1 }}
	var got []time.Duration
	for range 6 {
		got = append(got, b.Next())
	}
	want := []time.Duration{1, 2, 4, 8, 10, 10}
	for i := range want {
		if got[i] != want[i]*time.Second {
			t.Fatalf("sequence %v, want %v seconds", got, want)
		}
	}
	b.Reset()
	if d := b.Next(); d != time.Second {
		t.Fatalf("after Reset: %v", d)
	}
	b.Jitter = func() float64 { return 0.5 }
	if d := b.Next(); d != time.Second {
		t.Fatalf("jitter 0.5 on 2s: %v", d)
	}
	r := Backoff{Min: time.Second, Max: time.Minute}
	for range 50 {
		if d := r.Next(); d < r.cur/2 || d >= r.cur*3/2 {
			t.Fatalf("random jitter out of [0.5, 1.5): %v for %v", d, r.cur)
		}
	}
}

func TestSleep(t *testing.T) {
	if err := Sleep(context.Background(), time.Millisecond); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	if err := Sleep(ctx, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("zero wait on a cancelled context: %v", err)
	}
}

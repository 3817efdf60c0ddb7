// Package backoff computes jittered exponential retry delays and sleeps them under a context.
//
// It uses the standard library only, so the agent links it; the server's forwarder and the LLM client use it too.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff doubles its delay from Min up to Max on every Next and multiplies it by a jitter factor. The zero value
// with Min and Max set is ready to use; it is not safe for concurrent use.
type Backoff struct {
	Min, Max time.Duration
	// Jitter returns a factor in [0.5, 1.5); nil means a uniformly random one.
	Jitter func() float64
	cur    time.Duration
}

// Next returns the delay before the next attempt: Min, 2·Min, 4·Min … capped at Max, times the jitter factor.
func (b *Backoff) Next() time.Duration {
	if b.cur == 0 {
		b.cur = b.Min
	} else {
		b.cur = min(2*b.cur, b.Max)
	}
	return time.Duration(float64(b.cur) * b.jitter())
}

// Reset starts the sequence again at Min, after a success.
func (b *Backoff) Reset() { b.cur = 0 }

func (b *Backoff) jitter() float64 {
	if b.Jitter != nil {
		return b.Jitter()
	}
	return Jitter()
}

// Jitter returns a uniformly random factor in [0.5, 1.5).
func Jitter() float64 { return 0.5 + rand.Float64() }

// Sleep waits for d or until ctx ends, returning ctx.Err() in that case. A non-positive d only checks ctx.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

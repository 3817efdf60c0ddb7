package auth

import (
	"strings"
	"sync"
	"time"
)

// ThrottleOptions configure a Throttle; zero fields take the defaults.
type ThrottleOptions struct {
	// NameFailures is how many failed sign-ins for one user name lock it (default 5).
	NameFailures int
	// IPFailures is how many failed sign-ins from one client address lock it (default 20: offices share NAT).
	IPFailures int
	// Base is the first lockout (default 1 min); each further failure doubles it, up to Max (default 15 min).
	Base, Max time.Duration
	// Clock decides lockouts; nil means time.Now.
	Clock func() time.Time
}

// Throttle slows password guessing: after NameFailures failures for a user name, or IPFailures from a client
// address, sign-ins from that name or address are refused for an exponentially growing lockout. Failures are
// forgotten Max after the last one. It lives in memory: a restart forgets it.
type Throttle struct {
	opts ThrottleOptions
	mu   sync.Mutex
	keys map[string]*throttleEntry
}

type throttleEntry struct {
	failures    int
	last        time.Time
	lockedUntil time.Time
}

// maxThrottleKeys bounds the memory a flood of distinct names can take; past it, forgotten entries are swept.
const maxThrottleKeys = 10000

// NewThrottle returns a Throttle.
func NewThrottle(opts ThrottleOptions) *Throttle {
	if opts.NameFailures <= 0 {
		opts.NameFailures = 5
	}
	if opts.IPFailures <= 0 {
		opts.IPFailures = 20
	}
	if opts.Base <= 0 {
		opts.Base = time.Minute
	}
	if opts.Max <= 0 {
		opts.Max = 15 * time.Minute
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	return &Throttle{opts: opts, keys: map[string]*throttleEntry{}}
}

func nameKey(name string) string { return "u:" + strings.ToLower(strings.TrimSpace(name)) }
func ipKey(ip string) string     { return "ip:" + ip }

// Wait returns how long sign-ins for name from ip stay refused; 0 means go ahead.
func (t *Throttle) Wait(name, ip string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.opts.Clock()
	var wait time.Duration
	for _, k := range []string{nameKey(name), ipKey(ip)} {
		if e := t.keys[k]; e != nil {
			wait = max(wait, e.lockedUntil.Sub(now))
		}
	}
	return max(wait, 0)
}

// Fail records a failed sign-in for name from ip.
func (t *Throttle) Fail(name, ip string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.opts.Clock()
	if len(t.keys) >= maxThrottleKeys {
		t.sweep(now)
	}
	t.fail(nameKey(name), t.opts.NameFailures, now)
	t.fail(ipKey(ip), t.opts.IPFailures, now)
}

func (t *Throttle) fail(key string, limit int, now time.Time) {
	e := t.keys[key]
	if e == nil || (now.Sub(e.last) > t.opts.Max && !now.Before(e.lockedUntil)) {
		e = &throttleEntry{}
		t.keys[key] = e
	}
	e.failures++
	e.last = now
	if over := e.failures - limit; over >= 0 {
		lock := t.opts.Max
		if over < 20 {
			lock = min(t.opts.Base<<over, t.opts.Max)
		}
		e.lockedUntil = now.Add(lock)
	}
}

// Succeed records a successful sign-in: the user name's failures are forgotten (the address's are not, so
// that one valid account does not reset a guessing run from the same place).
func (t *Throttle) Succeed(name, _ string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.keys, nameKey(name))
}

func (t *Throttle) sweep(now time.Time) {
	for k, e := range t.keys {
		if now.Sub(e.last) > t.opts.Max && !now.Before(e.lockedUntil) {
			delete(t.keys, k)
		}
	}
}

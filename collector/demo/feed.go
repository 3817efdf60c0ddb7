package demo

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"zhizhi/agent/wire"
	"zhizhi/collector/store"
)

// MetaSeed is the store meta key under which Load records the seed, so that Feed continues the same district.
const MetaSeed = "demo.seed"

// FeedOptions configure Feed.
type FeedOptions struct {
	// Interval between samples (default 15 s).
	Interval time.Duration
	// Clock is the time source; nil means time.Now.
	Clock func() time.Time
	// Logger receives errors; nil discards them.
	Logger *slog.Logger
}

// Feed keeps a loaded demo district alive: every Interval it ingests one sample per simulated host, taken from
// the same model at the current time, so the overview shows the hosts online and the rollups (and today's
// heatmap cells) grow like a real district's. It finds the hosts by name in st (other hosts are left alone)
// and returns when ctx is done; errors of one round are logged and the next round tries again.
func Feed(ctx context.Context, st *store.Store, opts FeedOptions) error {
	if opts.Interval <= 0 {
		opts.Interval = 15 * time.Second
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "demo-feed")
	tick := time.NewTicker(opts.Interval)
	defer tick.Stop()
	for {
		if err := FeedOnce(ctx, st, opts.Clock()); err != nil && ctx.Err() == nil {
			log.Error("demo feed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// FeedOnce ingests one sample at now for every simulated host of the demo district in st whose agent is not
// silent at now, and returns the first error.
func FeedOnce(ctx context.Context, st *store.Store, now time.Time) error {
	seed := uint64(0)
	if v, ok, err := st.Meta(ctx, MetaSeed); err != nil {
		return err
	} else if ok {
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			return fmt.Errorf("demo seed %q: %w", v, err)
		}
	}
	type model struct {
		sys  *System
		host *Host
	}
	byName := map[string]model{}
	deps := Build(seed, now)
	for di := range deps {
		for si := range deps[di].Systems {
			sys := &deps[di].Systems[si]
			for hi := range sys.Hosts {
				byName[sys.Hosts[hi].Name] = model{sys, &sys.Hosts[hi]}
			}
		}
	}
	hosts, err := st.Hosts(ctx)
	if err != nil {
		return err
	}
	start := dayOf(now).AddDate(0, 0, -364)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for _, h := range hosts {
		m, ok := byName[h.Hostname]
		if !ok || m.host.Silent(now) || m.sys.Name != h.System {
			continue
		}
		wg.Go(func() { // concurrent batches share one commit
			err := feedHost(ctx, st, seed, m.sys, m.host, h.AgentID, start, now)
			mu.Lock()
			if first == nil && err != nil {
				first = fmt.Errorf("host %s: %w", h.Hostname, err)
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	return first
}

func feedHost(ctx context.Context, st *store.Store, seed uint64, sys *System, h *Host, agentID string, start, now time.Time) error {
	a, err := st.Agent(ctx, agentID)
	if err != nil {
		return err
	}
	if a.RevokedAt != nil {
		return nil
	}
	smp := currentSample(seed, sys, h, start, now)
	// Samples within an hour differ a little, deterministically.
	r := rand.New(rand.NewPCG(seed^hash(h.Name), uint64(now.Unix())))
	c := clamp(smp.CPU.BusyPct*(1+0.2*(r.Float64()-0.5)), 0.1, 100)
	smp.CPU = &wire.CPU{BusyPct: c, UserPct: c * 0.7, SystemPct: c * 0.25, IOWaitPct: c * 0.05}
	smp.Seq, smp.Time = a.LastSeq+1, now
	_, err = st.Ingest(ctx, a, &wire.Batch{Version: wire.SchemaVersion, AgentID: a.ID, SentAt: now,
		Samples: []wire.Sample{smp}}, now)
	return err
}

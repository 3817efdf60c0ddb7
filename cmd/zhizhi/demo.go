package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"zhizhi/collector/demo"
	"zhizhi/collector/store"
)

// defaultDemoSeed is the seed of `zhizhi up --demo` and the default of `zhizhi demo --seed`.
const defaultDemoSeed = 1

// demoConfig is everything `zhizhi demo` needs; tests fill it directly.
type demoConfig struct {
	dataDir string
	seed    uint64
	force   bool
	out     io.Writer
	log     *slog.Logger
	now     func() time.Time // nil means time.Now
	days    int              // days of history; 0 means a full year (tests shorten it)
}

func (c *cli) demoCmd() *cobra.Command {
	cfg := demoConfig{seed: defaultDemoSeed}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Fill a store with a simulated district (demo data)",
		Long: `Fill <data>/zhizhi.db with a simulated district: 24 departments, 72 systems and 152 hosts with a year
of history ending now (daily rollups for the year, hourly for 90 days, 1-minute for the last 24 hours). The
data is deterministic from --seed and labelled as demo data on every page. Start the server afterwards with
"zhizhi up --data DIR" (or use "zhizhi up --demo", which loads it into an empty store).

It refuses a store that already has agents (real ones, or a demo already loaded) unless --force.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.out, cfg.log = c.out, c.log
			return runDemo(cmd.Context(), cfg)
		},
	}
	cmd.Flags().StringVar(&cfg.dataDir, "data", "./data", "data directory (created if missing)")
	cmd.Flags().Uint64Var(&cfg.seed, "seed", defaultDemoSeed, "seed of the simulation: the same seed gives the same district")
	cmd.Flags().BoolVar(&cfg.force, "force", false, "load even if the store already has agents")
	return cmd
}

func runDemo(ctx context.Context, cfg demoConfig) error {
	log := cfg.log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.dataDir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	st, err := store.Open(ctx, filepath.Join(cfg.dataDir, dbFile), store.Options{Logger: log, Clock: cfg.now})
	if err != nil {
		return err
	}
	err = func() error {
		agents, err := st.ListAgents(ctx)
		if err != nil {
			return err
		}
		if len(agents) > 0 && !cfg.force {
			if st.IsDemo(ctx) {
				return fmt.Errorf("%s already holds the demo district; use an empty --data directory (or --force)", cfg.dataDir)
			}
			return fmt.Errorf("%s holds %d agents of real data; refusing to mix demo data into it (use an empty --data directory, or --force)",
				cfg.dataDir, len(agents))
		}
		return loadDemo(ctx, st, cfg.seed, cfg.now, cfg.days, cfg.out)
	}()
	return errors.Join(err, st.Close())
}

// loadDemo loads the demo district into st with a progress bar on w.
func loadDemo(ctx context.Context, st *store.Store, seed uint64, now func() time.Time, days int, w io.Writer) error {
	if now == nil {
		now = time.Now
	}
	start := time.Now()
	// The load allocates gigabytes of short-lived rows over a small live heap: collect less often meanwhile.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	var bar *progressbar.ProgressBar
	tty, lastTenth := isTerminal(w), 0
	sum, err := demo.Load(ctx, st, demo.Options{Seed: seed, End: now(), Days: days, Progress: func(done, total int) {
		if !tty {
			// In a log or a pipe: one line per tenth of the work.
			if tenth := 10 * done / total; tenth > lastTenth {
				lastTenth = tenth
				fmt.Fprintf(w, "demo district: %d%% (%d/%d)\n", 10*tenth, done, total)
			}
			return
		}
		if bar == nil {
			bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription("demo district"),
				progressbar.OptionSetWidth(30), progressbar.OptionShowCount(), progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }))
		}
		bar.Set(done) //nolint:errcheck // a progress bar that cannot draw is not an error
	}})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Loaded the demo district: %d departments, %d systems, %d hosts, %d rollup rows (%s to %s) in %.1f s.\n",
		sum.Departments, sum.Systems, sum.Hosts, sum.Rows, sum.From.Format(time.DateOnly), sum.To.Format(time.DateOnly),
		time.Since(start).Seconds())
	return nil
}

// loadDemoIfEmpty is `zhizhi up --demo`: it loads the demo district when the store has no agent yet and
// otherwise leaves the store alone.
func loadDemoIfEmpty(ctx context.Context, st *store.Store, w io.Writer, log *slog.Logger) error {
	agents, err := st.ListAgents(ctx)
	if err != nil {
		return err
	}
	if len(agents) > 0 {
		if !st.IsDemo(ctx) {
			log.Warn("--demo ignored: the store already holds real data")
		}
		return nil
	}
	return loadDemo(ctx, st, defaultDemoSeed, nil, 0, w)
}

// feedDemo keeps the hosts of a demo store reporting (demo.Feed) until ctx is done; it does nothing for a store
// that does not hold demo data.
func feedDemo(ctx context.Context, st *store.Store, log *slog.Logger) {
	if !st.IsDemo(ctx) {
		return
	}
	if err := demo.Feed(ctx, st, demo.FeedOptions{Logger: log}); err != nil {
		log.Error("demo feed", "err", err)
	}
}

// Command zhizhi-agent collects host metrics and delivers them to a zhizhi server.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"zhizhi/agent"
	"zhizhi/agent/collect"
	"zhizhi/agent/config"
	"zhizhi/agent/deliver"
	"zhizhi/agent/winsvc"
	"zhizhi/agent/wire"
)

func main() {
	if err := newRoot(os.Stdout, os.Stderr, os.Getenv).Execute(); err != nil {
		os.Exit(1)
	}
}

// globals are the persistent flags.
type globals struct {
	configPath string
	configSet  bool
	logLevel   string
}

func newRoot(stdout, stderr io.Writer, getenv func(string) string) *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "zhizhi-agent",
		Short: "Collect host metrics and deliver them to a zhizhi server",
		Long: `zhizhi-agent collects CPU, memory, storage, network and connection metrics every interval,
keeps them in an on-disk spool and delivers them to the zhizhi server.

Configuration: ` + config.DefaultPath + ` (see "zhizhi-agent sample-config"), overridden by
ZHIZHI_AGENT_SERVER, ZHIZHI_AGENT_TOKEN_FILE, ZHIZHI_AGENT_INTERVAL, ZHIZHI_AGENT_SPOOL_DIR,
ZHIZHI_AGENT_METRICS_LISTEN and ZHIZHI_AGENT_LOG_LEVEL.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRun: func(cmd *cobra.Command, _ []string) {
			g.configSet = cmd.Flags().Changed("config")
		},
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVar(&g.configPath, "config", config.DefaultPath, "configuration file")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "", "debug, info, warn or error (overrides log.level)")

	fail := func(err error) error {
		fmt.Fprintln(stderr, "zhizhi-agent:", err)
		return err
	}
	addInstallCommands(root, stdout, stderr)

	root.AddCommand(&cobra.Command{
		Use:   "run",
		Short: "Run the agent (the service)",
		Long:  "Run collects every interval and delivers to the server until SIGTERM or SIGINT, then flushes for up to 3s and exits.",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, logger, err := g.load(stderr, getenv)
			if err != nil {
				return fail(err)
			}
			a, err := agent.New(cfg, agent.Deps{Logger: logger})
			if err != nil {
				return fail(err)
			}
			// Under the Windows service manager, stop requests cancel the context; elsewhere this is a no-op.
			if handled, err := winsvc.RunAsService(serviceName, a.Run); handled {
				if err != nil {
					return fail(err)
				}
				return nil
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			if err := a.Run(ctx); err != nil {
				return fail(err)
			}
			return nil
		},
	})

	root.AddCommand(&cobra.Command{
		Use:   "once",
		Short: "Collect one sample and print it as JSON (no server or token needed)",
		Long: "Once collects twice, one second apart, so that CPU use and traffic deltas are real, and prints the\n" +
			"second sample to stdout. The configuration file is optional.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.LoadForCollect(g.configPath, getenv, !g.configSet)
			if err != nil {
				return fail(err)
			}
			logger, err := newLogger(stderr, pick(g.logLevel, cfg.Log.Level), cfg.Log.Format)
			if err != nil {
				return fail(err)
			}
			c := collect.New(agent.CollectConfig(cfg), nil, nil, logger)
			ctx := cmd.Context()
			c.Collect(ctx, time.Now())
			select {
			case <-time.After(time.Second):
			case <-ctx.Done():
				return fail(ctx.Err())
			}
			s := c.Collect(ctx, time.Now())
			s.Seq = 1
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			if err := enc.Encode(s); err != nil {
				return fail(err)
			}
			return nil
		},
	})

	root.AddCommand(&cobra.Command{
		Use:   "check",
		Short: "Validate the configuration and token and test the connection to the server",
		Long: "Check validates the configuration, reads the token file, reaches the server's /healthz and posts an\n" +
			"empty batch with the token. It prints OK or the reason and exits non-zero on failure.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, _, err := g.load(stderr, getenv)
			if err != nil {
				return fail(err)
			}
			if err := check(cmd.Context(), cfg, stdout); err != nil {
				return fail(err)
			}
			return nil
		},
	})

	root.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintf(stdout, "zhizhi-agent %s (%s, %s/%s)\n", agent.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	})

	root.AddCommand(&cobra.Command{
		Use:   "sample-config",
		Short: "Print a commented sample configuration (it shows every default)",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := stdout.Write(config.Sample)
			return err
		},
	})
	return root
}

func pick(flag, cfg string) string {
	if flag != "" {
		return flag
	}
	return cfg
}

// load reads the configuration and builds the logger.
func (g *globals) load(stderr io.Writer, getenv func(string) string) (config.Config, *slog.Logger, error) {
	cfg, err := config.Load(g.configPath, getenv)
	if err != nil {
		if config.IsNotExist(err) && !g.configSet {
			err = fmt.Errorf("%w (write one with `zhizhi-agent sample-config > %s`, or pass --config)", err, config.DefaultPath)
		}
		return config.Config{}, nil, err
	}
	if g.logLevel != "" {
		cfg.Log.Level = strings.ToLower(g.logLevel)
	}
	logger, err := newLogger(stderr, cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		return config.Config{}, nil, err
	}
	return cfg, logger, nil
}

// newLogger builds a slog logger writing to w.
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: want text or json", format)
}

// check runs the `check` command's steps, printing each.
func check(ctx context.Context, cfg config.Config, out io.Writer) error {
	fmt.Fprintf(out, "config: ok (server %s, interval %s, spool %s)\n", cfg.Server, cfg.Interval, cfg.Spool.Dir)
	token, err := cfg.ResolveToken()
	if err != nil {
		return err
	}
	id, err := agent.ParseToken(token)
	if err != nil {
		return fmt.Errorf("token file %s: %w", cfg.TokenFile, err)
	}
	fmt.Fprintf(out, "token: ok (agent id %s)\n", id)
	client, err := agent.HTTPClient(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*cfg.Send.Timeout+time.Second)
	defer cancel()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cfg.Server+"/healthz", nil)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("server unreachable: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	fmt.Fprintf(out, "server: reachable (/healthz answered %d)\n", resp.StatusCode)

	body, err := deliver.Encode(wire.Batch{Version: wire.SchemaVersion, AgentID: id, SentAt: time.Now().UTC(),
		Samples: []wire.Sample{}})
	if err != nil {
		return err
	}
	_, _, err = deliver.Post(ctx, client, cfg.Server+wire.IngestPath, token, body, cfg.Send.Timeout, time.Now)
	switch code := deliver.StatusCode(err); {
	case err == nil:
		fmt.Fprintln(out, "auth: ok (the server accepted an empty batch)")
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return fmt.Errorf("the server refused the token in %s: %w", cfg.TokenFile, err)
	case code == http.StatusBadRequest:
		fmt.Fprintf(out, "auth: ok (token accepted; the server refused the empty batch: %v)\n", err)
	default:
		return fmt.Errorf("ingest endpoint: %w", err)
	}
	fmt.Fprintln(out, "OK")
	return nil
}

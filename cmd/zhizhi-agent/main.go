// Command zhizhi-agent collects host metrics and delivers them to a zhizhi server.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"
	"time"

	"zhizhi/agent"
	"zhizhi/agent/collect"
	"zhizhi/agent/config"
	"zhizhi/agent/deliver"
	"zhizhi/agent/winsvc"
	"zhizhi/agent/wire"
)

func main() {
	tuneGC(os.Getenv)
	tuneProcs(os.Getenv)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// defaultGCPercent is the agent's GOGC unless the environment sets GOGC. The live heap is about 1 MiB and a
// cycle allocates under 100 KB, so a lower GOGC keeps the heap (and RSS) small at little CPU cost. No memory
// limit is set by default: an 8 MiB limit was measured at 20 ms CPU per cycle (4 MiB at 60 ms), because the
// runtime's own memory is close to it and the GC then runs constantly; GOMEMLIMIT can still set one.
const defaultGCPercent = 50

// tuneGC applies the agent's GC default when the environment does not set GOGC.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
}

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1 // the command failed; the reason is on stderr
	exitUsage = 2 // unknown command, flag or argument; usage is on stderr
)

// run executes the command line args (without the program name) and returns the exit status.
func run(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	return runContext(context.Background(), args, stdout, stderr, getenv)
}

// runContext is run with a context that stops `run` and `once` when cancelled.
func runContext(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	c := &cli{stdout: stdout, stderr: stderr}
	c.cmds = append(c.commands(getenv), installCommands(stdout)...)
	return c.execute(ctx, args)
}

// globals are the flags every command accepts, before or after its name.
type globals struct {
	configPath string
	configSet  bool // --config was given
	logLevel   string
}

// command is one subcommand.
type command struct {
	name    string
	short   string // one line, shown in the command list
	long    string // shown by --help; short when empty
	example string
	// flags registers the command's own flags; nil means none.
	flags func(fs *flag.FlagSet)
	run   func(ctx context.Context) error
}

// cli dispatches the command line to a command.
type cli struct {
	stdout, stderr io.Writer
	g              globals // the parsed global flags, set before a command runs
	cmds           []*command
}

const rootLong = `zhizhi-agent collects CPU, memory, storage, network and connection metrics every interval,
keeps them in an on-disk spool and delivers them to the zhizhi server.

Configuration: ` + config.DefaultPath + ` (see "zhizhi-agent sample-config"), overridden by
ZHIZHI_AGENT_SERVER, ZHIZHI_AGENT_TOKEN_FILE, ZHIZHI_AGENT_INTERVAL, ZHIZHI_AGENT_SPOOL_DIR,
ZHIZHI_AGENT_METRICS_LISTEN and ZHIZHI_AGENT_LOG_LEVEL.`

// commands returns run, once, check, version and sample-config.
func (c *cli) commands(getenv func(string) string) []*command {
	g := &c.g
	stdout, stderr := c.stdout, c.stderr
	return []*command{{
		name:  "run",
		short: "Run the agent (the service)",
		long:  "Run collects every interval and delivers to the server until SIGTERM or SIGINT, then flushes for up to 3s and exits.",
		run: func(ctx context.Context) error {
			cfg, logger, err := g.load(stderr, getenv)
			if err != nil {
				return err
			}
			a, err := agent.New(cfg, agent.Deps{Logger: logger, AfterFirstCycle: execAdvice(getenv, logger, agent.DropExecutablePages)})
			if err != nil {
				return err
			}
			// Under the Windows service manager, stop requests cancel the context; elsewhere this is a no-op.
			if handled, err := winsvc.RunAsService(serviceName, a.Run); handled {
				return err
			}
			ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
			defer stop()
			return a.Run(ctx)
		},
	}, {
		name:  "once",
		short: "Collect one sample and print it as JSON (no server or token needed)",
		long: "Once collects twice, one second apart, so that CPU use and traffic deltas are real, and prints the\n" +
			"second sample to stdout. The configuration file is optional.",
		run: func(ctx context.Context) error {
			cfg, err := config.LoadForCollect(g.configPath, getenv, !g.configSet)
			if err != nil {
				return err
			}
			logger, err := newLogger(stderr, pick(g.logLevel, cfg.Log.Level), cfg.Log.Format)
			if err != nil {
				return err
			}
			col := collect.New(agent.CollectConfig(cfg), nil, nil, logger)
			col.Collect(ctx, time.Now())
			select {
			case <-time.After(time.Second):
			case <-ctx.Done():
				return ctx.Err()
			}
			s := col.Collect(ctx, time.Now())
			s.Seq = 1
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(s)
		},
	}, {
		name:  "check",
		short: "Validate the configuration and token and test the connection to the server",
		long: "Check validates the configuration, reads the token file, reaches the server's /healthz and posts an\n" +
			"empty batch with the token. It prints OK or the reason and exits non-zero on failure.",
		run: func(ctx context.Context) error {
			cfg, _, err := g.load(stderr, getenv)
			if err != nil {
				return err
			}
			return check(ctx, cfg, stdout)
		},
	}, {
		name:  "version",
		short: "Print the version",
		run: func(context.Context) error {
			_, err := fmt.Fprintf(stdout, "zhizhi-agent %s (%s, %s/%s)\n", agent.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}, {
		name:  "sample-config",
		short: "Print a commented sample configuration (it shows every default)",
		run: func(context.Context) error {
			_, err := stdout.Write(config.Sample)
			return err
		},
	}}
}

// addGlobalFlags registers the global flags on fs, storing into g.
func addGlobalFlags(fs *flag.FlagSet, g *globals) {
	fs.StringVar(&g.configPath, "config", config.DefaultPath, "configuration file")
	fs.StringVar(&g.logLevel, "log-level", "", "debug, info, warn or error (overrides log.level)")
}

// takeSet copies into g the global flags that were given on fs (parsed into from).
func (g *globals) takeSet(fs *flag.FlagSet, from *globals) {
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "config":
			g.configPath, g.configSet = from.configPath, true
		case "log-level":
			g.logLevel = from.logLevel
		}
	})
}

// newFlagSet returns a flag set that reports errors to the caller instead of printing them.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// execute parses args, runs the command they name and returns the exit status.
func (c *cli) execute(ctx context.Context, args []string) int {
	var before, after globals
	root := newFlagSet("zhizhi-agent")
	addGlobalFlags(root, &before)
	if err := root.Parse(args); err != nil {
		return c.flagError(nil, err)
	}
	rest := root.Args()
	if len(rest) == 0 {
		c.help(c.stdout, nil)
		return exitOK
	}
	name, rest := rest[0], rest[1:]
	if name == "help" {
		switch {
		case len(rest) == 0:
			c.help(c.stdout, nil)
		case len(rest) == 1 && c.find(rest[0]) != nil:
			c.help(c.stdout, c.find(rest[0]))
		default:
			return c.usageError(nil, fmt.Errorf("unknown help topic %q", strings.Join(rest, " ")))
		}
		return exitOK
	}
	cmd := c.find(name)
	if cmd == nil {
		return c.usageError(nil, fmt.Errorf("unknown command %q", name))
	}
	fs := c.flagSet(cmd, &after)
	if err := fs.Parse(rest); err != nil {
		return c.flagError(cmd, err)
	}
	if fs.NArg() > 0 {
		return c.usageError(cmd, fmt.Errorf("%s takes no arguments, got %q", cmd.name, fs.Arg(0)))
	}
	c.g = globals{configPath: config.DefaultPath}
	c.g.takeSet(root, &before)
	c.g.takeSet(fs, &after)
	if err := cmd.run(ctx); err != nil {
		fmt.Fprintln(c.stderr, "zhizhi-agent:", err)
		return exitFail
	}
	return exitOK
}

// flagSet returns cmd's flags followed by the global flags, which store into g.
func (c *cli) flagSet(cmd *command, g *globals) *flag.FlagSet {
	fs := newFlagSet(cmd.name)
	if cmd.flags != nil {
		cmd.flags(fs)
	}
	addGlobalFlags(fs, g)
	return fs
}

func (c *cli) find(name string) *command {
	for _, cmd := range c.cmds {
		if cmd.name == name {
			return cmd
		}
	}
	return nil
}

// flagError handles a parse error of cmd's flags (nil: the flags before the command): -h and --help print
// the help, anything else is a usage error.
func (c *cli) flagError(cmd *command, err error) int {
	if errors.Is(err, flag.ErrHelp) {
		c.help(c.stdout, cmd)
		return exitOK
	}
	return c.usageError(cmd, err)
}

// usageError prints err and the usage of cmd (nil: of the program) to stderr.
func (c *cli) usageError(cmd *command, err error) int {
	fmt.Fprintf(c.stderr, "zhizhi-agent: %v\n\n", err)
	c.usage(c.stderr, cmd)
	return exitUsage
}

// help prints cmd's description and usage (nil: the program's).
func (c *cli) help(w io.Writer, cmd *command) {
	desc := rootLong
	if cmd != nil {
		desc = cmd.long
		if desc == "" {
			desc = cmd.short
		}
	}
	fmt.Fprintf(w, "%s\n\n", desc)
	c.usage(w, cmd)
}

// usage prints how to call cmd (nil: the program) and its flags.
func (c *cli) usage(w io.Writer, cmd *command) {
	var g globals
	globalFS := newFlagSet("zhizhi-agent")
	addGlobalFlags(globalFS, &g)
	if cmd == nil {
		fmt.Fprintf(w, "Usage:\n  zhizhi-agent [flags] <command> [flags]\n\nAvailable Commands:\n")
		list := append([]*command{{name: "help", short: "Help about any command"}}, c.cmds...)
		sort.Slice(list, func(i, j int) bool { return list[i].name < list[j].name })
		for _, cmd := range list {
			fmt.Fprintf(w, "  %-14s %s\n", cmd.name, cmd.short)
		}
		fmt.Fprintf(w, "\nFlags:\n")
		printFlags(w, globalFS, "zhizhi-agent")
		fmt.Fprintf(w, "\nUse \"zhizhi-agent <command> --help\" for more information about a command.\n")
		return
	}
	fmt.Fprintf(w, "Usage:\n  zhizhi-agent %s [flags]\n", cmd.name)
	if cmd.example != "" {
		fmt.Fprintf(w, "\nExamples:\n%s\n", cmd.example)
	}
	own := newFlagSet(cmd.name)
	if cmd.flags != nil {
		cmd.flags(own)
	}
	fmt.Fprintf(w, "\nFlags:\n")
	printFlags(w, own, cmd.name)
	fmt.Fprintf(w, "\nGlobal Flags:\n")
	printFlags(w, globalFS, "")
}

// printFlags lists the flags of fs in the form "  --name type   usage (default x)"; helpFor, when set, adds
// -h, --help.
func printFlags(w io.Writer, fs *flag.FlagSet, helpFor string) {
	type line struct{ left, right string }
	var lines []line
	width := 0
	fs.VisitAll(func(f *flag.Flag) {
		typ, _ := flag.UnquoteUsage(&flag.Flag{Value: f.Value}) // the type only: usage may hold `quotes`
		l := line{left: "      --" + f.Name, right: f.Usage}
		if typ != "" {
			l.left += " " + typ
		}
		switch {
		case f.DefValue == "" || f.DefValue == "false" || f.DefValue == "0" || f.DefValue == "0s":
		case typ == "string":
			l.right += fmt.Sprintf(" (default %q)", f.DefValue)
		default:
			l.right += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		lines = append(lines, l)
	})
	if helpFor != "" {
		lines = append(lines, line{left: "  -h, --help", right: "help for " + helpFor})
	}
	for _, l := range lines {
		width = max(width, len(l.left))
	}
	for _, l := range lines {
		fmt.Fprintf(w, "%-*s   %s\n", width, l.left, l.right)
	}
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

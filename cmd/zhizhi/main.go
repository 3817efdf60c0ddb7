// Command zhizhi is the zhizhi server and its admin CLI: `zhizhi up` serves the API with an embedded store
// and a local agent; `zhizhi agents` enrolls, lists and revokes agents.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd(os.Stdout, os.Stderr).ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "zhizhi:", err)
		os.Exit(1)
	}
}

// cli holds what every command shares: output streams and the logger built from the global flags.
type cli struct {
	out, errOut io.Writer
	logLevel    string
	logFormat   string
	log         *slog.Logger
}

func newRootCmd(out, errOut io.Writer) *cobra.Command {
	c := &cli{out: out, errOut: errOut}
	root := &cobra.Command{
		Use:           "zhizhi",
		Short:         "zhizhi (智治): monitoring of a district's government servers — server and admin CLI",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			l, err := newLogger(c.errOut, c.logLevel, c.logFormat)
			if err != nil {
				return err
			}
			c.log = l
			return nil
		},
	}
	root.SetOut(out)
	root.SetErr(errOut)
	root.PersistentFlags().StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	root.PersistentFlags().StringVar(&c.logFormat, "log-format", "text", "log format: text or json")
	root.AddCommand(c.upCmd(), c.agentsCmd(), c.versionCmd())
	root.AddCommand(c.usersCmd())
	root.AddCommand(c.demoCmd())
	root.AddCommand(c.backupCmds()...)
	root.AddCommand(c.analyzeCmds()...)
	return root
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format: want text or json, got %q", format)
}

func (c *cli) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(c.out, versionString())
			return nil
		},
	}
}

func versionString() string {
	s := fmt.Sprintf("zhizhi %s (%s %s/%s", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, kv := range bi.Settings {
			if kv.Key == "vcs.revision" && len(kv.Value) >= 12 {
				s += ", commit " + kv.Value[:12]
			}
		}
	}
	return s + ")"
}

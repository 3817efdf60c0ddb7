package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"

	"zhizhi/agent/config"
	"zhizhi/agent/install"
	"zhizhi/agent/winsvc"
)

// serviceName is the systemd unit (without .service) and the Windows service name.
const serviceName = "zhizhi-agent"

// installCommands returns install and uninstall.
func installCommands(stdout io.Writer) []*command {
	var (
		opts   install.Options
		dryRun bool
	)
	inst := &command{
		name:  "install",
		short: "Install the agent as a service (systemd on Linux, a Windows service on Windows)",
		long: `Install writes ` + install.ConfigPath + ` and the token (mode 0600), installs the systemd unit,
creates the service user, then enables and starts the service. On Windows it registers a Windows service
that runs "zhizhi-agent run --config FILE". --dry-run prints every action without doing it; --root installs
the files into a directory instead of / (for images and tests) and skips the steps that change the running
system.`,
		example: `  zhizhi-agent install --server https://zhizhi.example:8443 --token-file ./agent.token
  zhizhi-agent install --server https://zhizhi.example:8443 --token-file ./agent.token --dry-run`,
		flags: func(f *flag.FlagSet) {
			f.StringVar(&opts.Server, "server", "", "base URL of the zhizhi server (required)")
			f.StringVar(&opts.TokenFile, "token-file", "", "file holding the agent token issued by `zhizhi agents add` (required)")
			f.DurationVar(&opts.Interval, "interval", install.DefaultInterval, "collection interval (at least 1s)")
			f.StringVar(&opts.MetricsListen, "metrics-listen", "", "address of the Prometheus /metrics endpoint, e.g. 127.0.0.1:9469 (empty: off)")
			f.StringVar(&opts.Root, "root", "", "install into this directory instead of / (files only)")
			f.StringVar(&opts.Executable, "executable", "", "agent binary to install (default: this program)")
			f.BoolVar(&dryRun, "dry-run", false, "print every action instead of doing it")
		},
		run: func(ctx context.Context) error {
			if runtime.GOOS == "windows" {
				exe, err := os.Executable()
				if err != nil {
					return err
				}
				args := []string{"run", "--config", config.DefaultPath}
				if dryRun {
					fmt.Fprintf(stdout, "register Windows service %s: %s %v\n", serviceName, exe, args)
					return nil
				}
				if err := winsvc.Install(serviceName, exe, args); err != nil {
					return fmt.Errorf("install windows service: %w", err)
				}
				fmt.Fprintf(stdout, "Windows service %s installed\n", serviceName)
				return nil
			}
			if opts.Executable == "" {
				exe, err := os.Executable()
				if err != nil {
					return err
				}
				opts.Executable = exe
			}
			acts, err := install.Plan(opts)
			if err != nil {
				return err
			}
			if dryRun {
				return install.Print(stdout, acts)
			}
			if err := install.Apply(ctx, acts, install.ExecRunner{}); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s installed; check it with: systemctl status %s\n", serviceName, serviceName)
			return nil
		},
	}

	var (
		uopts install.Options
		udry  bool
	)
	uninst := &command{
		name:  "uninstall",
		short: "Stop and remove the agent service",
		long: `Uninstall stops and disables the service and removes the unit and the binary. The configuration, the
token and the spool (samples not yet delivered) are kept unless --purge is given.`,
		flags: func(f *flag.FlagSet) {
			f.BoolVar(&uopts.Purge, "purge", false, "also delete the configuration, the token, the spool and the service user")
			f.StringVar(&uopts.Root, "root", "", "uninstall from this directory instead of /")
			f.BoolVar(&udry, "dry-run", false, "print every action instead of doing it")
		},
		run: func(ctx context.Context) error {
			if runtime.GOOS == "windows" {
				if udry {
					fmt.Fprintf(stdout, "remove Windows service %s\n", serviceName)
					return nil
				}
				if err := winsvc.Uninstall(serviceName); err != nil {
					return fmt.Errorf("uninstall windows service: %w", err)
				}
				return nil
			}
			acts, err := install.PlanUninstall(uopts)
			if err != nil {
				return err
			}
			if udry {
				return install.Print(stdout, acts)
			}
			return install.Apply(ctx, acts, install.ExecRunner{})
		},
	}
	return []*command{inst, uninst}
}

package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"

	"zhizhi/collector/forward"
	"zhizhi/collector/store"
)

// Environment variables that configure forwarding to a time-series engine; flags override them.
const (
	envForwardURL       = "ZHIZHI_FORWARD_URL"
	envForwardOrg       = "ZHIZHI_FORWARD_ORG"
	envForwardBucket    = "ZHIZHI_FORWARD_BUCKET"
	envForwardTokenFile = "ZHIZHI_FORWARD_TOKEN_FILE"
	envForwardMaxAge    = "ZHIZHI_FORWARD_MAX_AGE"
	envForwardMaxRows   = "ZHIZHI_FORWARD_MAX_ROWS"
)

// forwardFlags configure forwarding of every raw sample to an InfluxDB v2 write endpoint. No URL: off.
type forwardFlags struct {
	url, org, bucket, tokenFile string
	maxAge                      time.Duration
	maxRows                     int64
	envErr                      error // a malformed ZHIZHI_FORWARD_MAX_* value, reported when forwarding starts
}

// register adds the --forward-* flags, defaulting to the ZHIZHI_FORWARD_* environment.
func (f *forwardFlags) register(fs *pflag.FlagSet) {
	maxAge, maxRows := forward.DefaultMaxAge, int64(forward.DefaultMaxRows)
	if v := os.Getenv(envForwardMaxAge); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			f.envErr = fmt.Errorf("%s: %w", envForwardMaxAge, err)
		}
		maxAge = d
	}
	if v := os.Getenv(envForwardMaxRows); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			f.envErr = fmt.Errorf("%s: %w", envForwardMaxRows, err)
		}
		maxRows = n
	}
	fs.StringVar(&f.url, "forward-url", os.Getenv(envForwardURL),
		"forward every raw sample to this InfluxDB v2 write endpoint's root: InfluxDB 2/3 http://host:8086, "+
			"VictoriaMetrics http://host:8428, cluster http://vminsert:8480/insert/0/influx (env "+envForwardURL+"); empty: off")
	fs.StringVar(&f.org, "forward-org", os.Getenv(envForwardOrg), "InfluxDB organization (env "+envForwardOrg+")")
	fs.StringVar(&f.bucket, "forward-bucket", os.Getenv(envForwardBucket), "InfluxDB bucket (env "+envForwardBucket+")")
	fs.StringVar(&f.tokenFile, "forward-token-file", os.Getenv(envForwardTokenFile),
		"file holding the InfluxDB API token, mode 0600 (env "+envForwardTokenFile+"); empty: no token")
	fs.DurationVar(&f.maxAge, "forward-max-age", maxAge,
		"while the engine is unreachable keep samples queued this long, then drop and count them (env "+envForwardMaxAge+")")
	fs.Int64Var(&f.maxRows, "forward-max-rows", maxRows,
		"keep at most this many samples queued for the engine; the oldest beyond are dropped and counted (env "+envForwardMaxRows+")")
}

// options builds the forwarder's options, reading the token from its file. The file must not be readable by
// group or others; the token is never logged.
func (f forwardFlags) options(log *slog.Logger) (forward.Options, error) {
	if f.envErr != nil {
		return forward.Options{}, f.envErr
	}
	o := forward.Options{
		URL: strings.TrimSpace(f.url), Org: strings.TrimSpace(f.org), Bucket: strings.TrimSpace(f.bucket),
		MaxAge: f.maxAge, MaxRows: f.maxRows, Logger: log,
	}
	if f.maxAge == 0 || f.maxRows == 0 {
		return o, fmt.Errorf("--forward-max-age and --forward-max-rows must be positive (negative: no bound)")
	}
	if f.tokenFile != "" {
		fi, err := os.Stat(f.tokenFile)
		if err != nil {
			return o, fmt.Errorf("forward token file: %w", err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			return o, fmt.Errorf("forward token file %s: mode %04o, want 0600 (chmod 600 %s)", f.tokenFile, fi.Mode().Perm(), f.tokenFile)
		}
		b, err := os.ReadFile(f.tokenFile)
		if err != nil {
			return o, fmt.Errorf("forward token file: %w", err)
		}
		o.Token = strings.TrimSpace(string(b))
		if o.Token == "" {
			return o, fmt.Errorf("forward token file %s: empty", f.tokenFile)
		}
	}
	return o, nil
}

// forwarding is the running forwarder of `zhizhi up`; nil when forwarding is off (its methods accept nil).
type forwarding struct{ f *forward.Forwarder }

// forwarder returns the configured forwarder over st, or nil when no URL is set.
func (f forwardFlags) forwarder(st *store.Store, log *slog.Logger) (*forwarding, error) {
	if strings.TrimSpace(f.url) == "" {
		return nil, nil
	}
	o, err := f.options(log)
	if err != nil {
		return nil, err
	}
	fw, err := forward.New(st, o)
	if err != nil {
		return nil, err
	}
	return &forwarding{fw}, nil
}

// collectors are the forwarder's metrics for /metrics.
func (w *forwarding) collectors() []prometheus.Collector {
	if w == nil {
		return nil
	}
	return []prometheus.Collector{w.f.Collector()}
}

// run forwards until ctx is done.
func (w *forwarding) run(ctx context.Context) {
	if w == nil {
		return
	}
	defer w.f.Close()
	w.f.Run(ctx) //nolint:errcheck // Run returns nil; failures are retried and logged inside
}

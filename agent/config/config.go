// Package config loads and validates the agent's YAML configuration, environment overrides and token file.
package config

import (
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// DefaultPath is where the agent looks for its configuration when --config is not given.
const DefaultPath = "/etc/zhizhi/agent.yaml"

// Environment variables that override the file; each wins over the matching key.
const (
	EnvServer        = "ZHIZHI_AGENT_SERVER"         // server
	EnvTokenFile     = "ZHIZHI_AGENT_TOKEN_FILE"     // token_file
	EnvInterval      = "ZHIZHI_AGENT_INTERVAL"       // interval
	EnvSpoolDir      = "ZHIZHI_AGENT_SPOOL_DIR"      // spool.dir
	EnvMetricsListen = "ZHIZHI_AGENT_METRICS_LISTEN" // metrics.listen
	EnvLogLevel      = "ZHIZHI_AGENT_LOG_LEVEL"      // log.level
)

// Sample is the commented sample configuration printed by `zhizhi-agent sample-config`; it parses to Default().
//
//go:embed sample.yaml
var Sample []byte

// MinInterval is the shortest collection interval accepted.
const MinInterval = time.Second

// Config is the agent's whole configuration.
type Config struct {
	// Server is the zhizhi server's base URL, e.g. https://zhizhi.example:8443.
	Server string
	// TokenFile is the file holding the agent token (mode 0600).
	TokenFile string
	// Token, when non-empty, is used instead of reading TokenFile (in-process agents). Never loaded from YAML.
	Token string
	// Interval is the time between collection cycles.
	Interval time.Duration
	Spool    Spool
	Send     Send
	TLS      TLS
	Collect  Collect
	Metrics  Metrics
	Log      Log
}

// Spool configures the on-disk queue of samples not yet acknowledged by the server.
type Spool struct {
	Dir      string
	MaxBytes int64 // oldest samples are dropped beyond this
}

// Send configures delivery to the server.
type Send struct {
	BatchMaxSamples int           // samples per POST (at most 500)
	ReplayRate      float64       // samples per second when catching up after an outage
	Timeout         time.Duration // per HTTP request
}

// TLS configures the HTTPS client.
type TLS struct {
	CAFile             string // PEM bundle trusted in addition to nothing else; "" = system roots
	InsecureSkipVerify bool
}

// Collect configures collection.
type Collect struct {
	Filesystems Filesystems
	Network     Network
}

// Filesystems selects the filesystems reported.
type Filesystems struct {
	IncludeMounts, ExcludeMounts []string
	IncludeTypes, ExcludeTypes   []string
	StatfsTimeout                time.Duration
}

// Network selects the interfaces reported.
type Network struct {
	ExcludeInterfaces []string
}

// Metrics configures the optional Prometheus endpoint.
type Metrics struct {
	Listen string // "" = off, e.g. 127.0.0.1:9109
}

// Log configures logging.
type Log struct {
	Level  string // debug, info, warn, error
	Format string // text, json
}

// Default returns the configuration used for every key the file leaves out.
func Default() Config {
	return Config{
		TokenFile: "/etc/zhizhi/agent.token",
		Interval:  15 * time.Second,
		Spool:     Spool{Dir: "/var/lib/zhizhi-agent/spool", MaxBytes: 64 << 20},
		Send:      Send{BatchMaxSamples: 500, ReplayRate: 200, Timeout: 10 * time.Second},
		Collect: Collect{
			Filesystems: Filesystems{StatfsTimeout: 2 * time.Second},
		},
		Log: Log{Level: "info", Format: "text"},
	}
}

// raw mirrors the YAML document. Scalars stay text so that errors can name key and line.
type raw struct {
	Server    string
	TokenFile string
	Interval  string
	Spool     struct {
		Dir      string
		MaxBytes any // int64 or text such as "64MiB"
	}
	Send struct {
		BatchMaxSamples string
		ReplayRate      string
		Timeout         string
	}
	TLS struct {
		CAFile             string
		InsecureSkipVerify bool
	}
	Collect struct {
		Filesystems struct {
			IncludeMounts []string
			ExcludeMounts []string
			IncludeTypes  []string
			ExcludeTypes  []string
			StatfsTimeout string
		}
		Network struct {
			ExcludeInterfaces []string
		}
	}
	Metrics struct {
		Listen string
	}
	Log struct {
		Level  string
		Format string
	}
}

// Load reads the file at path (which must exist), applies environment overrides from getenv (nil = os.Getenv)
// and validates the result. Errors name the key and the line, e.g. `agent.yaml:4: interval: must be at least 1s`.
func Load(path string, getenv func(string) string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data, getenv)
}

// Parse is Load on bytes; name is used in error messages.
func Parse(name string, data []byte, getenv func(string) string) (Config, error) {
	return parse(name, data, getenv, true)
}

// LoadForCollect is Load for commands that only collect locally (`zhizhi-agent once`): server and token_file
// may be empty. A missing file yields the defaults when missingOK is set.
func LoadForCollect(path string, getenv func(string) string, missingOK bool) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if missingOK && errors.Is(err, fs.ErrNotExist) {
			return parse(path, nil, getenv, false)
		}
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	return parse(path, data, getenv, false)
}

func parse(name string, data []byte, getenv func(string) string, complete bool) (Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	r := fromDefaults(Default())
	v := &validator{name: name, keys: map[string]int{}, env: map[string]string{}, partial: !complete}
	if err := decodeYAML(data, &r, v); err != nil {
		return Config{}, err
	}
	env := func(key, envName string, dst *string) {
		if s := getenv(envName); s != "" {
			*dst = s
			v.env[key] = envName
		}
	}
	env("server", EnvServer, &r.Server)
	env("token_file", EnvTokenFile, &r.TokenFile)
	env("interval", EnvInterval, &r.Interval)
	env("spool.dir", EnvSpoolDir, &r.Spool.Dir)
	env("metrics.listen", EnvMetricsListen, &r.Metrics.Listen)
	env("log.level", EnvLogLevel, &r.Log.Level)

	c := Config{
		Server:    strings.TrimRight(strings.TrimSpace(r.Server), "/"),
		TokenFile: r.TokenFile,
		Interval:  v.duration("interval", r.Interval, MinInterval, time.Hour),
		Spool: Spool{
			Dir:      r.Spool.Dir,
			MaxBytes: v.size("spool.max_bytes", r.Spool.MaxBytes, 1<<20),
		},
		Send: Send{
			BatchMaxSamples: v.intRange("send.batch_max_samples", r.Send.BatchMaxSamples, 1, 500),
			ReplayRate:      v.positiveFloat("send.replay_rate", r.Send.ReplayRate),
			Timeout:         v.duration("send.timeout", r.Send.Timeout, 100*time.Millisecond, 10*time.Minute),
		},
		TLS: TLS{CAFile: r.TLS.CAFile, InsecureSkipVerify: r.TLS.InsecureSkipVerify},
		Collect: Collect{
			Filesystems: Filesystems{
				IncludeMounts: nonEmpty(r.Collect.Filesystems.IncludeMounts),
				ExcludeMounts: nonEmpty(r.Collect.Filesystems.ExcludeMounts),
				IncludeTypes:  nonEmpty(r.Collect.Filesystems.IncludeTypes),
				ExcludeTypes:  nonEmpty(r.Collect.Filesystems.ExcludeTypes),
				StatfsTimeout: v.duration("collect.filesystems.statfs_timeout",
					r.Collect.Filesystems.StatfsTimeout, 10*time.Millisecond, time.Minute),
			},
			Network: Network{ExcludeInterfaces: nonEmpty(r.Collect.Network.ExcludeInterfaces)},
		},
		Metrics: Metrics{Listen: r.Metrics.Listen},
		Log:     Log{Level: strings.ToLower(r.Log.Level), Format: strings.ToLower(r.Log.Format)},
	}
	v.check(c)
	if err := errors.Join(v.errs...); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Validate checks a Config built in code (e.g. by the server for its in-process agent).
func (c Config) Validate() error {
	v := &validator{name: "config", env: map[string]string{}}
	if c.Interval < MinInterval {
		v.fail("interval", "must be at least %s, got %q", MinInterval, c.Interval.String())
	}
	if c.Send.BatchMaxSamples < 1 || c.Send.BatchMaxSamples > 500 {
		v.fail("send.batch_max_samples", "must be between 1 and 500, got %d", c.Send.BatchMaxSamples)
	}
	if c.Send.ReplayRate <= 0 {
		v.fail("send.replay_rate", "must be positive, got %g", c.Send.ReplayRate)
	}
	if c.Send.Timeout <= 0 {
		v.fail("send.timeout", "must be positive, got %q", c.Send.Timeout.String())
	}
	if c.Spool.MaxBytes <= 0 {
		v.fail("spool.max_bytes", "must be positive, got %d", c.Spool.MaxBytes)
	}
	v.check(c)
	return errors.Join(v.errs...)
}

// nonEmpty returns nil for an empty list so that `key: []` equals an absent key.
func nonEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func fromDefaults(d Config) raw {
	var r raw
	r.Server = d.Server
	r.TokenFile = d.TokenFile
	r.Interval = d.Interval.String()
	r.Spool.Dir = d.Spool.Dir
	r.Spool.MaxBytes = d.Spool.MaxBytes
	r.Send.BatchMaxSamples = strconv.Itoa(d.Send.BatchMaxSamples)
	r.Send.ReplayRate = strconv.FormatFloat(d.Send.ReplayRate, 'g', -1, 64)
	r.Send.Timeout = d.Send.Timeout.String()
	r.Collect.Filesystems.StatfsTimeout = d.Collect.Filesystems.StatfsTimeout.String()
	r.Log.Level = d.Log.Level
	r.Log.Format = d.Log.Format
	return r
}

// validator accumulates semantic errors, each located at the key's line or environment variable.
type validator struct {
	name string
	keys map[string]int    // key -> line in the file
	env  map[string]string // key -> environment variable that set it
	errs []error
	// partial skips the checks of what only delivery needs (server, token_file).
	partial bool
}

func (v *validator) fail(key, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	switch {
	case v.env[key] != "":
		v.errs = append(v.errs, fmt.Errorf("%s: %s: %s", v.env[key], key, msg))
	case v.keys[key] > 0:
		v.errs = append(v.errs, fmt.Errorf("%s:%d: %s: %s", v.name, v.keys[key], key, msg))
	default:
		v.errs = append(v.errs, fmt.Errorf("%s: %s: %s", v.name, key, msg))
	}
}

func (v *validator) check(c Config) {
	switch u, err := url.Parse(c.Server); {
	case c.Server == "" && v.partial:
	case c.Server == "":
		v.fail("server", "is required (the zhizhi server URL, e.g. https://zhizhi.example:8443)")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		v.fail("server", "must be an http:// or https:// URL with a host, got %q", c.Server)
	case u.RawQuery != "" || u.Fragment != "":
		v.fail("server", "must not have a query or fragment, got %q", c.Server)
	}
	if c.Token == "" && c.TokenFile == "" && !v.partial {
		v.fail("token_file", "is required")
	}
	if c.Spool.Dir == "" {
		v.fail("spool.dir", "is required")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		v.fail("log.level", "must be debug, info, warn or error, got %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		v.fail("log.format", "must be text or json, got %q", c.Log.Format)
	}
}

func (v *validator) duration(key, s string, lo, hi time.Duration) time.Duration {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		v.fail(key, "must be a duration such as 15s or 1m, got %q", s)
		return 0
	}
	switch {
	case d < lo:
		v.fail(key, "must be at least %s, got %q", lo, s)
	case d > hi:
		v.fail(key, "must be at most %s, got %q", hi, s)
	}
	return d
}

func (v *validator) intRange(key, s string, lo, hi int) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		v.fail(key, "must be an integer, got %q", s)
		return 0
	}
	if n < lo || n > hi {
		v.fail(key, "must be between %d and %d, got %d", lo, hi, n)
	}
	return n
}

func (v *validator) positiveFloat(key, s string) float64 {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || f <= 0 || f != f {
		v.fail(key, "must be a positive number, got %q", s)
		return 0
	}
	return f
}

func (v *validator) size(key string, val any, lo int64) int64 {
	n, err := ParseSize(val)
	if err != nil {
		v.fail(key, "%v", err)
		return 0
	}
	if n < lo {
		v.fail(key, "must be at least %s, got %d bytes", FormatSize(lo), n)
	}
	return n
}

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1},
}

// ParseSize accepts a byte count as an integer or text such as "64MiB", "512KiB", "1GB" or "1048576".
func ParseSize(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		if x < 0 {
			return 0, fmt.Errorf("must not be negative, got %d", x)
		}
		return x, nil
	case int:
		return ParseSize(int64(x))
	case uint64:
		if x > 1<<62 {
			return 0, fmt.Errorf("too large: %d", x)
		}
		return int64(x), nil
	case string:
		s := strings.TrimSpace(x)
		mult := int64(1)
		for _, u := range sizeUnits {
			if strings.HasSuffix(s, u.suffix) {
				s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
				break
			}
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, fmt.Errorf("must be a size such as 64MiB or a byte count, got %q", x)
		}
		if f < 0 {
			return 0, fmt.Errorf("must not be negative, got %q", x)
		}
		if f*float64(mult) > 1<<62 {
			return 0, fmt.Errorf("too large: %q", x)
		}
		return int64(f * float64(mult)), nil
	case nil:
		return 0, errors.New("must be a size such as 64MiB, got nothing")
	default:
		return 0, fmt.Errorf("must be a size such as 64MiB or a byte count, got %v", v)
	}
}

// FormatSize renders n in the largest binary unit that divides it, e.g. 67108864 -> "64MiB".
func FormatSize(n int64) string {
	for _, u := range []struct {
		s string
		m int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.m && n%u.m == 0 {
			return strconv.FormatInt(n/u.m, 10) + u.s
		}
	}
	return strconv.FormatInt(n, 10)
}

// ReadToken reads and trims the token file, refusing files that group or others may read or write.
// Errors name the file and never include its content.
func ReadToken(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("token file %s: not a regular file", path)
	}
	// Windows reports 0666 for every writable file (access is governed by ACLs), so the check is Unix-only.
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return "", fmt.Errorf("token file %s has mode %04o: group/others must have no access; run `chmod 600 %s`",
			path, uint32(perm), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("token file %s is empty", path)
	}
	return tok, nil
}

// ResolveToken returns c.Token when set, otherwise the content of c.TokenFile.
func (c Config) ResolveToken() (string, error) {
	if c.Token != "" {
		return c.Token, nil
	}
	if c.TokenFile == "" {
		return "", errors.New("no token: set token_file")
	}
	return ReadToken(c.TokenFile)
}

// IsNotExist reports whether err is a missing-file error (for callers choosing a friendlier message).
func IsNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// String renders the configuration with the token redacted.
func (c Config) String() string {
	type plain Config
	if c.Token != "" {
		c.Token = "<redacted>"
	}
	return fmt.Sprintf("%+v", plain(c))
}

// LogValue keeps the token out of logs if a Config is ever logged whole.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

package config

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func noEnv(string) string { return "" }

func TestSampleEqualsDefaults(t *testing.T) {
	c, err := Parse("sample.yaml", Sample, noEnv)
	if err != nil {
		t.Fatalf("sample does not parse: %v", err)
	}
	want := Default()
	want.Server = "https://zhizhi.example:8443"
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("sample differs from Default():\n got %+v\nwant %+v", c, want)
	}
}

func TestMinimalFile(t *testing.T) {
	c, err := Parse("agent.yaml", []byte("server: http://10.0.0.1:8080/\n"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Server != "http://10.0.0.1:8080" || c.Interval != 15*time.Second || c.Spool.MaxBytes != 64<<20 {
		t.Fatalf("got %+v", c)
	}
}

func TestValues(t *testing.T) {
	in := `server: https://z.example
interval: 1s
spool:
  dir: /tmp/s
  max_bytes: 2097152
send:
  batch_max_samples: 100
  replay_rate: 12.5
  timeout: 3s
collect:
  filesystems:
    exclude_mounts: [/boot]
    statfs_timeout: 500ms
  network:
    exclude_interfaces:
      - docker0
log:
  level: DEBUG
  format: json
`
	c, err := Parse("agent.yaml", []byte(in), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Interval != time.Second || c.Spool.MaxBytes != 2<<20 || c.Send.BatchMaxSamples != 100 ||
		c.Send.ReplayRate != 12.5 || c.Send.Timeout != 3*time.Second || c.Log.Level != "debug" ||
		c.Log.Format != "json" || c.Collect.Filesystems.StatfsTimeout != 500*time.Millisecond ||
		!reflect.DeepEqual(c.Collect.Filesystems.ExcludeMounts, []string{"/boot"}) ||
		!reflect.DeepEqual(c.Collect.Network.ExcludeInterfaces, []string{"docker0"}) {
		t.Fatalf("got %+v", c)
	}
}

func TestBadInputs(t *testing.T) {
	f := func(in, wantPrefix, wantKey string) {
		t.Helper()
		_, err := Parse("agent.yaml", []byte(in), noEnv)
		if err == nil {
			t.Fatalf("%q: no error", in)
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, wantPrefix) || !strings.Contains(msg, wantKey) {
			t.Fatalf("%q:\n got %q\nwant prefix %q and key %q", in, msg, wantPrefix, wantKey)
		}
		if strings.Contains(msg, "raw.") || strings.Contains(msg, "Go struct") {
			t.Fatalf("message leaks Go names: %q", msg)
		}
	}
	const s = "server: http://z:1\n"
	f(s+"\n\ninterval: 500ms\n", `agent.yaml:4: interval: must be at least 1s, got "500ms"`, "interval")
	f(s+"interval: 15\n", "agent.yaml:2: interval: must be a duration", "interval")
	f(s+"interval: soon\n", "agent.yaml:2: interval:", "interval")
	f(s+"intervall: 15s\n", "agent.yaml:2: intervall: unknown key", "intervall")
	f(s+"spool:\n  dir: /x\n  max_bytes: -5\n", "agent.yaml:4: spool.max_bytes: must not be negative", "spool.max_bytes")
	f(s+"spool:\n  max_bytes: 64 potatoes\n", "agent.yaml:3: spool.max_bytes: must be a size", "spool.max_bytes")
	f(s+"spool:\n  max_bytes: 1KiB\n", "agent.yaml:3: spool.max_bytes: must be at least 1MiB", "spool.max_bytes")
	f(s+"spool:\n  size: 1\n", "agent.yaml:3: spool.size: unknown key", "spool.size")
	f("server: ftp://z\n", "agent.yaml:1: server: must be an http:// or https:// URL", "server")
	f("server: \"http://\"\n", "agent.yaml:1: server:", "server")
	f("interval: 5s\n", "agent.yaml: server: is required", "server")
	f(s+"send:\n  batch_max_samples: 501\n", "agent.yaml:3: send.batch_max_samples: must be between 1 and 500", "send.batch_max_samples")
	f(s+"send:\n  batch_max_samples: many\n", "agent.yaml:3: send.batch_max_samples: must be an integer", "send.batch_max_samples")
	f(s+"send:\n  replay_rate: 0\n", "agent.yaml:3: send.replay_rate: must be a positive number", "send.replay_rate")
	f(s+"send:\n  timeout: 0s\n", "agent.yaml:3: send.timeout: must be at least", "send.timeout")
	f(s+"tls:\n  insecure_skip_verify: maybe\n", `agent.yaml:3: tls.insecure_skip_verify: must be true or false, got "maybe"`, "tls.insecure_skip_verify")
	f(s+"collect:\n  filesystems:\n    exclude_mounts: /boot\n", "agent.yaml:4: collect.filesystems.exclude_mounts:", "exclude_mounts")
	f(s+"collect:\n  filesystems:\n    statfs_timeout: 1h\n", "agent.yaml:4: collect.filesystems.statfs_timeout: must be at most", "statfs_timeout")
	f(s+"collect:\n  network:\n    include_interfaces: [eth0]\n", "agent.yaml:4: collect.network.include_interfaces: unknown key", "include_interfaces")
	f(s+"log:\n  level: loud\n", "agent.yaml:3: log.level: must be debug, info, warn or error", "log.level")
	f(s+"log:\n  format: xml\n", "agent.yaml:3: log.format: must be text or json", "log.format")
	f(s+"server: [\n", "agent.yaml:2:", "")
}

func TestYAMLStructure(t *testing.T) {
	f := func(in string, want ...string) {
		t.Helper()
		_, err := Parse("agent.yaml", []byte(in), noEnv)
		if err == nil {
			t.Fatalf("%q: no error", in)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Fatalf("%q:\n got %q\nwant %q", in, err, w)
			}
		}
	}
	const s = "server: http://z:1\n"
	f(s+"interval: 5s\ninterval: 6s\n", "agent.yaml:3: interval: duplicate key (first at line 2)")
	f(s+"spool:\n  dir: /a\n  dir: /b\n", "agent.yaml:4: spool.dir: duplicate key (first at line 3)")
	f(s+"---\ninterval: 5s\n", "agent.yaml:2: only one YAML document is allowed")
	f("- server\n", `agent.yaml:1: the file must hold keys such as "server: https://...", got a list`)
	f(s+"spool: /var/spool\n", `agent.yaml:2: spool: must hold keys (indented on the lines below), got "/var/spool"`)
	f(s+"log:\n  level: [debug]\n", "agent.yaml:3: log.level: must be a single value, got a list")
	f(s+"collect:\n  network:\n    exclude_interfaces:\n      - eth0\n      - [x]\n",
		"agent.yaml:6: collect.network.exclude_interfaces: list items must be single values, got a list")
	f(s+"spool:\n  max_bytes: {a: 1}\n", "agent.yaml:3: spool.max_bytes: must be a size such as 64MiB or a byte count, got keys")
	f(s+"spool:\n  max_bytes:\n", "agent.yaml:3: spool.max_bytes: must be a size such as 64MiB, got nothing")
	f(s+"interval:\n", `agent.yaml:2: interval: must be a duration such as 15s or 1m, got ""`)
	f(s+"spool:\n  dir: ~\n", "agent.yaml:3: spool.dir: is required")
	f("server: a: b\n", "agent.yaml:1: mapping values are not allowed")
	f(s+"log:\n  level: \"info\x01\"\n", "agent.yaml:3: control character U+0001 is not allowed")
	f(s+"\n# caf\xe9\n", "agent.yaml:3: the file is not UTF-8 text")
	f(s+"? [a, b]\n: 1\n", "agent.yaml:2: key: keys must be plain names, got a list")
	// Structural and semantic errors are reported together, each with its line.
	f(s+"intervall: 5s\nlog:\n  level: loud\n", "agent.yaml:2: intervall: unknown key", "agent.yaml:4: log.level: must be")
	// A file that is not YAML yields its syntax error alone, not a list of keys it seems to lack.
	if _, err := Parse("agent.yaml", []byte("interval: [\n"), noEnv); err == nil || strings.Contains(err.Error(), "server") {
		t.Fatalf("syntax error: %v", err)
	}
}

func TestYAMLForms(t *testing.T) {
	f := func(in string, check func(Config) bool) {
		t.Helper()
		c, err := Parse("agent.yaml", []byte("server: http://z:1\n"+in), noEnv)
		if err != nil || !check(c) {
			t.Fatalf("%q: %+v %v", in, c, err)
		}
	}
	f("spool:\n  max_bytes: 0x200000\n", func(c Config) bool { return c.Spool.MaxBytes == 2<<20 })
	f("spool:\n  max_bytes: \"1 GiB\"\n", func(c Config) bool { return c.Spool.MaxBytes == 1<<30 })
	f("spool:\n  max_bytes: 1.5e6\n", func(c Config) bool { return c.Spool.MaxBytes == 1_500_000 })
	f("interval: \"20s\"\n", func(c Config) bool { return c.Interval == 20*time.Second })
	f("tls:\n  insecure_skip_verify: true\n", func(c Config) bool { return c.TLS.InsecureSkipVerify })
	f("metrics:\n", func(c Config) bool { return c.Metrics.Listen == "" && c.Spool.MaxBytes == 64<<20 })
	f("collect:\n  filesystems:\n    include_mounts: &m [/a, /b]\n    exclude_mounts: *m\n", func(c Config) bool {
		return reflect.DeepEqual(c.Collect.Filesystems.ExcludeMounts, []string{"/a", "/b"})
	})
	f("collect:\n  network:\n    exclude_interfaces: []\n", func(c Config) bool { return c.Collect.Network.ExcludeInterfaces == nil })
	f("---\n# only comments after the document marker\n", func(c Config) bool { return c.Interval == 15*time.Second })
	f("log: {level: warn, format: json}\n", func(c Config) bool { return c.Log.Level == "warn" && c.Log.Format == "json" })
	for _, in := range []string{"", "# nothing but comments\n", "\xef\xbb\xbf\n"} {
		c, err := LoadForCollect(writeTemp(t, in), noEnv, false)
		if err != nil || !reflect.DeepEqual(c, Default()) {
			t.Fatalf("%q: %+v %v", in, c, err)
		}
	}
}

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMultipleErrorsAllReported(t *testing.T) {
	_, err := Parse("a.yaml", []byte("server: http://z\ninterval: 1ms\nlog:\n  level: x\n"), noEnv)
	if err == nil || !strings.Contains(err.Error(), "a.yaml:2: interval") || !strings.Contains(err.Error(), "a.yaml:4: log.level") {
		t.Fatalf("got %v", err)
	}
}

func TestEnvOverrides(t *testing.T) {
	env := map[string]string{
		EnvServer:        "https://env.example",
		EnvTokenFile:     "/run/tok",
		EnvInterval:      "30s",
		EnvSpoolDir:      "/tmp/sp",
		EnvMetricsListen: "127.0.0.1:9109",
		EnvLogLevel:      "warn",
	}
	c, err := Parse("agent.yaml", []byte("server: http://file\ninterval: 5s\n"), func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.Server != "https://env.example" || c.TokenFile != "/run/tok" || c.Interval != 30*time.Second ||
		c.Spool.Dir != "/tmp/sp" || c.Metrics.Listen != "127.0.0.1:9109" || c.Log.Level != "warn" {
		t.Fatalf("got %+v", c)
	}
	env = map[string]string{EnvInterval: "100ms"}
	_, err = Parse("agent.yaml", []byte("server: http://file\ninterval: 5s\n"), func(k string) string { return env[k] })
	if err == nil || !strings.HasPrefix(err.Error(), "ZHIZHI_AGENT_INTERVAL: interval: must be at least 1s") {
		t.Fatalf("got %v", err)
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(p, []byte("server: http://z\nbogus: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(p, noEnv)
	if err == nil || !strings.HasPrefix(err.Error(), p+":2: bogus: unknown key") {
		t.Fatalf("got %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml"), noEnv); !IsNotExist(err) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestReadToken(t *testing.T) {
	dir := t.TempDir()
	const secret = "zz_a1_s3cretvalue"
	write := func(name string, mode os.FileMode, content string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ok := write("ok", 0o600, "  "+secret+"\n")
	if tok, err := ReadToken(ok); err != nil || tok != secret {
		t.Fatalf("got %q, %v", tok, err)
	}
	if tok, err := ReadToken(write("ro", 0o400, secret)); err != nil || tok != secret {
		t.Fatalf("0400: got %q, %v", tok, err)
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o620, 0o602, 0o666} {
		p := write("bad", mode, secret)
		_, err := ReadToken(p)
		if err == nil {
			t.Fatalf("mode %o accepted", mode)
		}
		msg := err.Error()
		if !strings.Contains(msg, p) || !strings.Contains(msg, "chmod 600") || strings.Contains(msg, secret) ||
			!strings.Contains(msg, "mode 0"+formatMode(mode)) {
			t.Fatalf("mode %o: %q", mode, msg)
		}
	}
	if _, err := ReadToken(write("empty", 0o600, " \n")); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("empty: %v", err)
	}
	c := Default()
	c.Token = "inline"
	c.TokenFile = ok
	if tok, err := c.ResolveToken(); err != nil || tok != "inline" {
		t.Fatalf("inline token: %q %v", tok, err)
	}
}

func formatMode(m os.FileMode) string {
	const digits = "01234567"
	p := uint32(m.Perm())
	return string([]byte{digits[p>>6&7], digits[p>>3&7], digits[p&7]})
}

func TestParseSize(t *testing.T) {
	f := func(in any, want int64, wantErr bool) {
		t.Helper()
		got, err := ParseSize(in)
		if (err != nil) != wantErr || got != want {
			t.Fatalf("ParseSize(%v) = %d, %v", in, got, err)
		}
	}
	f("64MiB", 64<<20, false)
	f("1 GiB", 1<<30, false)
	f("1.5KiB", 1536, false)
	f("2MB", 2e6, false)
	f("512K", 512<<10, false)
	f(uint64(4096), 4096, false)
	f("4096", 4096, false)
	f(int64(-1), 0, true)
	f("-1MiB", 0, true)
	f("lots", 0, true)
	if FormatSize(64<<20) != "64MiB" || FormatSize(1000) != "1000" {
		t.Fatal(FormatSize(64<<20), FormatSize(1000))
	}
}

func TestValidateInCode(t *testing.T) {
	c := Default()
	c.Server = "http://127.0.0.1:8080"
	c.Token = "zz_x_y"
	c.TokenFile = ""
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	c.Interval = time.Millisecond
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "interval") {
		t.Fatalf("got %v", err)
	}
}

func TestConfigNeverPrintsToken(t *testing.T) {
	c := Default()
	c.Token = "zz_a_verysecretvalue"
	var b strings.Builder
	slog.New(slog.NewJSONHandler(&b, nil)).Info("cfg", "config", c)
	out := b.String() + fmt.Sprint(c) + fmt.Sprintf("%v %+v %s", c, c, c)
	if strings.Contains(out, "verysecret") || !strings.Contains(out, "<redacted>") {
		t.Fatalf("got %s", out)
	}
}

func TestLoadForCollect(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "none.yaml")
	c, err := LoadForCollect(missing, noEnv, true)
	if err != nil || !reflect.DeepEqual(c, Default()) {
		t.Fatalf("missing, ok: %+v %v", c, err)
	}
	if _, err := LoadForCollect(missing, noEnv, false); !IsNotExist(err) {
		t.Fatalf("missing, required: %v", err)
	}
	p := filepath.Join(dir, "a.yaml")
	if err := os.WriteFile(p, []byte("collect:\n  filesystems:\n    exclude_types: [tmpfs]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err = LoadForCollect(p, noEnv, false)
	if err != nil || !reflect.DeepEqual(c.Collect.Filesystems.ExcludeTypes, []string{"tmpfs"}) {
		t.Fatalf("no server: %+v %v", c, err)
	}
	if err := os.WriteFile(p, []byte("interval: 1ms\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadForCollect(p, noEnv, false); err == nil || !strings.Contains(err.Error(), p+":1: interval") {
		t.Fatalf("bad value: %v", err)
	}
}

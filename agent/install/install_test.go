package install

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"zhizhi/deploy/systemd"
)

var update = flag.Bool("update", false, "rewrite golden files")

// noPackages hides any packaged unit on this machine (the packaging tests install the .deb) from Plan.
func noPackages(t *testing.T) {
	t.Helper()
	saved := packagedUnits
	packagedUnits = nil
	t.Cleanup(func() { packagedUnits = saved })
}

func TestDryRunGolden(t *testing.T) {
	noPackages(t)
	opts := Options{Server: "https://zhizhi.example.gov.cn:8443", TokenFile: "testdata/agent.token",
		Interval: 30 * time.Second, MetricsListen: "127.0.0.1:9469", Executable: "/root/zhizhi-agent"}
	var out bytes.Buffer
	out.WriteString("# install\n")
	acts, err := Plan(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := Print(&out, acts); err != nil {
		t.Fatal(err)
	}
	for _, purge := range []bool{false, true} {
		opts.Purge = purge
		acts, err := PlanUninstall(opts)
		if err != nil {
			t.Fatal(err)
		}
		out.WriteString("# uninstall, purge=" + strconv.FormatBool(purge) + "\n")
		if err := Print(&out, acts); err != nil {
			t.Fatal(err)
		}
	}
	golden := filepath.Join("testdata", "dry-run.golden")
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("dry-run output differs from %s (go test -update to accept):\n%s", golden, out.String())
	}
	if bytes.Contains(out.Bytes(), []byte("test-token-not-a-secret")) {
		t.Error("dry-run output shows the token")
	}
}

// noCommands is a Runner that fails the test: an install under a root must not touch the running system.
type noCommands struct{ t *testing.T }

func (r noCommands) Run(_ context.Context, args ...string) error {
	r.t.Errorf("command run under a root: %q", args)
	return errors.New("not allowed")
}

func TestInstallIntoRoot(t *testing.T) {
	root := t.TempDir()
	src := t.TempDir()
	exe := filepath.Join(src, "zhizhi-agent")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\necho agent\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	token := filepath.Join(src, "token")
	if err := os.WriteFile(token, []byte("s3cret-token\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := Options{Server: "http://10.1.2.3:8080", TokenFile: token, Executable: exe, Root: root}
	ctx := context.Background()
	install := func() {
		t.Helper()
		acts, err := Plan(opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := Apply(ctx, acts, noCommands{t}); err != nil {
			t.Fatal(err)
		}
	}
	install()
	install() // a second install over the first one succeeds and changes nothing

	checkFile := func(path string, mode fs.FileMode, want []byte) {
		t.Helper()
		fi, err := os.Stat(filepath.Join(root, path))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != mode {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode(), mode)
		}
		if want != nil {
			got, err := os.ReadFile(filepath.Join(root, path))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s: content\n%s\nwant\n%s", path, got, want)
			}
		}
	}
	checkFile(BinaryPath, 0o755, []byte("#!/bin/sh\necho agent\n"))
	checkFile(ConfigPath, 0o640, RenderConfig(opts))
	checkFile(TokenPath, 0o600, []byte("s3cret-token\n"))
	checkFile(UnitPath, 0o644, systemd.AgentUnit)
	checkFile(SpoolDir, fs.ModeDir|0o750, nil)
	checkFile(ConfigDir, fs.ModeDir|0o755, nil)
	if got := files(t, root); !slices.Equal(got, []string{UnitPath, TokenPath, ConfigPath, BinaryPath}) {
		t.Errorf("files after install: %q", got)
	}

	// Uninstall keeps configuration, token and spool; a purge removes everything.
	opts.Purge = false
	acts, err := PlanUninstall(opts)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, SpoolDir, "segment-1"), []byte("unsent"), 0o600)
	if err := Apply(ctx, acts, noCommands{t}); err != nil {
		t.Fatal(err)
	}
	if got := files(t, root); !slices.Equal(got, []string{TokenPath, ConfigPath, SpoolDir + "/segment-1"}) {
		t.Errorf("files after uninstall: %q", got)
	}
	opts.Purge = true
	if acts, err = PlanUninstall(opts); err != nil {
		t.Fatal(err)
	}
	if err := Apply(ctx, acts, noCommands{t}); err != nil {
		t.Fatal(err)
	}
	if got := files(t, root); len(got) != 0 {
		t.Errorf("files after purge: %q", got)
	}
	for _, dir := range []string{ConfigDir, SpoolDir} {
		if _, err := os.Stat(filepath.Join(root, dir)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s still there after purge (%v)", dir, err)
		}
	}
}

// files lists every non-directory under root, as absolute paths inside root.
func files(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			out = append(out, strings.TrimPrefix(path, root))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func TestConfigIsYAML(t *testing.T) {
	opts := Options{Server: `https://host/zhizhi?a="b"&c='d'#x`, Interval: 90 * time.Second, MetricsListen: ":9469"}
	var got struct {
		Server    string `yaml:"server"`
		TokenFile string `yaml:"token_file"`
		Interval  string `yaml:"interval"`
		Spool     struct {
			Dir string `yaml:"dir"`
		} `yaml:"spool"`
		Metrics struct {
			Listen string `yaml:"listen"`
		} `yaml:"metrics"`
	}
	if err := yaml.UnmarshalWithOptions(RenderConfig(opts), &got, yaml.Strict()); err != nil {
		t.Fatalf("%v\n%s", err, RenderConfig(opts))
	}
	if got.Server != opts.Server || got.TokenFile != TokenPath || got.Interval != "1m30s" || got.Spool.Dir != SpoolDir ||
		got.Metrics.Listen != ":9469" {
		t.Errorf("round trip: %+v", got)
	}
	if bytes.Contains(RenderConfig(Options{Server: "http://h"}), []byte("metrics:")) {
		t.Error("metrics section written without MetricsListen")
	}
}

func TestPlanRejects(t *testing.T) {
	noPackages(t)
	token := filepath.Join("testdata", "agent.token")
	empty := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(empty, nil, 0o600)
	packaged := t.TempDir()
	os.MkdirAll(filepath.Join(packaged, "usr/lib/systemd/system"), 0o755)
	os.WriteFile(filepath.Join(packaged, "usr/lib/systemd/system", systemd.AgentUnitName), nil, 0o644)
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"no server", Options{TokenFile: token}, "server: required"},
		{"not a url", Options{Server: "zhizhi:8080", TokenFile: token}, "server:"},
		{"ftp", Options{Server: "ftp://h", TokenFile: token}, "not an http"},
		{"no token", Options{Server: "http://h"}, "token file: required"},
		{"missing token", Options{Server: "http://h", TokenFile: "testdata/nope"}, "no such file"},
		{"empty token", Options{Server: "http://h", TokenFile: empty}, "non-empty"},
		{"fast", Options{Server: "http://h", TokenFile: token, Interval: time.Millisecond}, "interval:"},
		{"relative root", Options{Server: "http://h", TokenFile: token, Root: "r"}, "root:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Plan(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
	// A package-managed agent is refused by both install and uninstall.
	packagedUnits = []string{"/usr/lib/systemd/system/" + systemd.AgentUnitName}
	if _, err := Plan(Options{Server: "http://h", TokenFile: token, Root: packaged}); err == nil || !strings.Contains(err.Error(), "package") {
		t.Errorf("install over a package: err = %v", err)
	}
	if _, err := PlanUninstall(Options{Root: packaged}); err == nil {
		t.Error("uninstall of a package: no error")
	}
}

// recorder is a Runner that records commands and fails those listed in fail.
type recorder struct {
	ran  [][]string
	fail string
}

func (r *recorder) Run(_ context.Context, args ...string) error {
	r.ran = append(r.ran, args)
	if args[0] == r.fail {
		return errors.New("exit status 1")
	}
	return nil
}

func TestApplyCommands(t *testing.T) {
	const ghost = "zhizhi-no-such-user"
	acts := []Action{
		{Kind: EnsureUser, User: "root", Args: []string{"useradd", "root"}},      // exists: skipped
		{Kind: EnsureUser, User: ghost, Args: []string{"useradd", ghost}},        // missing: created
		{Kind: DeleteUser, User: ghost, Args: []string{"userdel", ghost}},        // missing: skipped
		{Kind: Run, Args: []string{"systemctl", "stop", "x"}, IgnoreError: true}, // fails, ignored
		{Kind: Run, Args: []string{"true"}},
	}
	r := &recorder{fail: "systemctl"}
	if err := Apply(context.Background(), acts, r); err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"useradd", ghost}, {"systemctl", "stop", "x"}, {"true"}}
	if !slices.EqualFunc(r.ran, want, slices.Equal) {
		t.Errorf("ran %q, want %q", r.ran, want)
	}

	// A failing step stops Apply, and the error names it.
	acts[3].IgnoreError = false
	r = &recorder{fail: "systemctl"}
	err := Apply(context.Background(), acts, r)
	if err == nil || !strings.Contains(err.Error(), "step 4 (run systemctl stop x)") {
		t.Errorf("err = %v", err)
	}
	if len(r.ran) != 2 {
		t.Errorf("ran %q after the failure", r.ran)
	}
}

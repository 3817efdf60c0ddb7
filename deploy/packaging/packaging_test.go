package main

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	rpmutils "github.com/sassoftware/go-rpmutils"

	"zhizhi/agent/install"
	"zhizhi/deploy/systemd"
)

// packages builds both products' .deb and .rpm for amd64 into a temporary directory, once per test binary,
// the way `make packages` does: the real binaries are compiled from ./cmd/zhizhi-agent and ./cmd/zhizhi
// (CGO_ENABLED=0, stripped; the Go build cache makes this mostly a link).
func packages(t *testing.T) map[string]string {
	t.Helper()
	if built == nil {
		dir, err := os.MkdirTemp("", "zhizhi-packages-")
		if err != nil {
			t.Fatal(err)
		}
		paths, err := buildAll(context.Background(), "../..", "v0.3.1", "amd64", []string{"deb", "rpm"},
			map[string]string{}, filepath.Join(dir, "dist"))
		if err != nil {
			os.RemoveAll(dir)
			t.Fatal(err)
		}
		built = map[string]string{}
		for _, p := range paths {
			built[filepath.Base(p)] = p
		}
	}
	return built
}

var built map[string]string

func TestMain(m *testing.M) {
	code := m.Run()
	for _, p := range built {
		os.RemoveAll(filepath.Dir(filepath.Dir(p)))
		break
	}
	os.Exit(code)
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestPackageNames(t *testing.T) {
	want := []string{"zhizhi-agent_0.3.1_amd64.deb", "zhizhi-agent-0.3.1-1.x86_64.rpm", "zhizhi_0.3.1_amd64.deb", "zhizhi-0.3.1-1.x86_64.rpm"}
	got := packages(t)
	if len(got) != len(want) {
		t.Errorf("built %v", got)
	}
	for _, w := range want {
		if got[w] == "" {
			t.Errorf("missing %s in %v", w, got)
		}
	}
}

func TestDebContents(t *testing.T) {
	pkgs := packages(t)
	tests := []struct {
		deb, name, unit, stateDir string
		unitData                  []byte
		conffiles                 string
	}{
		{"zhizhi-agent_0.3.1_amd64.deb", "zhizhi-agent", systemd.AgentUnitName, install.SpoolDir, systemd.AgentUnit, install.ConfigPath + "\n"},
		{"zhizhi_0.3.1_amd64.deb", "zhizhi", systemd.ServerUnitName, "/var/lib/zhizhi", systemd.ServerUnit, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			deb := pkgs[tc.deb]
			for field, want := range map[string]string{"Package": tc.name, "Version": "0.3.1", "Architecture": "amd64"} {
				if got := strings.TrimSpace(run(t, "dpkg-deb", "--field", deb, field)); got != want {
					t.Errorf("%s: %q, want %q", field, got, want)
				}
			}
			info := run(t, "dpkg-deb", "--info", deb)
			for _, s := range []string{"postinst", "prerm", "postrm"} {
				if !strings.Contains(info, s) {
					t.Errorf("no %s in\n%s", s, info)
				}
			}
			conffiles := ""
			if tc.conffiles != "" {
				conffiles = run(t, "dpkg-deb", "--info", deb, "conffiles")
			} else if strings.Contains(info, "conffiles") {
				t.Error("unexpected conffiles")
			}
			if conffiles != tc.conffiles {
				t.Errorf("conffiles %q, want %q", conffiles, tc.conffiles)
			}
			modes := map[string]string{}
			for _, line := range strings.Split(run(t, "dpkg-deb", "--contents", deb), "\n") {
				if f := strings.Fields(line); len(f) == 6 {
					modes[strings.TrimSuffix(strings.TrimPrefix(f[5], "."), "/")] = f[0] + " " + f[1]
				}
			}
			want := map[string]string{
				"/usr/bin/" + tc.name:            "-rwxr-xr-x root/root",
				"/lib/systemd/system/" + tc.unit: "-rw-r--r-- root/root",
				tc.stateDir:                      "drwxr-x--- root/root",
			}
			if tc.conffiles != "" {
				want[install.ConfigPath] = "-rw-r----- root/root"
			}
			for path, mode := range want {
				if modes[path] != mode {
					t.Errorf("%s: %q, want %q", path, modes[path], mode)
				}
			}
			dir := t.TempDir()
			run(t, "dpkg-deb", "--extract", deb, dir)
			unit, err := os.ReadFile(filepath.Join(dir, "lib/systemd/system", tc.unit))
			if err != nil || !bytes.Equal(unit, tc.unitData) {
				t.Errorf("unit differs from deploy/systemd (%v)", err)
			}
		})
	}
}

func TestRpmContents(t *testing.T) {
	f, err := os.Open(packages(t)["zhizhi-agent-0.3.1-1.x86_64.rpm"])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rpm, err := rpmutils.ReadRpm(f)
	if err != nil {
		t.Fatal(err)
	}
	if arch, _ := rpm.Header.GetString(rpmutils.ARCH); arch != "x86_64" {
		t.Errorf("arch %q", arch)
	}
	files, err := rpm.Header.GetFiles()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]rpmutils.FileInfo{}
	for _, fi := range files {
		byName[fi.Name()] = fi
	}
	cfg, ok := byName[install.ConfigPath]
	if !ok || cfg.Flags()&rpmutils.RPMFILE_CONFIG == 0 || cfg.Flags()&rpmutils.RPMFILE_NOREPLACE == 0 {
		t.Errorf("%s: not %%config(noreplace) (%v)", install.ConfigPath, ok)
	}
	for path, mode := range map[string]int{"/usr/bin/zhizhi-agent": 0o755, "/usr/lib/systemd/system/" + systemd.AgentUnitName: 0o644} {
		if fi, ok := byName[path]; !ok || fi.Mode()&0o7777 != mode {
			t.Errorf("%s: missing or mode not %o", path, mode)
		}
	}
	for tag, want := range map[int]string{rpmutils.POSTIN: "useradd --system", rpmutils.PREUN: "disable --now", rpmutils.POSTUN: "userdel"} {
		if s, _ := rpm.Header.GetString(tag); !strings.Contains(s, want) {
			t.Errorf("script %d lacks %q:\n%s", tag, want, s)
		}
	}
}

func owner(t *testing.T, path string) (uid, gid int, mode fs.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return int(st.Uid), int(st.Gid), fi.Mode()
}

func lookup(name string) (uid, gid int, ok bool) {
	u, err := user.Lookup(name)
	if err != nil {
		return 0, 0, false
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid, true
}

func gone(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s still exists (%v)", p, err)
		}
	}
}

// TestDebInstallRemovePurge installs the agent and server .deb on this machine (systemd is not running here,
// so the maintainer scripts must cope), checks users and ownership, then removes and purges them.
func TestDebInstallRemovePurge(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root: installs packages with dpkg")
	}
	pkgs := packages(t)
	for _, p := range []string{"/usr/bin/zhizhi-agent", "/usr/bin/zhizhi"} {
		if _, err := os.Stat(p); err == nil && exec.Command("dpkg", "-S", p).Run() != nil {
			t.Fatalf("%s exists and no package owns it: refusing to overwrite it", p)
		}
	}
	purge := func() { exec.Command("dpkg", "--purge", "zhizhi-agent", "zhizhi").Run() }
	purge()
	t.Cleanup(purge)

	run(t, "dpkg", "--install", pkgs["zhizhi-agent_0.3.1_amd64.deb"], pkgs["zhizhi_0.3.1_amd64.deb"])
	// The installed binaries run, and the agent parses the configuration the package installed.
	for bin, want := range map[string]string{"/usr/bin/zhizhi-agent": "zhizhi-agent ", "/usr/bin/zhizhi": "zhizhi "} {
		if out := run(t, bin, "version"); !strings.HasPrefix(out, want) || !strings.Contains(out, "linux/amd64") {
			t.Errorf("%s version printed %q", bin, out)
		}
	}
	if out := run(t, "/usr/bin/zhizhi-agent", "once", "--config", install.ConfigPath); !strings.Contains(out, `"mem"`) {
		t.Errorf("zhizhi-agent once with the packaged %s printed %q", install.ConfigPath, out)
	}
	for _, tc := range []struct{ user, stateDir string }{{"zhizhi-agent", install.SpoolDir}, {"zhizhi", "/var/lib/zhizhi"}} {
		uid, gid, ok := lookup(tc.user)
		if !ok {
			t.Fatalf("user %s not created", tc.user)
		}
		if u, g, mode := owner(t, tc.stateDir); u != uid || g != gid || mode != fs.ModeDir|0o750 {
			t.Errorf("%s: %d:%d %v, want %d:%d drwxr-x---", tc.stateDir, u, g, mode, uid, gid)
		}
	}
	_, agentGID, _ := lookup("zhizhi-agent")
	if u, g, mode := owner(t, install.ConfigPath); u != 0 || g != agentGID || mode != 0o640 {
		t.Errorf("%s: %d:%d %v, want root:zhizhi-agent 0640", install.ConfigPath, u, g, mode)
	}

	// Reinstalling keeps a locally edited conffile and the user.
	edited := []byte("server: \"http://10.0.0.1:8080\"\n")
	if err := os.WriteFile(install.ConfigPath, edited, 0o640); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(install.TokenPath, []byte("token\n"), 0o600)
	os.WriteFile(filepath.Join(install.SpoolDir, "segment-1"), []byte("unsent"), 0o600)
	run(t, "dpkg", "--install", pkgs["zhizhi-agent_0.3.1_amd64.deb"])
	if got, _ := os.ReadFile(install.ConfigPath); !bytes.Equal(got, edited) {
		t.Errorf("reinstall replaced the edited config: %q", got)
	}

	// Remove keeps configuration, token, spool and user; purge removes them.
	run(t, "dpkg", "--remove", "zhizhi-agent")
	gone(t, "/usr/bin/zhizhi-agent", "/lib/systemd/system/"+systemd.AgentUnitName)
	for _, p := range []string{install.ConfigPath, install.TokenPath, filepath.Join(install.SpoolDir, "segment-1")} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("remove deleted %s: %v", p, err)
		}
	}
	if _, _, ok := lookup("zhizhi-agent"); !ok {
		t.Error("remove deleted the user")
	}
	run(t, "dpkg", "--purge", "zhizhi-agent")
	gone(t, install.ConfigPath, install.TokenPath, install.SpoolDir)
	if _, _, ok := lookup("zhizhi-agent"); ok {
		t.Error("purge kept user zhizhi-agent")
	}
	if _, err := user.LookupGroup("zhizhi-agent"); err == nil {
		t.Error("purge kept group zhizhi-agent")
	}

	// The server's purge removes its user but keeps the data directory (and says so).
	os.WriteFile("/var/lib/zhizhi/zhizhi.db", []byte("data"), 0o600)
	out := run(t, "dpkg", "--purge", "zhizhi")
	if !strings.Contains(out, "data kept in /var/lib/zhizhi") {
		t.Errorf("purge output: %s", out)
	}
	if _, err := os.Stat("/var/lib/zhizhi/zhizhi.db"); err != nil {
		t.Errorf("server data deleted by purge: %v", err)
	}
	os.RemoveAll("/var/lib/zhizhi")
	gone(t, "/usr/bin/zhizhi", "/lib/systemd/system/"+systemd.ServerUnitName, "/etc/zhizhi")
	if _, _, ok := lookup("zhizhi"); ok {
		t.Error("purge kept user zhizhi")
	}
}

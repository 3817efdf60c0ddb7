package crossbuild

import (
	"bytes"
	"context"
	"debug/elf"
	"debug/pe"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"zhizhi/agent/wire"
	"zhizhi/internal/testbin"
)

// targets are the platforms of issue 4: the agent for all, the server for the Linux ones.
var targets = []struct {
	testbin.Target
	server bool
	qemu   string      // user-mode emulator that runs it here; "" = native or not runnable
	elf    elf.Machine // expected ELF machine (Linux)
	pe     uint16      // expected PE machine (Windows)
}{
	{Target: testbin.Target{GOOS: "linux", GOARCH: "amd64"}, server: true, elf: elf.EM_X86_64},
	{Target: testbin.Target{GOOS: "linux", GOARCH: "arm64"}, server: true, qemu: "qemu-aarch64-static", elf: elf.EM_AARCH64},
	{Target: testbin.Target{GOOS: "linux", GOARCH: "loong64"}, server: true, qemu: "qemu-loongarch64-static", elf: elf.EM_LOONGARCH},
	{Target: testbin.Target{GOOS: "windows", GOARCH: "amd64"}, pe: pe.IMAGE_FILE_MACHINE_AMD64},
}

func binName(prog string, tg testbin.Target) string {
	name := prog + "-" + tg.GOOS + "-" + tg.GOARCH
	if tg.GOOS == "windows" {
		name += ".exe"
	}
	return name
}

// TestCrossBuild builds every binary, checks each file's architecture and that it is static, runs
// `zhizhi-agent once` natively and under qemu and checks its JSON, and starts the arm64 and loong64 servers
// under qemu.
func TestCrossBuild(t *testing.T) {
	root := testbin.Root(t)
	dir := t.TempDir()
	var jobs []testbin.Job
	for _, tg := range targets {
		jobs = append(jobs, testbin.Job{Pkg: "./cmd/zhizhi-agent", Target: tg.Target, Out: filepath.Join(dir, binName("zhizhi-agent", tg.Target))})
		if tg.server {
			jobs = append(jobs, testbin.Job{Pkg: "./cmd/zhizhi", Target: tg.Target, Out: filepath.Join(dir, binName("zhizhi", tg.Target))})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	start := time.Now()
	failed := false
	for i, err := range testbin.BuildAll(ctx, root, 3, jobs) {
		if err != nil {
			t.Errorf("%s %s: %v", jobs[i].Pkg, jobs[i].Target, err)
			failed = true
		}
	}
	if failed {
		t.FailNow()
	}
	t.Logf("built %d binaries in %s", len(jobs), time.Since(start).Round(time.Millisecond))

	for _, tg := range targets {
		for _, prog := range []string{"zhizhi-agent", "zhizhi"} {
			if prog == "zhizhi" && !tg.server {
				continue
			}
			path := filepath.Join(dir, binName(prog, tg.Target))
			if err := checkBinary(path, tg.elf, tg.pe); err != nil {
				t.Errorf("%s %s: %v", prog, tg.Target, err)
			}
		}
	}

	t.Run("once", func(t *testing.T) {
		// An explicit configuration keeps the host's /etc/zhizhi/agent.yaml (if any) out of the test.
		cfg := filepath.Join(t.TempDir(), "agent.yaml")
		if err := os.WriteFile(cfg, []byte("collect:\n  filesystems:\n    statfs_timeout: 5s\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for _, tg := range targets {
			if tg.GOOS != "linux" {
				continue
			}
			wg.Go(func() {
				bin := filepath.Join(dir, binName("zhizhi-agent", tg.Target))
				args := []string{"once", "--config", cfg}
				name := bin
				if tg.qemu != "" {
					name, args = tg.qemu, append([]string{bin}, args...)
				}
				begin := time.Now()
				cmd := exec.Command(name, args...)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				cmd.Env = append(os.Environ(), "ZHIZHI_AGENT_LOG_LEVEL=warn")
				out, err := cmd.Output()
				if err != nil {
					t.Errorf("%s once: %v\n%s", tg.Target, err, stderr.String())
					return
				}
				if err := checkSample(out, begin, time.Now()); err != nil {
					t.Errorf("%s once: %v\n%s", tg.Target, err, out)
				}
				t.Logf("%s once: %d bytes of JSON in %s", tg.Target, len(out), time.Since(begin).Round(time.Millisecond))
			})
		}
		wg.Wait()
	})

	// The server under emulation: SQLite (pure Go) creates and migrates a new database, serves /healthz and
	// stops on SIGTERM with a clean exit.
	for _, tg := range targets {
		if tg.qemu == "" || !tg.server {
			continue
		}
		t.Run("server-"+tg.GOARCH, func(t *testing.T) {
			begin := time.Now()
			addr := testbin.FreeAddr(t)
			p := testbin.Start(t, nil, tg.qemu, filepath.Join(dir, binName("zhizhi", tg.Target)), "up",
				"--data", t.TempDir(), "--listen", addr, "--no-local-agent")
			testbin.WaitHTTP(t, p, "http://"+addr+"/healthz", 60*time.Second)
			if err := p.Stop(30 * time.Second); err != nil {
				t.Errorf("stop: %v\n%s", err, p.Output())
			}
			if !strings.Contains(p.Output(), "password:") {
				t.Errorf("first start printed no admin credential:\n%s", p.Output())
			}
			t.Logf("zhizhi up under %s: start, /healthz, stop in %s", tg.qemu, time.Since(begin).Round(time.Millisecond))
		})
	}
}

// checkBinary verifies the machine type of an ELF or PE file and, for ELF, that it is statically linked.
func checkBinary(path string, wantELF elf.Machine, wantPE uint16) error {
	if wantPE != 0 {
		f, err := pe.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if f.Machine != wantPE {
			return fmt.Errorf("PE machine %#x, want %#x", f.Machine, wantPE)
		}
		return nil
	}
	f, err := elf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if f.Machine != wantELF {
		return fmt.Errorf("ELF machine %v, want %v", f.Machine, wantELF)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("dynamically linked (has an ELF interpreter): not a CGO_ENABLED=0 build")
		}
	}
	if f.Section(".symtab") != nil {
		return fmt.Errorf("not stripped (has .symtab): built without -ldflags \"-s -w\"")
	}
	return nil
}

// checkSample decodes the output of `zhizhi-agent once` strictly into a wire.Sample and checks that every
// family holds plausible values for a sample taken between from and to.
func checkSample(out []byte, from, to time.Time) error {
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.DisallowUnknownFields()
	var s wire.Sample
	if err := dec.Decode(&s); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	if dec.More() {
		return fmt.Errorf("more than one JSON value")
	}
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if s.Seq == 0 {
		bad("seq not set")
	}
	if s.Time.Before(from.Add(-time.Second)) || s.Time.After(to.Add(time.Second)) {
		bad("ts %s outside the run %s..%s", s.Time, from, to)
	}
	if s.IntervalSeconds < 0.5 || s.IntervalSeconds > 30 {
		bad("interval_s %v, want about 1 (two collections one second apart)", s.IntervalSeconds)
	}
	if len(s.Errors) > 0 {
		bad("families failed: %v", s.Errors)
	}
	if c := s.CPU; c == nil {
		bad("no cpu")
	} else {
		for name, v := range map[string]float64{"busy": c.BusyPct, "user": c.UserPct, "system": c.SystemPct, "iowait": c.IOWaitPct, "steal": c.StealPct} {
			if v < 0 || v > 100 {
				bad("cpu %s_pct %v outside 0..100", name, v)
			}
		}
	}
	if m := s.Memory; m == nil {
		bad("no mem")
	} else if m.TotalBytes == 0 || m.UsedBytes > m.TotalBytes || m.AvailableBytes > m.TotalBytes || m.UsedPct < 0 || m.UsedPct > 100 {
		bad("mem implausible: %+v", *m)
	}
	if l := s.Load; l == nil || l.Load1 < 0 {
		bad("load missing or negative: %v", l)
	}
	if len(s.FS) == 0 {
		bad("no filesystem")
	}
	for _, fs := range s.FS {
		if !strings.HasPrefix(fs.Mount, "/") || fs.TotalBytes == 0 || fs.UsedBytes > fs.TotalBytes || fs.UsedPct < 0 || fs.UsedPct > 100 {
			bad("filesystem implausible: %+v", fs)
		}
	}
	if s.Procs == nil || *s.Procs <= 0 {
		bad("procs missing or not positive")
	}
	if s.Uptime == nil || *s.Uptime == 0 {
		bad("uptime missing")
	}
	if s.Conns == nil {
		bad("no conns")
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// TestCheckSampleRejects proves the JSON check can fail: each broken sample is refused.
func TestCheckSampleRejects(t *testing.T) {
	now := time.Now().UTC()
	good := map[string]any{
		"seq": 1, "ts": now, "interval_s": 1.0,
		"cpu":   map[string]any{"busy_pct": 12.5},
		"load":  map[string]any{"load1": 0.5},
		"mem":   map[string]any{"total_bytes": 1000, "used_bytes": 400, "available_bytes": 600, "used_pct": 40},
		"fs":    []any{map[string]any{"mount": "/", "total_bytes": 100, "used_bytes": 10, "used_pct": 10}},
		"conns": map[string]any{}, "procs": 10, "uptime_s": 100,
	}
	encode := func(change func(m map[string]any)) []byte {
		m := map[string]any{}
		for k, v := range good {
			m[k] = v
		}
		change(m)
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if err := checkSample(encode(func(map[string]any) {}), now, now); err != nil {
		t.Fatalf("good sample refused: %v", err)
	}
	for name, change := range map[string]func(m map[string]any){
		"unknown field": func(m map[string]any) { m["cpu_pct"] = 3 },
		"cpu over 100":  func(m map[string]any) { m["cpu"] = map[string]any{"busy_pct": 140} },
		"no mem total":  func(m map[string]any) { m["mem"] = map[string]any{"used_pct": 1} },
		"no fs":         func(m map[string]any) { delete(m, "fs") },
		"no seq":        func(m map[string]any) { m["seq"] = 0 },
		"old ts":        func(m map[string]any) { m["ts"] = now.Add(-time.Hour) },
		"family error":  func(m map[string]any) { m["errors"] = map[string]string{"fs": "timeout"} },
	} {
		if err := checkSample(encode(change), now, now); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

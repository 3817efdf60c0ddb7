package main

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"zhizhi/collector/store"
)

func TestDemoCommand(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	demoRun := func(dir string, force bool) (string, error) {
		t.Helper()
		var out bytes.Buffer
		err := runDemo(ctx, demoConfig{dataDir: dir, seed: 5, force: force, out: &out, days: 3,
			now: func() time.Time { return now }})
		return out.String(), err
	}
	hosts := func(dir string) (int, bool) {
		t.Helper()
		st, err := store.Open(ctx, filepath.Join(dir, dbFile), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		h, err := st.Hosts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return len(h), st.IsDemo(ctx)
	}

	dir := t.TempDir()
	out, err := demoRun(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "Loaded the demo district: 24 departments, 72 systems, 152 hosts") || !strings.Contains(out, "demo district") {
		t.Fatalf("output:\n%s", out)
	}
	if n, isDemo := hosts(dir); n != 152 || !isDemo {
		t.Fatalf("%d hosts, demo %v after load", n, isDemo)
	}
	if _, err := demoRun(dir, false); err == nil || !strings.Contains(err.Error(), "already holds the demo district") {
		t.Fatalf("second load: %v", err)
	}

	// A store with a real agent is refused unless --force.
	real := t.TempDir()
	st, err := store.Open(ctx, filepath.Join(real, dbFile), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.EnrollAgent(ctx, "real system", "real department"); err != nil {
		t.Fatal(err)
	}
	// up --demo leaves a store with real data alone.
	if err := loadDemoIfEmpty(ctx, st, &bytes.Buffer{}, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	if st.IsDemo(ctx) {
		t.Fatal("up --demo touched a store with real data")
	}
	st.Close()
	if _, err := demoRun(real, false); err == nil || !strings.Contains(err.Error(), "1 agents of real data") {
		t.Fatalf("load into real store: %v", err)
	}
	if n, _ := hosts(real); n != 0 {
		t.Fatalf("refused load left %d hosts", n)
	}
	if _, err := demoRun(real, true); err != nil {
		t.Fatalf("--force: %v", err)
	}
	if n, isDemo := hosts(real); n != 152 || !isDemo {
		t.Fatalf("--force: %d hosts, demo %v", n, isDemo)
	}
}

func TestDemoHelp(t *testing.T) {
	out, err := run(t, "demo", "--help")
	if err != nil || !strings.Contains(out, "--seed") || !strings.Contains(out, "--force") {
		t.Fatalf("demo --help: %v\n%s", err, out)
	}
	out, err = run(t, "up", "--help")
	if err != nil || !strings.Contains(out, "--demo") {
		t.Fatalf("up --help: %v\n%s", err, out)
	}
}

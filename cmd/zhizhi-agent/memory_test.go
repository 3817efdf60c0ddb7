package main

import (
	"bytes"
	"errors"
	"log/slog"
	"runtime"
	"strings"
	"testing"
)

// The agent runs on one P unless the environment sets GOMAXPROCS.
func TestTuneProcs(t *testing.T) {
	orig := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(orig) })
	for _, tc := range []struct {
		name string
		env  map[string]string
		want int
	}{
		{"default", nil, 1},
		{"GOMAXPROCS set", map[string]string{"GOMAXPROCS": "3"}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runtime.GOMAXPROCS(3) // stand-in for what the runtime read from GOMAXPROCS at start
			tuneProcs(func(k string) string { return tc.env[k] })
			if got := runtime.GOMAXPROCS(0); got != tc.want {
				t.Errorf("GOMAXPROCS %d, want %d", got, tc.want)
			}
		})
	}
}

// The release runs after the first cycle unless ZHIZHI_AGENT_NO_MADVISE=1; a failure is logged.
func TestExecAdvice(t *testing.T) {
	for _, tc := range []struct {
		name     string
		env      map[string]string
		dropErr  error
		wantHook bool
		wantLog  string
	}{
		{"default", nil, nil, true, ""},
		{"opt-out", map[string]string{noMadviseEnv: "1"}, nil, false, ""},
		{"other value is no opt-out", map[string]string{noMadviseEnv: "0"}, nil, true, ""},
		{"madvise refused", nil, errors.New("EINVAL"), true, noMadviseEnv + "=1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			drop := func() (int64, error) { calls++; return 1, tc.dropErr }
			var logs bytes.Buffer
			hook := execAdvice(func(k string) string { return tc.env[k] }, slog.New(slog.NewTextHandler(&logs, nil)), drop)
			if (hook != nil) != tc.wantHook {
				t.Fatalf("hook returned %v, want %v", hook != nil, tc.wantHook)
			}
			if calls != 0 {
				t.Fatalf("pages released before the first cycle")
			}
			want := 0
			if hook != nil {
				hook()
				want = 1
			}
			if calls != want {
				t.Errorf("released %d times, want %d", calls, want)
			}
			if !strings.Contains(logs.String(), tc.wantLog) {
				t.Errorf("log %q lacks %q", logs.String(), tc.wantLog)
			}
		})
	}
}

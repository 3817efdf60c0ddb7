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

// The advice runs unless ZHIZHI_AGENT_NO_MADVISE=1: MADV_RANDOM at once, the release in the returned hook; a
// failure is logged and skips the hook.
func TestExecAdvice(t *testing.T) {
	for _, tc := range []struct {
		name      string
		env       map[string]string
		randomErr error
		wantCalls string // r = random, d = drop
		wantHook  bool
		wantLog   string
	}{
		{"default", nil, nil, "rd", true, ""},
		{"opt-out", map[string]string{noMadviseEnv: "1"}, nil, "", false, ""},
		{"other value is no opt-out", map[string]string{noMadviseEnv: "0"}, nil, "rd", true, ""},
		{"madvise refused", nil, errors.New("EINVAL"), "r", false, noMadviseEnv + "=1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls strings.Builder
			p := exePages{
				random: func() (int64, error) { calls.WriteString("r"); return 1, tc.randomErr },
				drop:   func() (int64, error) { calls.WriteString("d"); return 1, nil },
			}
			var logs bytes.Buffer
			hook := execAdvice(func(k string) string { return tc.env[k] }, slog.New(slog.NewTextHandler(&logs, nil)), p)
			if (hook != nil) != tc.wantHook {
				t.Fatalf("hook returned %v, want %v", hook != nil, tc.wantHook)
			}
			if hook != nil {
				hook()
			}
			if calls.String() != tc.wantCalls {
				t.Errorf("calls %q, want %q", calls.String(), tc.wantCalls)
			}
			if !strings.Contains(logs.String(), tc.wantLog) {
				t.Errorf("log %q lacks %q", logs.String(), tc.wantLog)
			}
		})
	}
}

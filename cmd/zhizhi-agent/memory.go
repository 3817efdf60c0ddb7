package main

import (
	"log/slog"
	"runtime"
)

// noMadviseEnv set to 1 turns off the release of executable pages by the run command (see execAdvice).
const noMadviseEnv = "ZHIZHI_AGENT_NO_MADVISE"

// tuneProcs runs the agent on one P unless the environment sets GOMAXPROCS: its work is one cycle at a time,
// and fewer Ps mean fewer idle threads woken and spun per cycle.
func tuneProcs(getenv func(string) string) {
	if getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
}

// execAdvice returns the hook that releases the executable's resident pages after the first cycle
// (agent.Deps.AfterFirstCycle, drop = agent.DropExecutablePages), so that the binary's share of RSS holds
// only the code a cycle runs, not start-up code. It returns nil when ZHIZHI_AGENT_NO_MADVISE=1. A failure is
// logged, not fatal: the release only saves memory.
func execAdvice(getenv func(string) string, logger *slog.Logger, drop func() (int64, error)) func() {
	if getenv(noMadviseEnv) == "1" {
		return nil
	}
	return func() {
		if _, err := drop(); err != nil {
			logger.Warn("releasing executable pages failed; set "+noMadviseEnv+"=1 to skip it", "err", err)
		}
	}
}

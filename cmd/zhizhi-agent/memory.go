package main

import (
	"log/slog"
	"runtime"

	"zhizhi/agent"
)

// noMadviseEnv set to 1 turns off the executable-page advice of the run command (see execAdvice).
const noMadviseEnv = "ZHIZHI_AGENT_NO_MADVISE"

// tuneProcs runs the agent on one P unless the environment sets GOMAXPROCS: its work is one cycle at a time,
// and fewer Ps mean fewer idle threads woken and spun per cycle.
func tuneProcs(getenv func(string) string) {
	if getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
}

// exePages are the two executable-page operations; the agent package's functions outside tests.
type exePages struct {
	random func() (int64, error) // agent.AdviseExecutableRandom
	drop   func() (int64, error) // agent.DropExecutablePages
}

var realExePages = exePages{random: agent.AdviseExecutableRandom, drop: agent.DropExecutablePages}

// execAdvice turns off fault-around on the agent's executable mappings now and returns the hook that releases
// their resident pages after the first cycle (agent.Deps.AfterFirstCycle), so that RSS holds only the code a
// cycle runs. It returns nil, doing nothing, when ZHIZHI_AGENT_NO_MADVISE=1. Failures are logged, not fatal:
// the advice only saves memory.
func execAdvice(getenv func(string) string, logger *slog.Logger, p exePages) func() {
	if getenv(noMadviseEnv) == "1" {
		return nil
	}
	if _, err := p.random(); err != nil {
		logger.Warn("madvise on the executable failed; set "+noMadviseEnv+"=1 to skip it", "err", err)
		return nil
	}
	return func() {
		if _, err := p.drop(); err != nil {
			logger.Warn("releasing executable pages failed", "err", err)
		}
	}
}

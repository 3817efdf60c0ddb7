package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"zhizhi/agent"
	"zhizhi/agent/config"
)

// localAgentConfig is the in-process agent of `zhizhi up`.
type localAgentConfig struct {
	ServerURL string // this server, e.g. http://127.0.0.1:8080
	Token     string // kept in <data>/local-agent.token
	SpoolDir  string // <data>/local-agent-spool
	Interval  time.Duration
	Logger    *slog.Logger
	// LoopbackTLS: the server speaks HTTPS. The local agent reaches it on loopback inside the same process, where
	// the certificate's names (the server's public name) do not match 127.0.0.1, so it does not verify them.
	LoopbackTLS bool
}

// runLocalAgent runs an agent monitoring this machine until ctx ends, then flushes and returns.
func runLocalAgent(ctx context.Context, lc localAgentConfig) error {
	cfg := config.Default()
	cfg.Server = lc.ServerURL
	cfg.Token = lc.Token
	cfg.TokenFile = ""
	cfg.Spool.Dir = lc.SpoolDir
	cfg.TLS.InsecureSkipVerify = lc.LoopbackTLS
	if lc.Interval > 0 {
		cfg.Interval = lc.Interval
	}
	// The local agent is alone: no start jitter, so that a new user sees live data a second after start.
	a, err := agent.New(cfg, agent.Deps{Logger: lc.Logger.With("local_agent", true), Jitter: func() float64 { return 0 }})
	if err != nil {
		return fmt.Errorf("local agent: %w", err)
	}
	lc.Logger.Info("local agent started", "agent", a.AgentID(), "server", lc.ServerURL, "interval", cfg.Interval)
	return a.Run(ctx)
}

package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"zhizhi/analyzer/findingsmetrics"
	"zhizhi/collector/ingest"
	"zhizhi/collector/store"
	"zhizhi/server"
	"zhizhi/server/auth"
	"zhizhi/server/console"
	"zhizhi/server/consoledata"
)

// Files in the data directory.
const (
	dbFile         = "zhizhi.db"
	localTokenFile = "local-agent.token"
	localSpoolDir  = "local-agent-spool"
)

// The local agent's identity on first run.
const (
	localSystem     = "zhizhi 服务器"
	localDepartment = "数据局"
)

// upConfig is everything `zhizhi up` needs; tests fill it directly.
type upConfig struct {
	dataDir      string
	listen       string
	noLocalAgent bool
	// tlsCert and tlsKey, both set, make the server speak HTTPS only (PEM files; the chain in tlsCert).
	tlsCert, tlsKey string
	llm             llmFlags     // the narrative layer's LLM endpoint (llm.go); none: templates only
	demo            bool         // load the demo district into an empty store (demo.go)
	forward         forwardFlags // every raw sample to a time-series engine (forward.go); no URL: off
	out             io.Writer    // the first-run admin credential goes here, never to the log
	log             *slog.Logger
	// users opens the user store; nil means openUsers.
	users func(*store.Store, *slog.Logger) auth.UserStore
	// agentInterval is the local agent's collection interval; 0 means the agent default.
	agentInterval time.Duration
	// ready, when set, is called with the listening address once the server accepts connections.
	ready func(addr net.Addr)
}

func (c *cli) upCmd() *cobra.Command {
	cfg := upConfig{}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run the server: API, embedded store and a local agent",
		Long: `Run the zhizhi server: it opens <data>/zhizhi.db, serves the HTTP API on --listen, rolls up and expires
data, and runs a local agent that monitors this machine.

On first start it creates the user "admin" with a random password and prints it once on standard output,
and enrolls the local agent (system "zhizhi 服务器", department "数据局"). SIGINT or SIGTERM stop it
gracefully: requests in flight finish and every acknowledged sample is on disk.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.out, cfg.log = c.out, c.log
			return runUp(cmd.Context(), cfg)
		},
	}
	cmd.Flags().StringVar(&cfg.dataDir, "data", "./data", "data directory (database, local agent token and spool)")
	cmd.Flags().StringVar(&cfg.listen, "listen", "127.0.0.1:8080", "address to serve HTTP on")
	cmd.Flags().BoolVar(&cfg.noLocalAgent, "no-local-agent", false, "do not monitor this machine with an in-process agent")
	cmd.Flags().StringVar(&cfg.tlsCert, "tls-cert", "", "PEM certificate (with its chain) to serve HTTPS; needs --tls-key")
	cmd.Flags().StringVar(&cfg.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	cfg.llm.register(cmd.Flags())
	cmd.Flags().BoolVar(&cfg.demo, "demo", false, "load a simulated district (demo data) when the store is empty")
	cfg.forward.register(cmd.Flags())
	return cmd
}

func runUp(ctx context.Context, cfg upConfig) error {
	log := cfg.log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.dataDir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	st, err := store.Open(ctx, filepath.Join(cfg.dataDir, dbFile), store.Options{Logger: log})
	if err != nil {
		return err
	}
	defer func() {
		if err := st.Close(); err != nil {
			log.Error("close store", "err", err)
		}
	}()
	if cfg.demo {
		if err := loadDemoIfEmpty(ctx, st, cfg.out, log); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}

	// The findings engine and its LLM endpoint: a bad configuration (e.g. a key file readable by others) stops
	// startup; no endpoint configured means template narratives, a supported mode.
	findings, err := newFindings(st, cfg.llm, log, nil)
	if err != nil {
		return err
	}
	// The findings on /metrics, evaluated at most every 10 minutes; closed before the store.
	findingsMetrics := findingsmetrics.New(findings, findingsmetrics.Options{Logger: log})
	defer findingsMetrics.Close()

	fwd, err := cfg.forward.forwarder(st, log) // forward.go: nil when not configured
	if err != nil {
		return err
	}

	openUsersFn := cfg.users
	if openUsersFn == nil {
		openUsersFn = openUsers
	}
	users := openUsersFn(st, log)
	password, created, err := auth.EnsureAdmin(ctx, users)
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintf(cfg.out, "\nCreated the administrator account (shown only this once, save it now):\n\n"+
			"    user:     %s\n    password: %s\n\n", auth.AdminName, password)
		log.Info("created the administrator account", "user", auth.AdminName)
	}

	var localToken string
	if !cfg.noLocalAgent {
		if localToken, err = localAgentToken(ctx, st, cfg.dataDir, log); err != nil {
			log.Error("local agent not started", "err", err)
		}
	}

	tlsConf, err := serverTLS(cfg.tlsCert, cfg.tlsKey)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if tlsConf != nil {
		ln = tls.NewListener(ln, tlsConf)
	}
	srv := server.New(storeBackend{st}, auth.NewAuthenticator(users), server.Options{
		Logger:     log,
		Sessions:   sessionStore(users),
		Console:    console.DataWithFindings(consoledata.New(st, server.Freshness{}, nil), findings),
		Limits:     ingest.Limits{MaxAge: store.DefaultRawRetention},
		Collectors: append([]prometheus.Collector{findingsMetrics}, fwd.collectors()...),
	})

	// Stop in order: the local agent first (it flushes to the server), then the server, then the store's
	// background work; the store closes last (deferred above).
	agentCtx, stopAgent := context.WithCancel(context.WithoutCancel(ctx))
	serveCtx, stopServe := context.WithCancel(context.WithoutCancel(ctx))
	runCtx, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	defer stopAgent()
	defer stopServe()
	defer stopRun()

	var runWG sync.WaitGroup
	runWG.Go(func() {
		if err := st.Run(runCtx); err != nil {
			log.Error("store background work", "err", err)
		}
	})
	runWG.Go(func() { feedDemo(runCtx, st, log) }) // demo.go: keeps a demo district's hosts reporting
	runWG.Go(func() { fwd.run(runCtx) })           // forward.go: raw samples to the time-series engine
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(serveCtx, ln) }()
	log.Info("zhizhi is up", "listen", ln.Addr().String(), "data", cfg.dataDir, "version", version)

	var agentWG sync.WaitGroup
	if localToken != "" {
		la := localAgentConfig{
			ServerURL: selfURL(ln.Addr(), tlsConf != nil), Token: localToken,
			SpoolDir: filepath.Join(cfg.dataDir, localSpoolDir), Interval: cfg.agentInterval, Logger: log,
			LoopbackTLS: tlsConf != nil,
		}
		agentWG.Go(func() {
			if err := runLocalAgent(agentCtx, la); err != nil {
				log.Error("local agent stopped", "err", err)
			}
		})
	}
	if cfg.ready != nil {
		cfg.ready(ln.Addr())
	}

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case runErr = <-serveErr:
		serveErr = nil
	}
	stopAgent()
	agentWG.Wait()
	stopServe()
	if serveErr != nil {
		runErr = <-serveErr
	}
	stopRun()
	runWG.Wait()
	return runErr
}

// serverTLS loads the server's certificate; both empty means plain HTTP.
func serverTLS(certFile, keyFile string) (*tls.Config, error) {
	switch {
	case certFile == "" && keyFile == "":
		return nil, nil
	case certFile == "":
		return nil, fmt.Errorf("--tls-key needs --tls-cert")
	case keyFile == "":
		return nil, fmt.Errorf("--tls-cert needs --tls-key")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}, nil
}

// selfURL is the URL at which this process reaches its own listener: an unspecified host becomes loopback.
func selfURL(addr net.Addr, https bool) string {
	scheme := "http://"
	if https {
		scheme = "https://"
	}
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return scheme + addr.String()
	}
	ip := net.ParseIP(host)
	switch {
	case ip == nil:
	case ip.IsUnspecified() && ip.To4() != nil:
		host = "127.0.0.1"
	case ip.IsUnspecified():
		host = "::1"
	}
	return scheme + net.JoinHostPort(host, port)
}

// localAgentToken returns the local agent's token from <data>/local-agent.token, enrolling the agent when the
// file is missing or the database no longer knows the token. It returns "" when the agent was revoked.
func localAgentToken(ctx context.Context, st *store.Store, dataDir string, log *slog.Logger) (string, error) {
	path := filepath.Join(dataDir, localTokenFile)
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		token := strings.TrimSpace(string(data))
		_, aerr := st.AuthenticateAgent(ctx, token)
		switch {
		case aerr == nil:
			return token, nil
		case errors.Is(aerr, store.ErrRevoked):
			log.Warn("the local agent was revoked; not starting it (delete " + path + " to enroll a new one)")
			return "", nil
		case !errors.Is(aerr, store.ErrUnauthorized) && !errors.Is(aerr, store.ErrNotFound):
			return "", fmt.Errorf("check local agent token: %w", aerr)
		}
		log.Warn("the database does not know the local agent token; enrolling a new local agent")
	case !errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("read local agent token: %w", err)
	}
	a, token, err := st.EnrollAgent(ctx, localSystem, localDepartment)
	if err != nil {
		return "", fmt.Errorf("enroll local agent: %w", err)
	}
	if err := writeSecret(path, token); err != nil {
		return "", err
	}
	log.Info("enrolled the local agent", "agent", a.ID, "system", localSystem)
	return token, nil
}

// writeSecret writes a secret to path with mode 0600, atomically and durably.
func writeSecret(path, secret string) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after the rename this fails harmlessly
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.WriteString(secret + "\n")
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

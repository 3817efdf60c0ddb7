// Package server is zhizhi's HTTP server: agent ingest, the admin and query API, the web console with its
// sign-in, sessions and roles, health and metrics.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
	"zhizhi/collector/store"

	"github.com/prometheus/client_golang/prometheus"

	"zhizhi/agent/wire"
	"zhizhi/collector/ingest"
	"zhizhi/server/auth"
	"zhizhi/server/console"
)

// Errors a Store returns (wrapped); check them with errors.Is.
var (
	// ErrNotFound reports an unknown agent or host.
	ErrNotFound = errors.New("not found")
	// ErrRevoked reports an agent whose token was revoked.
	ErrRevoked = errors.New("agent revoked")
	// ErrUnauthorized reports an unknown agent token.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrBusy reports an ingest refused because the store's queue is full; the handler answers 503 with
	// Retry-After and the agent keeps the batch in its spool.
	ErrBusy = errors.New("store busy")
)

// The server speaks the collector store's own record types; the Store interface below keeps it testable with
// fakes.
type (
	// Agent is an enrolled agent.
	Agent = store.Agent
	// HostSummary is a host with its latest sample.
	HostSummary = store.HostSummary
	// SystemSummary is a system (an application run by a department) and its hosts.
	SystemSummary = store.SystemSummary
	// Point is one bucket of a series; at raw resolution N is 1 and Min = Avg = Max.
	Point = store.Point
	// Series is one metric of one host over a time range, at the resolution the store chose.
	Series = store.Series
)

// Store is what the server needs from the collector store. Errors wrap ErrNotFound, ErrRevoked or
// ErrUnauthorized where those apply.
type Store interface {
	// AuthenticateAgent returns the agent owning token.
	AuthenticateAgent(ctx context.Context, token string) (Agent, error)
	// Ingest stores a validated batch durably and records the agent's clock skew and drop count.
	Ingest(ctx context.Context, a Agent, b *wire.Batch, receivedAt time.Time) (wire.Ack, error)
	// EnrollAgent creates an agent and returns it with its token (which only this call ever shows).
	EnrollAgent(ctx context.Context, system, department string) (Agent, string, error)
	// ListAgents returns every agent, revoked ones included.
	ListAgents(ctx context.Context) ([]Agent, error)
	// RevokeAgent revokes an agent's token.
	RevokeAgent(ctx context.Context, id string) error
	// Systems returns every system.
	Systems(ctx context.Context) ([]SystemSummary, error)
	// Hosts returns every host with its latest sample.
	Hosts(ctx context.Context) ([]HostSummary, error)
	// Host returns one host.
	Host(ctx context.Context, id int64) (HostSummary, error)
	// Series returns a metric of a host between from and to.
	Series(ctx context.Context, hostID int64, metric string, from, to time.Time) (Series, error)
	// Ping checks that the store answers a cheap query.
	Ping(ctx context.Context) error
}

// Users authenticates people by name and password and returns their current record. auth.Authenticator
// implements it.
type Users interface {
	// Authenticate returns the user, or an error wrapping auth.ErrBadCredentials for a wrong pair or a
	// disabled user.
	Authenticate(ctx context.Context, name, password string) (auth.User, error)
	// User returns the current record of name, or an error wrapping auth.ErrNoUser.
	User(ctx context.Context, name string) (auth.User, error)
}

// Freshness decides whether a host is online, stale or offline from when it was last seen.
type Freshness struct {
	// Intervals: a host is online while last seen within this many collection intervals (default 3).
	Intervals int
	// DefaultInterval is assumed when the latest sample does not tell its interval (default 1 min).
	DefaultInterval time.Duration
	// OfflineAfter: a host not seen for this long is offline, stale before (default 15 min).
	OfflineAfter time.Duration
}

func (f Freshness) withDefaults() Freshness {
	if f.Intervals <= 0 {
		f.Intervals = 3
	}
	if f.DefaultInterval <= 0 {
		f.DefaultInterval = time.Minute
	}
	if f.OfflineAfter <= 0 {
		f.OfflineAfter = 15 * time.Minute
	}
	return f
}

// Host states.
const (
	StatusOnline  = "online"
	StatusStale   = "stale"
	StatusOffline = "offline"
	StatusRevoked = "revoked" // agents only
)

// Status returns StatusOnline, StatusStale or StatusOffline for a host last seen at lastSeen (zero: never)
// that collects every interval (0: f.DefaultInterval), at now.
func (f Freshness) Status(lastSeen, now time.Time, interval time.Duration) string {
	f = f.withDefaults()
	if lastSeen.IsZero() {
		return StatusOffline
	}
	if interval <= 0 {
		interval = f.DefaultInterval
	}
	age := now.Sub(lastSeen)
	online := time.Duration(f.Intervals) * interval
	switch {
	case age <= online:
		return StatusOnline
	case age <= max(f.OfflineAfter, online):
		return StatusStale
	}
	return StatusOffline
}

func sampleInterval(s *wire.Sample) time.Duration {
	if s == nil || s.IntervalSeconds <= 0 {
		return 0
	}
	return time.Duration(s.IntervalSeconds * float64(time.Second))
}

// Options configure a Server. The zero value is usable.
type Options struct {
	// Logger receives request errors and audit events; nil discards them.
	Logger *slog.Logger
	// Clock is the server clock; nil means time.Now.
	Clock func() time.Time
	// Limits bound ingest requests; zero fields take ingest's defaults.
	Limits ingest.Limits
	// Freshness decides host and agent status.
	Freshness Freshness
	// MetricsRoles are the roles admitted to /metrics; empty means anonymous (for Prometheus scraping).
	MetricsRoles []auth.Role
	// ShutdownTimeout bounds graceful shutdown in Serve (default 15 s).
	ShutdownTimeout time.Duration
	// Collectors are registered on the /metrics registry next to the server's own metrics (e.g. the analyzer's
	// findings); New panics when one collides with another, as prometheus.MustRegister does.
	Collectors []prometheus.Collector

	// Console is what the web console reads. nil serves no console: no pages, no /login (API only).
	Console console.Data
	// Sessions persists console sessions; nil keeps them in memory (lost on restart).
	Sessions auth.SessionStore
	// Session sets the session lifetimes (its Clock is ignored: the server's Clock decides).
	Session auth.SessionOptions
	// Throttle sets the sign-in throttling of the login form and HTTP Basic (its Clock is ignored).
	Throttle auth.ThrottleOptions
}

// Server serves the HTTP API.
type Server struct {
	store   Store
	users   Users
	log     *slog.Logger
	clock   func() time.Time
	lim     ingest.Limits
	fresh   Freshness
	opts    Options
	routes  []route
	handler http.Handler
	m       *metrics

	console  *console.Console // nil without Options.Console
	sessions *auth.Sessions
	throttle *auth.Throttle
}

// New returns a Server over st (agents and data) and users (people).
func New(st Store, users Users, opts Options) *Server {
	s := &Server{
		store: st, users: users, log: opts.Logger, clock: opts.Clock, lim: opts.Limits.WithDefaults(),
		fresh: opts.Freshness.withDefaults(), opts: opts,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("component", "server")
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.opts.ShutdownTimeout <= 0 {
		s.opts.ShutdownTimeout = 15 * time.Second
	}
	s.m = newMetrics(s)
	sst := opts.Sessions
	if sst == nil {
		sst = &auth.MemorySessionStore{}
	}
	so := opts.Session
	so.Clock = s.clock
	s.sessions = auth.NewSessions(sst, users, so)
	to := opts.Throttle
	to.Clock = s.clock
	s.throttle = auth.NewThrottle(to)
	if opts.Console != nil {
		s.console = console.New(opts.Console, s.pageContext, opts.Logger).WithClock(s.clock)
	}
	s.routes = s.routeTable()
	s.handler = s.buildMux()
	return s
}

// Handler returns the HTTP handler of every route.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve serves HTTP on ln until ctx is done, then shuts down gracefully: it stops accepting, lets requests in
// flight finish (each ingest answers only after its batch is durable) within ShutdownTimeout, and returns.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute, // a 4 MiB batch over a slow link
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve http: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.ShutdownTimeout)
	defer cancel()
	err := hs.Shutdown(sctx)
	if err != nil {
		hs.Close()
		err = fmt.Errorf("shutdown http: %w", err)
	}
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		return errors.Join(err, fmt.Errorf("serve http: %w", serr))
	}
	return err
}

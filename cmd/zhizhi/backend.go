package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"zhizhi/agent/wire"
	"zhizhi/collector/store"
	"zhizhi/server"
	"zhizhi/server/auth"
)

// storeBackend adapts the collector store to server.Store.
type storeBackend struct{ st *store.Store }

var _ server.Store = storeBackend{}

// mapErr gives store errors the server's sentinels, keeping the original in the chain.
func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("%w: %w", server.ErrNotFound, err)
	case errors.Is(err, store.ErrRevoked):
		return fmt.Errorf("%w: %w", server.ErrRevoked, err)
	case errors.Is(err, store.ErrUnauthorized):
		return fmt.Errorf("%w: %w", server.ErrUnauthorized, err)
	}
	return err
}

func (b storeBackend) AuthenticateAgent(ctx context.Context, token string) (server.Agent, error) {
	a, err := b.st.AuthenticateAgent(ctx, token)
	return server.Agent(a), mapErr(err)
}

func (b storeBackend) Ingest(ctx context.Context, a server.Agent, batch *wire.Batch, receivedAt time.Time) (wire.Ack, error) {
	ack, err := b.st.Ingest(ctx, store.Agent(a), batch, receivedAt)
	return ack, mapErr(err)
}

func (b storeBackend) EnrollAgent(ctx context.Context, system, department string) (server.Agent, string, error) {
	a, token, err := b.st.EnrollAgent(ctx, system, department)
	return server.Agent(a), token, mapErr(err)
}

func (b storeBackend) ListAgents(ctx context.Context) ([]server.Agent, error) {
	agents, err := b.st.ListAgents(ctx)
	out := make([]server.Agent, len(agents))
	for i, a := range agents {
		out[i] = server.Agent(a)
	}
	return out, mapErr(err)
}

func (b storeBackend) RevokeAgent(ctx context.Context, id string) error {
	return mapErr(b.st.RevokeAgent(ctx, id))
}

func (b storeBackend) Systems(ctx context.Context) ([]server.SystemSummary, error) {
	systems, err := b.st.Systems(ctx)
	out := make([]server.SystemSummary, len(systems))
	for i, s := range systems {
		out[i] = server.SystemSummary(s)
	}
	return out, mapErr(err)
}

func (b storeBackend) Hosts(ctx context.Context) ([]server.HostSummary, error) {
	hosts, err := b.st.Hosts(ctx)
	out := make([]server.HostSummary, len(hosts))
	for i, h := range hosts {
		out[i] = server.HostSummary(h)
	}
	return out, mapErr(err)
}

func (b storeBackend) Host(ctx context.Context, id int64) (server.HostSummary, error) {
	h, err := b.st.Host(ctx, id)
	return server.HostSummary(h), mapErr(err)
}

func (b storeBackend) Series(ctx context.Context, hostID int64, metric string, from, to time.Time) (server.Series, error) {
	s, err := b.st.Series(ctx, hostID, metric, from, to)
	out := server.Series{HostID: s.HostID, Metric: s.Metric, Resolution: string(s.Resolution), Points: make([]server.Point, len(s.Points))}
	for i, p := range s.Points {
		out.Points[i] = server.Point(p)
	}
	return out, mapErr(err)
}

// Ping runs the cheapest query the store offers (the agents table is small).
func (b storeBackend) Ping(ctx context.Context) error {
	_, err := b.st.ListAgents(ctx)
	return err
}

// userTable is the users table the store is to provide (the lead adds it): UserByName returns the role and
// bcrypt hash, or an error wrapping store.ErrNotFound.
type userTable interface {
	CreateUser(ctx context.Context, name, role, passwordHash string) error
	UserByName(ctx context.Context, name string) (role, passwordHash string, err error)
	CountUsers(ctx context.Context) (int, error)
}

// storeUsers adapts the store's users table to auth.UserStore.
type storeUsers struct{ t userTable }

func (u storeUsers) CreateUser(ctx context.Context, name string, role auth.Role, passwordHash string) error {
	return u.t.CreateUser(ctx, name, string(role), passwordHash)
}

func (u storeUsers) UserByName(ctx context.Context, name string) (auth.User, string, error) {
	role, hash, err := u.t.UserByName(ctx, name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return auth.User{}, "", fmt.Errorf("%w: %w", auth.ErrNoUser, err)
	case err != nil:
		return auth.User{}, "", err
	}
	r, err := auth.ParseRole(role)
	if err != nil {
		return auth.User{}, "", fmt.Errorf("user %q: %w", name, err)
	}
	return auth.User{Name: name, Role: r}, hash, nil
}

func (u storeUsers) CountUsers(ctx context.Context) (int, error) { return u.t.CountUsers(ctx) }

// openUsers returns the persistent user store. Until the store has a users table, users live in memory and
// the admin password printed at start is valid only for that run.
func openUsers(st *store.Store, log *slog.Logger) auth.UserStore {
	if t, ok := any(st).(userTable); ok {
		return storeUsers{t}
	}
	log.Warn("this build's store has no users table: users are kept in memory and a new admin password is printed at every start")
	return &auth.MemoryUserStore{}
}

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
	case errors.Is(err, store.ErrBusy):
		return fmt.Errorf("%w: %w", server.ErrBusy, err)
	}
	return err
}

func (b storeBackend) AuthenticateAgent(ctx context.Context, token string) (server.Agent, error) {
	a, err := b.st.AuthenticateAgent(ctx, token)
	return a, mapErr(err)
}

func (b storeBackend) Ingest(ctx context.Context, a server.Agent, batch *wire.Batch, receivedAt time.Time) (wire.Ack, error) {
	ack, err := b.st.Ingest(ctx, a, batch, receivedAt)
	return ack, mapErr(err)
}

func (b storeBackend) EnrollAgent(ctx context.Context, system, department string) (server.Agent, string, error) {
	a, token, err := b.st.EnrollAgent(ctx, system, department)
	return a, token, mapErr(err)
}

func (b storeBackend) ListAgents(ctx context.Context) ([]server.Agent, error) {
	agents, err := b.st.ListAgents(ctx)
	return agents, mapErr(err)
}

func (b storeBackend) RevokeAgent(ctx context.Context, id string) error {
	return mapErr(b.st.RevokeAgent(ctx, id))
}

func (b storeBackend) Systems(ctx context.Context) ([]server.SystemSummary, error) {
	systems, err := b.st.Systems(ctx)
	return systems, mapErr(err)
}

func (b storeBackend) Hosts(ctx context.Context) ([]server.HostSummary, error) {
	hosts, err := b.st.Hosts(ctx)
	return hosts, mapErr(err)
}

func (b storeBackend) Host(ctx context.Context, id int64) (server.HostSummary, error) {
	h, err := b.st.Host(ctx, id)
	return h, mapErr(err)
}

func (b storeBackend) Series(ctx context.Context, hostID int64, metric string, from, to time.Time) (server.Series, error) {
	s, err := b.st.Series(ctx, hostID, metric, from, to)
	return s, mapErr(err)
}

// Ping asks the store for its schema version: a one-row query, whatever the fleet's size.
func (b storeBackend) Ping(ctx context.Context) error { return b.st.Ping(ctx) }

// storeUsers adapts the store's users and sessions tables to auth.UserStore and auth.SessionStore.
type storeUsers struct{ st *store.Store }

var (
	_ auth.UserStore    = storeUsers{}
	_ auth.SessionStore = storeUsers{}
)

func authUser(u store.User) (auth.User, error) {
	r, err := auth.ParseRole(u.Role)
	if err != nil {
		return auth.User{}, fmt.Errorf("user %q: %w", u.Name, err)
	}
	return auth.User{Name: u.Name, Role: r, DepartmentID: u.DepartmentID, Department: u.Department,
		Disabled: u.DisabledAt != nil, PasswordChangedAt: u.PasswordChangedAt}, nil
}

func (u storeUsers) CreateUser(ctx context.Context, user auth.User, passwordHash string) error {
	dept := ""
	if user.Role == auth.RoleDepartment {
		dept = user.Department
	}
	_, err := u.st.CreateUser(ctx, user.Name, string(user.Role), dept, passwordHash)
	switch {
	case errors.Is(err, store.ErrUserExists):
		return fmt.Errorf("%w: %w", auth.ErrUserExists, err)
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("%w: %w", auth.ErrNoDepartment, err)
	}
	return err
}

func (u storeUsers) UserByName(ctx context.Context, name string) (auth.User, string, error) {
	su, err := u.st.UserByName(ctx, name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return auth.User{}, "", fmt.Errorf("%w: %w", auth.ErrNoUser, err)
	case err != nil:
		return auth.User{}, "", err
	}
	au, err := authUser(su)
	return au, su.PasswordHash, err
}

func (u storeUsers) CountUsers(ctx context.Context) (int, error) { return u.st.CountUsers(ctx) }

func (u storeUsers) CreateSession(ctx context.Context, s auth.StoredSession) error {
	err := u.st.CreateSession(ctx, s.UserName, store.Session{TokenHash: s.TokenHash, CSRF: s.CSRF, CreatedAt: s.CreatedAt,
		LastSeen: s.LastSeen, ExpiresAt: s.ExpiresAt})
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %w", auth.ErrNoUser, err)
	}
	return err
}

func (u storeUsers) SessionByHash(ctx context.Context, tokenHash []byte) (auth.StoredSession, error) {
	s, err := u.st.SessionByHash(ctx, tokenHash)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return auth.StoredSession{}, fmt.Errorf("%w: %w", auth.ErrNoSession, err)
	case err != nil:
		return auth.StoredSession{}, err
	}
	return auth.StoredSession{TokenHash: s.TokenHash, UserName: s.UserName, CSRF: s.CSRF, CreatedAt: s.CreatedAt,
		LastSeen: s.LastSeen, ExpiresAt: s.ExpiresAt}, nil
}

func (u storeUsers) TouchSession(ctx context.Context, tokenHash []byte, lastSeen, expiresAt time.Time) error {
	return u.st.TouchSession(ctx, tokenHash, lastSeen, expiresAt)
}

func (u storeUsers) DeleteSession(ctx context.Context, tokenHash []byte) error {
	return u.st.DeleteSession(ctx, tokenHash)
}

func (u storeUsers) DeleteExpiredSessions(ctx context.Context, now time.Time) error {
	_, err := u.st.DeleteExpiredSessions(ctx, now)
	return err
}

// openUsers returns the persistent user store: the users table of the store.
func openUsers(st *store.Store, _ *slog.Logger) auth.UserStore { return storeUsers{st} }

// sessionStore returns where sessions persist: the user store itself when it keeps sessions (the store's
// tables do), else nil (the server then keeps them in memory).
func sessionStore(users auth.UserStore) auth.SessionStore {
	if ss, ok := users.(auth.SessionStore); ok {
		return ss
	}
	return nil
}

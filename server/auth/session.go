package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"
)

// SessionCookie is the name of the console's session cookie.
const SessionCookie = "zhizhi_session"

// Session lifetimes: a session ends after DefaultIdleTimeout without a request, and DefaultAbsoluteTimeout
// after sign-in in any case.
const (
	DefaultIdleTimeout     = 12 * time.Hour
	DefaultAbsoluteTimeout = 7 * 24 * time.Hour
	// DefaultTouchEvery bounds how often a session's last use is written (one write per minute, not per request).
	DefaultTouchEvery = time.Minute
)

// ErrNoSession reports an unknown, expired or revoked session token.
var ErrNoSession = errors.New("no session")

// StoredSession is a session as a SessionStore keeps it: the token itself is never stored, only its SHA-256.
type StoredSession struct {
	TokenHash []byte
	UserName  string
	CSRF      string
	CreatedAt time.Time
	LastSeen  time.Time
	ExpiresAt time.Time
}

// SessionStore persists sessions. The server's store implements it; MemorySessionStore is for tests.
type SessionStore interface {
	// CreateSession stores s; its user must exist.
	CreateSession(ctx context.Context, s StoredSession) error
	// SessionByHash returns the session whose token hashes to tokenHash, or an error wrapping ErrNoSession.
	SessionByHash(ctx context.Context, tokenHash []byte) (StoredSession, error)
	// TouchSession records a use of the session and its new expiry.
	TouchSession(ctx context.Context, tokenHash []byte, lastSeen, expiresAt time.Time) error
	// DeleteSession removes the session (no error when it does not exist).
	DeleteSession(ctx context.Context, tokenHash []byte) error
	// DeleteExpiredSessions removes the sessions that expired before now.
	DeleteExpiredSessions(ctx context.Context, now time.Time) error
}

// UserLookup returns the current record of a user, or an error wrapping ErrNoUser. Authenticator implements it.
type UserLookup interface {
	User(ctx context.Context, name string) (User, error)
}

// SessionOptions configure Sessions; zero fields take the defaults.
type SessionOptions struct {
	Idle, Absolute, TouchEvery time.Duration
	// Clock decides expiry; nil means time.Now.
	Clock func() time.Time
}

// Session is a live session of a user.
type Session struct {
	User      User
	CSRF      string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Sessions creates, checks and ends console sessions. Tokens are 32 random bytes (base64url); the store keeps
// their SHA-256. Each session has its own random CSRF token.
type Sessions struct {
	st    SessionStore
	users UserLookup
	opts  SessionOptions
}

// NewSessions returns Sessions over st, reading users' current role and state from users.
func NewSessions(st SessionStore, users UserLookup, opts SessionOptions) *Sessions {
	if opts.Idle <= 0 {
		opts.Idle = DefaultIdleTimeout
	}
	if opts.Absolute <= 0 {
		opts.Absolute = DefaultAbsoluteTimeout
	}
	if opts.TouchEvery <= 0 {
		opts.TouchEvery = DefaultTouchEvery
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	return &Sessions{st: st, users: users, opts: opts}
}

// HashToken returns the SHA-256 of a session token, the key under which it is stored.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// NewToken returns 32 random bytes in unpadded base64url (session, CSRF and login-form tokens).
func NewToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

func (m *Sessions) expiry(created, now time.Time) time.Time {
	exp := now.Add(m.opts.Idle)
	if abs := created.Add(m.opts.Absolute); abs.Before(exp) {
		exp = abs
	}
	return exp
}

// Create starts a session for u and returns its token (for the cookie, never to be logged or stored).
func (m *Sessions) Create(ctx context.Context, u User) (string, Session, error) {
	token, err := NewToken()
	if err != nil {
		return "", Session{}, err
	}
	csrf, err := NewToken()
	if err != nil {
		return "", Session{}, err
	}
	now := m.opts.Clock()
	// Sweep old sessions at sign-in, the one moment a write is due anyway.
	if err := m.st.DeleteExpiredSessions(ctx, now); err != nil {
		return "", Session{}, fmt.Errorf("create session: %w", err)
	}
	ss := StoredSession{TokenHash: HashToken(token), UserName: u.Name, CSRF: csrf, CreatedAt: now, LastSeen: now,
		ExpiresAt: m.expiry(now, now)}
	if err := m.st.CreateSession(ctx, ss); err != nil {
		return "", Session{}, fmt.Errorf("create session: %w", err)
	}
	return token, Session{User: u, CSRF: csrf, CreatedAt: now, ExpiresAt: ss.ExpiresAt}, nil
}

// Lookup returns the live session of token with its user's current record. An unknown or expired token, a
// disabled or deleted user, or a password changed since sign-in gives an error wrapping ErrNoSession (and
// ends the session); a store failure gives another error.
func (m *Sessions) Lookup(ctx context.Context, token string) (Session, error) {
	if token == "" {
		return Session{}, ErrNoSession
	}
	hash := HashToken(token)
	ss, err := m.st.SessionByHash(ctx, hash)
	if err != nil {
		return Session{}, fmt.Errorf("look up session: %w", err)
	}
	now := m.opts.Clock()
	end := func(why string) (Session, error) {
		if err := m.st.DeleteSession(ctx, hash); err != nil {
			return Session{}, fmt.Errorf("end session: %w", err)
		}
		return Session{}, fmt.Errorf("session %s: %w", why, ErrNoSession)
	}
	if !now.Before(ss.ExpiresAt) {
		return end("expired")
	}
	u, err := m.users.User(ctx, ss.UserName)
	switch {
	case errors.Is(err, ErrNoUser):
		return end("of a deleted user")
	case err != nil:
		return Session{}, err
	case u.Disabled:
		return end("of a disabled user")
	case u.PasswordChangedAt.After(ss.CreatedAt):
		return end("older than the password")
	}
	exp := ss.ExpiresAt
	if now.Sub(ss.LastSeen) >= m.opts.TouchEvery {
		exp = m.expiry(ss.CreatedAt, now)
		if err := m.st.TouchSession(ctx, hash, now, exp); err != nil {
			return Session{}, fmt.Errorf("touch session: %w", err)
		}
	}
	return Session{User: u, CSRF: ss.CSRF, CreatedAt: ss.CreatedAt, ExpiresAt: exp}, nil
}

// Delete ends the session of token (no error when there is none).
func (m *Sessions) Delete(ctx context.Context, token string) error {
	if token == "" {
		return nil
	}
	if err := m.st.DeleteSession(ctx, HashToken(token)); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// TokensEqual compares a submitted CSRF token with the expected one in constant time; empty never matches.
func TokensEqual(got, want string) bool {
	return got != "" && want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// MemorySessionStore is a SessionStore in memory, for tests. The zero value is ready to use.
type MemorySessionStore struct {
	mu       sync.Mutex
	sessions map[string]StoredSession
}

// CreateSession implements SessionStore.
func (m *MemorySessionStore) CreateSession(_ context.Context, s StoredSession) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sessions == nil {
		m.sessions = map[string]StoredSession{}
	}
	s.TokenHash = bytes.Clone(s.TokenHash)
	m.sessions[string(s.TokenHash)] = s
	return nil
}

// SessionByHash implements SessionStore.
func (m *MemorySessionStore) SessionByHash(_ context.Context, tokenHash []byte) (StoredSession, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[string(tokenHash)]
	if !ok {
		return StoredSession{}, ErrNoSession
	}
	return s, nil
}

// TouchSession implements SessionStore.
func (m *MemorySessionStore) TouchSession(_ context.Context, tokenHash []byte, lastSeen, expiresAt time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.sessions[string(tokenHash)]; ok {
		s.LastSeen, s.ExpiresAt = lastSeen, expiresAt
		m.sessions[string(tokenHash)] = s
	}
	return nil
}

// DeleteSession implements SessionStore.
func (m *MemorySessionStore) DeleteSession(_ context.Context, tokenHash []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.sessions, string(tokenHash))
	return nil
}

// DeleteExpiredSessions implements SessionStore.
func (m *MemorySessionStore) DeleteExpiredSessions(_ context.Context, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, s := range m.sessions {
		if !now.Before(s.ExpiresAt) {
			delete(m.sessions, k)
		}
	}
	return nil
}

// Len returns the number of stored sessions.
func (m *MemorySessionStore) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.sessions)
}

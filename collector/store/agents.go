package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Agent is an enrolled agent with its system and, once it has reported, its host.
type Agent struct {
	ID         string
	SystemID   int64
	System     string
	Department string
	CreatedAt  time.Time
	RevokedAt  *time.Time
	LastSeen   *time.Time
	LastSeq    uint64
	// ClockSkew is the agent's clock minus the server's, measured at the last batch.
	ClockSkew time.Duration
	Dropped   uint64
	HostID    int64 // 0 until the agent's first batch
	Hostname  string
}

const (
	tokenPrefix    = "zz_"
	agentIDPrefix  = "ag-"
	agentIDRandLen = 12 // base32 characters
	agentIDLen     = len(agentIDPrefix) + agentIDRandLen
	secretBytes    = 32
)

var (
	idEncoding     = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)
	secretEncoding = base64.RawURLEncoding
	secretLen      = secretEncoding.EncodedLen(secretBytes)
)

// AgentIDFromToken extracts the agent id from a token of the form "zz_" + agentID + "_" + secret, where the
// agent id is "ag-" + 12 lowercase base32 characters and the secret is 32 random bytes in unpadded base64url.
// It reports false for anything else.
func AgentIDFromToken(tok string) (string, bool) {
	if len(tok) != len(tokenPrefix)+agentIDLen+1+secretLen || !strings.HasPrefix(tok, tokenPrefix) {
		return "", false
	}
	id := tok[len(tokenPrefix) : len(tokenPrefix)+agentIDLen]
	if !validAgentID(id) || tok[len(tokenPrefix)+agentIDLen] != '_' {
		return "", false
	}
	if _, err := secretEncoding.DecodeString(tok[len(tokenPrefix)+agentIDLen+1:]); err != nil {
		return "", false
	}
	return id, true
}

func validAgentID(id string) bool {
	if len(id) != agentIDLen || !strings.HasPrefix(id, agentIDPrefix) {
		return false
	}
	for _, c := range id[len(agentIDPrefix):] {
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

func newAgentID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random agent id: %w", err)
	}
	return agentIDPrefix + idEncoding.EncodeToString(b[:])[:agentIDRandLen], nil
}

func hashToken(tok string) []byte {
	h := sha256.Sum256([]byte(tok))
	return h[:]
}

// EnrollAgent creates an agent for system in department, creating both when missing, and returns the agent
// and its token. The token is shown only here: the store keeps its SHA-256.
func (s *Store) EnrollAgent(ctx context.Context, system, department string) (Agent, string, error) {
	system, department = strings.TrimSpace(system), strings.TrimSpace(department)
	if system == "" {
		return Agent{}, "", fmt.Errorf("enroll agent: system name is empty")
	}
	if department == "" {
		return Agent{}, "", fmt.Errorf("enroll agent: department name is empty")
	}
	var secret [secretBytes]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return Agent{}, "", fmt.Errorf("enroll agent: random secret: %w", err)
	}
	now := s.clock()
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return Agent{}, "", fmt.Errorf("enroll agent: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	var deptID, sysID int64
	if err := tx.QueryRowContext(ctx, `INSERT INTO departments (name) VALUES (?)
		ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id`, department).Scan(&deptID); err != nil {
		return Agent{}, "", fmt.Errorf("enroll agent: department: %w", err)
	}
	if err := tx.QueryRowContext(ctx, `INSERT INTO systems (name, department_id) VALUES (?, ?)
		ON CONFLICT (name, department_id) DO UPDATE SET name = excluded.name RETURNING id`, system, deptID).Scan(&sysID); err != nil {
		return Agent{}, "", fmt.Errorf("enroll agent: system: %w", err)
	}
	var id, tok string
	for range 5 { // an id collision is astronomically unlikely; retry a few times anyway
		if id, err = newAgentID(); err != nil {
			return Agent{}, "", err
		}
		tok = tokenPrefix + id + "_" + secretEncoding.EncodeToString(secret[:])
		var res sql.Result
		res, err = tx.ExecContext(ctx, `INSERT INTO agents (id, system_id, token_hash, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (id) DO NOTHING`, id, sysID, hashToken(tok), now.UnixMilli())
		if err != nil {
			return Agent{}, "", fmt.Errorf("enroll agent: insert: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			break
		}
		id = ""
	}
	if id == "" {
		return Agent{}, "", fmt.Errorf("enroll agent: could not allocate a unique id")
	}
	if err := tx.Commit(); err != nil {
		return Agent{}, "", fmt.Errorf("enroll agent: commit: %w", err)
	}
	s.log.Info("agent enrolled", "agent", id, "system", system, "department", department)
	return Agent{ID: id, SystemID: sysID, System: system, Department: department,
		CreatedAt: time.UnixMilli(now.UnixMilli())}, tok, nil
}

const agentSelect = `SELECT a.id, a.system_id, s.name, d.name, a.created_at, a.revoked_at, a.last_seen, a.last_seq,
	a.clock_skew_ms, a.dropped, COALESCE(h.id, 0), COALESCE(h.hostname, ''), a.token_hash
	FROM agents a JOIN systems s ON s.id = a.system_id JOIN departments d ON d.id = s.department_id
	LEFT JOIN hosts h ON h.agent_id = a.id`

func scanAgent(sc interface{ Scan(...any) error }) (Agent, []byte, error) {
	var a Agent
	var created int64
	var revoked, seen sql.NullInt64
	var lastSeq, dropped, skew int64
	var hash []byte
	if err := sc.Scan(&a.ID, &a.SystemID, &a.System, &a.Department, &created, &revoked, &seen, &lastSeq, &skew,
		&dropped, &a.HostID, &a.Hostname, &hash); err != nil {
		return Agent{}, nil, err
	}
	a.CreatedAt = time.UnixMilli(created)
	a.RevokedAt = nullTime(revoked)
	a.LastSeen = nullTime(seen)
	a.LastSeq, a.Dropped = uint64(lastSeq), uint64(dropped)
	a.ClockSkew = time.Duration(skew) * time.Millisecond
	return a, hash, nil
}

func nullTime(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := time.UnixMilli(v.Int64)
	return &t
}

// ListAgents returns every agent, revoked ones included, oldest first.
func (s *Store) ListAgents(ctx context.Context) ([]Agent, error) {
	rows, err := s.rdb.QueryContext(ctx, agentSelect+` ORDER BY a.created_at, a.id`)
	if err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	defer rows.Close()
	var out []Agent
	for rows.Next() {
		a, _, err := scanAgent(rows)
		if err != nil {
			return nil, fmt.Errorf("list agents: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	return out, nil
}

// Agent returns one agent by id, or ErrNotFound.
func (s *Store) Agent(ctx context.Context, id string) (Agent, error) {
	a, _, err := scanAgent(s.rdb.QueryRowContext(ctx, agentSelect+` WHERE a.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Agent{}, fmt.Errorf("agent %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return Agent{}, fmt.Errorf("agent %q: %w", id, err)
	}
	return a, nil
}

// RevokeAgent revokes an agent's token; its data stays. Revoking twice keeps the first time. ErrNotFound
// when no such agent exists.
func (s *Store) RevokeAgent(ctx context.Context, id string) error {
	res, err := s.wdb.ExecContext(ctx, `UPDATE agents SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`,
		s.clock().UnixMilli(), id)
	if err != nil {
		return fmt.Errorf("revoke agent %q: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("revoke agent %q: %w", id, ErrNotFound)
	}
	s.auth.forget(id)
	s.log.Info("agent revoked", "agent", id)
	return nil
}

// authCache remembers tokens AuthenticateAgent accepted, by SHA-256 of the token, for ttl: ingest
// authenticates every request, and the query (3 joins on a read connection) was 11 % of the server's CPU at
// 10,000 agents. Only accepted, unrevoked agents are cached. RevokeAgent in this process forgets the agent at
// once; a revoke written by another process (the CLI on the same file) is seen when the entry expires.
type authCache struct {
	ttl time.Duration // <= 0: disabled
	mu  sync.Mutex
	m   map[[sha256.Size]byte]authEntry
}

type authEntry struct {
	a       Agent
	expires time.Time
}

// authCacheMax bounds the cache; past it the cache is emptied (entries are cheap to recompute).
const authCacheMax = 100000

func (c *authCache) get(h [sha256.Size]byte, now time.Time) (Agent, bool) {
	if c.ttl <= 0 {
		return Agent{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[h]
	if !ok || !now.Before(e.expires) {
		return Agent{}, false
	}
	return e.a, true
}

func (c *authCache) put(h [sha256.Size]byte, a Agent, now time.Time) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= authCacheMax {
		c.m = map[[sha256.Size]byte]authEntry{}
	}
	c.m[h] = authEntry{a: a, expires: now.Add(c.ttl)}
}

func (c *authCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for h, e := range c.m {
		if e.a.ID == id {
			delete(c.m, h)
		}
	}
}

// AuthenticateAgent returns the agent a token belongs to: ErrUnauthorized for a malformed or unknown token,
// ErrRevoked (with the agent) for a revoked one. The token is compared by hash in constant time. An accepted
// token is cached for AuthCacheTTL (see authCache): the returned Agent's last-seen fields may be that old.
func (s *Store) AuthenticateAgent(ctx context.Context, token string) (Agent, error) {
	id, ok := AgentIDFromToken(token)
	if !ok {
		return Agent{}, ErrUnauthorized
	}
	sum := sha256.Sum256([]byte(token))
	now := s.clock()
	if a, ok := s.auth.get(sum, now); ok {
		return a, nil
	}
	a, hash, err := scanAgent(s.rdb.QueryRowContext(ctx, agentSelect+` WHERE a.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Agent{}, ErrUnauthorized
	}
	if err != nil {
		return Agent{}, fmt.Errorf("authenticate agent: %w", err)
	}
	if subtle.ConstantTimeCompare(hash, hashToken(token)) != 1 {
		return Agent{}, ErrUnauthorized
	}
	if a.RevokedAt != nil {
		return a, ErrRevoked
	}
	s.auth.put(sum, a, now)
	return a, nil
}

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// AgentHealth is what an agent last told the server about itself.
type AgentHealth struct {
	AgentID  string
	LastSeen *time.Time
	// ClockSkew is the agent's clock minus the server's at its last batch.
	ClockSkew time.Duration
	// Dropped is the cumulative count of samples the agent's spool discarded over its cap.
	Dropped uint64
	// SpoolBytes and SpoolRecords are the agent's backlog at its last batch; nil until it reported one.
	SpoolBytes, SpoolRecords *int64
}

// AgentHealth returns the health an agent reported with its last batch; ErrNotFound for an unknown agent.
func (s *Store) AgentHealth(ctx context.Context, agentID string) (AgentHealth, error) {
	var (
		h              = AgentHealth{AgentID: agentID}
		seen           sql.NullInt64
		skew, dropped  int64
		bytes, records sql.NullInt64
	)
	err := s.rdb.QueryRowContext(ctx, `SELECT last_seen, clock_skew_ms, dropped, spool_bytes, spool_records
		FROM agents WHERE id = ?`, agentID).Scan(&seen, &skew, &dropped, &bytes, &records)
	if errors.Is(err, sql.ErrNoRows) {
		return AgentHealth{}, fmt.Errorf("agent %s: %w", agentID, ErrNotFound)
	}
	if err != nil {
		return AgentHealth{}, fmt.Errorf("agent health: %w", err)
	}
	h.LastSeen = nullTime(seen)
	h.ClockSkew = time.Duration(skew) * time.Millisecond
	h.Dropped = uint64(dropped)
	if bytes.Valid {
		h.SpoolBytes = &bytes.Int64
	}
	if records.Valid {
		h.SpoolRecords = &records.Int64
	}
	return h, nil
}

// Ping checks that the database answers a query on the read pool, cheaply (for /healthz).
func (s *Store) Ping(ctx context.Context) error {
	var v int
	if err := s.rdb.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v); err != nil {
		return fmt.Errorf("ping store: %w", err)
	}
	return nil
}

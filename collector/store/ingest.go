package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"zhizhi/agent/wire"
)

// ingestReq is one batch waiting for the writer goroutine.
type ingestReq struct {
	agentID    string
	receivedAt time.Time
	sentAt     time.Time
	dropped    uint64
	spool      *wire.SpoolStats
	facts      []byte // HostFacts JSON, nil when the batch carries none
	hostname   string
	samples    []encodedSample
	latest     []byte // JSON of the sample with the highest ts
	latestTS   int64  // unix ms
	maxSeq     uint64

	ack  wire.Ack
	err  error
	done chan struct{}
}

type encodedSample struct {
	seq     uint64
	ts      int64 // unix ms
	payload []byte
}

// ingestStmts are the writer's prepared statements.
type ingestStmts struct {
	agentHost, insertHost, insertSample, updateHost, updateAgent *sql.Stmt
}

func (st *ingestStmts) prepare(ctx context.Context, db *sql.DB) error {
	var err error
	p := func(q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var s *sql.Stmt
		s, err = db.PrepareContext(ctx, q)
		return s
	}
	st.agentHost = p(`SELECT a.revoked_at, a.last_seq, h.id, h.facts, h.latest_ts
		FROM agents a LEFT JOIN hosts h ON h.agent_id = a.id WHERE a.id = ?`)
	st.insertHost = p(`INSERT INTO hosts (agent_id, first_seen, last_seen) VALUES (?, ?, ?) RETURNING id`)
	st.insertSample = p(`INSERT INTO samples (host_id, seq, ts, payload) VALUES (?, ?, ?, ?)
		ON CONFLICT (host_id, seq) DO NOTHING`)
	st.updateHost = p(`UPDATE hosts SET last_seen = ?,
		hostname = CASE WHEN ?2 THEN ?3 ELSE hostname END,
		facts = CASE WHEN ?2 THEN ?4 ELSE facts END,
		facts_updated_at = CASE WHEN ?2 THEN ?1 ELSE facts_updated_at END,
		latest = CASE WHEN ?5 THEN ?6 ELSE latest END,
		latest_ts = CASE WHEN ?5 THEN ?7 ELSE latest_ts END
		WHERE id = ?8`)
	st.updateAgent = p(`UPDATE agents SET last_seen = ?, last_seq = max(last_seq, ?), dropped = ?, clock_skew_ms = ?,
		spool_bytes = COALESCE(?, spool_bytes), spool_records = COALESCE(?, spool_records)
		WHERE id = ?`)
	if err != nil {
		return fmt.Errorf("prepare ingest statements: %w", err)
	}
	return nil
}

func (st *ingestStmts) close() {
	for _, s := range []*sql.Stmt{st.agentHost, st.insertHost, st.insertSample, st.updateHost, st.updateAgent} {
		if s != nil {
			s.Close()
		}
	}
}

// Ingest stores a batch from agent a durably and returns the acknowledgement after the commit. Samples whose
// (agent, seq) are already stored count as duplicates. It updates the host's facts (when changed) and latest
// sample and the agent's last_seen, last_seq, dropped count and clock skew (b.SentAt - receivedAt). It refuses
// a revoked agent with ErrRevoked and an unknown one with ErrUnauthorized, and returns ErrBusy at once when
// MaxQueuedBatches batches already wait for the writer. The HTTP layer validates the batch;
// Ingest only checks that it belongs to a.
func (s *Store) Ingest(ctx context.Context, a Agent, b *wire.Batch, receivedAt time.Time) (wire.Ack, error) {
	if b == nil {
		return wire.Ack{}, fmt.Errorf("ingest: nil batch")
	}
	if b.AgentID != "" && b.AgentID != a.ID {
		return wire.Ack{}, fmt.Errorf("ingest: agent_id %q does not match the token's agent %q", b.AgentID, a.ID)
	}
	if a.RevokedAt != nil {
		return wire.Ack{}, ErrRevoked
	}
	req, err := encodeBatch(a.ID, b, receivedAt)
	if err != nil {
		return wire.Ack{}, fmt.Errorf("ingest: %w", err)
	}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return wire.Ack{}, ErrClosed
	}
	select {
	case s.reqs <- req:
		s.mu.RUnlock()
	default:
		// Backpressure: a full queue means seconds of work ahead; refusing now lets the agent keep the batch
		// in its spool and retry, rather than piling up requests (and memory) without bound.
		s.mu.RUnlock()
		return wire.Ack{}, ErrBusy
	}
	select {
	case <-req.done:
		return req.ack, req.err
	case <-ctx.Done():
		// The batch may still commit; the agent resends and gets duplicates, which is harmless.
		return wire.Ack{}, ctx.Err()
	}
}

// encodeBatch does the CPU work (JSON, compression) in the caller's goroutine so the writer only writes.
func encodeBatch(agentID string, b *wire.Batch, receivedAt time.Time) (*ingestReq, error) {
	req := &ingestReq{
		agentID:    agentID,
		receivedAt: receivedAt,
		sentAt:     b.SentAt,
		dropped:    b.Dropped,
		spool:      b.Spool,
		samples:    make([]encodedSample, 0, len(b.Samples)),
		done:       make(chan struct{}),
	}
	if b.Host != nil {
		js, err := json.Marshal(b.Host)
		if err != nil {
			return nil, fmt.Errorf("encode host facts: %w", err)
		}
		req.facts, req.hostname = js, b.Host.Hostname
	}
	latest := -1
	for i := range b.Samples {
		smp := &b.Samples[i]
		js, err := json.Marshal(smp)
		if err != nil {
			return nil, fmt.Errorf("encode samples[%d]: %w", i, err)
		}
		p, err := encodePayload(js)
		if err != nil {
			return nil, fmt.Errorf("samples[%d]: %w", i, err)
		}
		ts := smp.Time.UnixMilli()
		req.samples = append(req.samples, encodedSample{seq: smp.Seq, ts: ts, payload: p})
		req.maxSeq = max(req.maxSeq, smp.Seq)
		if latest < 0 || ts >= req.latestTS {
			latest, req.latestTS, req.latest = i, ts, js
		}
	}
	return req, nil
}

// writer commits queued batches in groups until reqs is closed.
func (s *Store) writer() {
	defer close(s.writerDone)
	group := make([]*ingestReq, 0, s.maxBatches)
	for first := range s.reqs {
		group = append(group[:0], first)
	drain:
		for len(group) < s.maxBatches {
			select {
			case r, ok := <-s.reqs:
				if !ok {
					break drain
				}
				group = append(group, r)
			default:
				break drain
			}
		}
		s.commitGroup(group)
		for _, r := range group {
			close(r.done)
		}
	}
}

// commitGroup writes a group of batches in one transaction. A batch that fails is rolled back to its savepoint
// and gets its own error; the others commit. If the commit fails, every batch gets the error.
func (s *Store) commitGroup(group []*ingestReq) {
	// The writer's context is not any caller's: one caller giving up must not abort the others' commit.
	ctx := context.Background()
	fail := func(err error) {
		for _, r := range group {
			if r.err == nil {
				r.err, r.ack = err, wire.Ack{}
			}
		}
	}
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		fail(fmt.Errorf("ingest: begin: %w", err))
		return
	}
	committed := false
	defer func() {
		if !committed {
			tx.Rollback() //nolint:errcheck // the error that brought us here is reported
		}
	}()
	st := ingestStmts{
		agentHost:    tx.StmtContext(ctx, s.ins.agentHost),
		insertHost:   tx.StmtContext(ctx, s.ins.insertHost),
		insertSample: tx.StmtContext(ctx, s.ins.insertSample),
		updateHost:   tx.StmtContext(ctx, s.ins.updateHost),
		updateAgent:  tx.StmtContext(ctx, s.ins.updateAgent),
	}
	for _, r := range group {
		if _, err := tx.ExecContext(ctx, `SAVEPOINT batch`); err != nil {
			fail(fmt.Errorf("ingest: savepoint: %w", err))
			return
		}
		r.ack, r.err = ingestOne(ctx, &st, r)
		if r.err != nil {
			if _, err := tx.ExecContext(ctx, `ROLLBACK TO batch`); err != nil {
				fail(fmt.Errorf("ingest: rollback to savepoint: %w", err))
				return
			}
		}
		if _, err := tx.ExecContext(ctx, `RELEASE batch`); err != nil {
			fail(fmt.Errorf("ingest: release savepoint: %w", err))
			return
		}
	}
	if err := tx.Commit(); err != nil {
		fail(fmt.Errorf("ingest: commit: %w", err))
		return
	}
	committed = true
}

// ingestOne writes one batch inside the group transaction.
func ingestOne(ctx context.Context, st *ingestStmts, r *ingestReq) (wire.Ack, error) {
	var revoked, hostID, latestTS sql.NullInt64
	var lastSeq int64
	var facts sql.NullString
	err := st.agentHost.QueryRowContext(ctx, r.agentID).Scan(&revoked, &lastSeq, &hostID, &facts, &latestTS)
	if errors.Is(err, sql.ErrNoRows) {
		return wire.Ack{}, ErrUnauthorized
	}
	if err != nil {
		return wire.Ack{}, fmt.Errorf("ingest: read agent: %w", err)
	}
	if revoked.Valid {
		return wire.Ack{}, ErrRevoked
	}
	now := r.receivedAt.UnixMilli()
	if !hostID.Valid {
		if err := st.insertHost.QueryRowContext(ctx, r.agentID, now, now).Scan(&hostID.Int64); err != nil {
			return wire.Ack{}, fmt.Errorf("ingest: create host: %w", err)
		}
	}
	var ack wire.Ack
	for i, smp := range r.samples {
		res, err := st.insertSample.ExecContext(ctx, hostID.Int64, int64(smp.seq), smp.ts, smp.payload)
		if err != nil {
			return wire.Ack{}, fmt.Errorf("ingest: samples[%d]: %w", i, err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			ack.Accepted++
		} else {
			ack.Duplicates++
		}
	}
	factsChanged := r.facts != nil && (!facts.Valid || facts.String != string(r.facts))
	newer := r.latest != nil && (!latestTS.Valid || r.latestTS >= latestTS.Int64)
	if _, err := st.updateHost.ExecContext(ctx, now, factsChanged, r.hostname, string(r.facts), newer,
		string(r.latest), r.latestTS, hostID.Int64); err != nil {
		return wire.Ack{}, fmt.Errorf("ingest: update host: %w", err)
	}
	skew := r.sentAt.Sub(r.receivedAt).Milliseconds()
	if r.sentAt.IsZero() {
		skew = 0
	}
	var spoolBytes, spoolRecords sql.NullInt64
	if r.spool != nil {
		spoolBytes = sql.NullInt64{Int64: r.spool.Bytes, Valid: true}
		spoolRecords = sql.NullInt64{Int64: r.spool.Records, Valid: true}
	}
	if _, err := st.updateAgent.ExecContext(ctx, now, int64(r.maxSeq), int64(r.dropped), skew, spoolBytes, spoolRecords,
		r.agentID); err != nil {
		return wire.Ack{}, fmt.Errorf("ingest: update agent: %w", err)
	}
	ack.MaxSeq = max(uint64(lastSeq), r.maxSeq)
	return ack, nil
}

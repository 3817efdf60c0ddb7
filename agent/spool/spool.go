// Package spool is the agent's crash-safe on-disk queue of samples that the server has not yet acknowledged.
//
// Records live in append-only segment files named after the sequence number of their first record
// (00000000000000000001.seg, ...); each record carries a header with a magic number, the payload length, the
// sequence number and a CRC32C of header and payload. A small state file, replaced atomically, holds the
// acknowledged position, the cumulative drop count and the highest durable sequence number.
//
// Durability policy: Append fsyncs the segment before it returns, so a record is durable at once and the
// writer needs no timer. Acknowledgements stay in memory and are written to the state file lazily, at the
// first Append at least AckInterval after the previous state write, or at Sync/Close; a crash in between only
// re-delivers records the server already has. A spool that is neither appended to nor acknowledged does nothing.
package spool

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for Options.
const (
	DefaultMaxBytes     = 64 << 20
	DefaultSegmentBytes = 4 << 20
	DefaultSyncInterval = time.Second
	DefaultAckInterval  = time.Minute
	// DefaultPeekBytes bounds Peek when it is called with maxBytes <= 0.
	DefaultPeekBytes = 1 << 20
	// MinSegmentBytes is the smallest accepted Options.SegmentBytes.
	MinSegmentBytes = 1 << 10
)

// Errors returned by the spool; test with errors.Is.
var (
	ErrClosed     = errors.New("spool closed")
	ErrOutOfOrder = errors.New("sequence number not above last")
	ErrTooLarge   = errors.New("record too large")
	ErrAckAhead   = errors.New("ack beyond last sequence number")
	ErrLocked     = errors.New("spool directory in use")
)

// Options configure a Spool; zero values take the defaults.
type Options struct {
	MaxBytes     int64 // cap on the total size of all segments; default 64 MiB
	SegmentBytes int64 // size at which a new segment is started; default min(4 MiB, MaxBytes/8)
	// SyncInterval is how long the background syncer waits before retrying a failed fsync and before persisting
	// state changes that do not come from Append or Ack (a corrupt record cut, a repaired spool); default 1s.
	SyncInterval time.Duration
	// AckInterval is the least time between two state-file writes made only to persist acknowledgements: an
	// acknowledgement is written by the first Append at least AckInterval after the previous state write (or by
	// Sync/Close). Default 1 minute; a crash loses at most that much acknowledgement progress (re-delivery only).
	AckInterval time.Duration
	Logger      *slog.Logger // default: discard
}

// Record is one spooled payload with its sequence number.
type Record struct {
	Seq  uint64
	Data []byte
}

// Stats describe the spool at one moment.
type Stats struct {
	Bytes    int64 // bytes in segment files
	Records  int64 // records not yet acknowledged
	Segments int   // segment files
	// Dropped is the cumulative number of records lost to the cap or to corruption, persisted across restarts.
	// Records a reader had peeked but not yet acknowledged when the cap deleted them count too.
	Dropped  uint64
	LastSeq  uint64 // highest sequence number ever appended
	AckedSeq uint64 // highest sequence number acknowledged
}

// segment is one segment file; size, count and last describe its valid records.
type segment struct {
	first   uint64 // from the file name
	path    string
	f       *os.File // opened lazily
	size    int64
	count   int
	last    uint64 // 0 when empty
	removed bool
}

// cursor is a position in the spool: the record at byte off of seg, which has idx records before it.
type cursor struct {
	seg *segment
	off int64
	idx int
}

// peekPos remembers where the record seq handed out by the last Peek ends, so Ack can jump there.
type peekPos struct {
	seq   uint64
	after cursor
}

// Spool is a crash-safe, size-capped, on-disk FIFO of records. It is safe for concurrent use; the intended
// pattern is one goroutine appending and one peeking and acknowledging.
type Spool struct {
	dir  string
	opts Options
	log  *slog.Logger

	mu        sync.Mutex
	segs      []*segment // oldest first
	active    *segment   // the segment appended to, always the last of segs; nil until the next Append creates one
	total     int64
	lastSeq   uint64
	st        state            // current; st.lastSeq tracks the durable sequence number
	saved     state            // as last written to disk
	dataDirty bool             // active has writes not yet fsynced
	savedAt   time.Time        // when the state file was last written
	now       func() time.Time // the clock for AckInterval; time.Now
	cur       cursor
	peeked    []peekPos
	rbuf      *bufio.Reader
	wbuf      []byte
	closed    bool
	lock      *os.File

	notify    chan struct{}
	kick      chan struct{} // arms the background sync after a failure or a change that Append will not persist
	flushes   atomic.Uint64 // background syncs run (for tests)
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// Append writes one record and fsyncs it: the record is durable when Append returns nil. seq must be above
// LastSeq. Acknowledgements older than AckInterval are persisted in the same call. When the spool would exceed
// MaxBytes, the oldest segments are deleted first, acknowledged or not, and their pending records counted as
// dropped. If only the fsync fails, the record is kept (it is in the operating system), the background syncer
// retries within SyncInterval and Append returns nil after logging the failure.
func (s *Spool) Append(seq uint64, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if seq <= s.lastSeq {
		return fmt.Errorf("spool: append seq %d (last %d): %w", seq, s.lastSeq, ErrOutOfOrder)
	}
	if limit := min(MaxRecordBytes, s.opts.SegmentBytes-HeaderSize); int64(len(data)) > limit {
		return fmt.Errorf("spool: append seq %d: %d bytes over limit %d: %w", seq, len(data), limit, ErrTooLarge)
	}
	need := HeaderSize + int64(len(data))
	if a := s.active; a != nil && a.size > 0 && a.size+need > s.opts.SegmentBytes {
		if err := s.sealLocked(); err != nil {
			return err
		}
	}
	if s.active == nil {
		if err := s.createSegmentLocked(seq); err != nil {
			return err
		}
	}
	for s.total+need > s.opts.MaxBytes && len(s.segs) > 1 {
		if err := s.dropOldestLocked(); err != nil {
			return err
		}
	}
	a := s.active
	f, err := s.fileLocked(a)
	if err != nil {
		return err
	}
	s.wbuf = appendRecord(s.wbuf[:0], seq, data)
	if _, err := f.WriteAt(s.wbuf, a.size); err != nil {
		// Cut whatever part was written; if even that fails, stop appending to this file.
		if terr := f.Truncate(a.size); terr != nil {
			s.log.Error("cannot cut failed append, sealing segment", "file", a.path, "err", terr)
			s.active = nil
			s.closeFileLocked(a)
		}
		return fmt.Errorf("spool: append seq %d: %w", seq, err)
	}
	if cap(s.wbuf) > 64<<10 {
		s.wbuf = nil
	}
	a.size += need
	a.count++
	a.last = seq
	s.total += need
	s.lastSeq = seq
	s.dataDirty = true
	// One fsync now, in the caller's wake-up, instead of a timer firing later: the agent's cycle then costs a
	// single burst of activity. The ack state is rewritten only when it is AckInterval old.
	if s.st != s.saved && s.now().Sub(s.savedAt) >= s.opts.AckInterval {
		err = s.flushLocked()
	} else {
		err = s.syncDataLocked()
	}
	if err != nil {
		s.log.Error("sync after append failed, retrying in the background", "seq", seq, "err", err)
		s.armLocked()
	}
	select {
	case s.notify <- struct{}{}:
	default:
	}
	return nil
}

// syncDataLocked fsyncs the active segment when it has writes not yet on disk.
func (s *Spool) syncDataLocked() error {
	if s.dataDirty && s.active != nil && s.active.f != nil {
		if err := s.active.f.Sync(); err != nil {
			return fmt.Errorf("spool: sync %s: %w", s.active.path, err)
		}
	}
	s.dataDirty = false
	return nil
}

// armLocked asks the background syncer to flush within SyncInterval. It never blocks. Only failures and rare
// repairs arm it: appends sync themselves and acknowledgements wait for an append, so neither an idle spool nor
// one in the steady append/ack rhythm runs a timer.
func (s *Spool) armLocked() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Notify returns a channel that receives a value after records were appended (one value may stand for many
// appends). It is never closed.
func (s *Spool) Notify() <-chan struct{} { return s.notify }

// Peek returns the oldest records not yet acknowledged, without consuming them: at most maxRecords records
// (no count limit when <= 0) and at most maxBytes payload bytes (DefaultPeekBytes when <= 0), but always at
// least one record when any is pending. The result is empty, not nil, when nothing is pending. The returned
// Data slices belong to the caller.
func (s *Spool) Peek(maxRecords int, maxBytes int) ([]Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if maxBytes <= 0 {
		maxBytes = DefaultPeekBytes
	}
	if err := s.advanceLocked(); err != nil {
		return nil, err
	}
	out := []Record{}
	s.peeked = s.peeked[:0]
	pos := s.cur
	var (
		bytes   int
		rseg    *segment // the segment s.rbuf reads
		prevSeq uint64   // seq of the previous record in rseg, or the floor at the cursor
		hb      [HeaderSize]byte
	)
	for maxRecords <= 0 || len(out) < maxRecords {
		pos = s.nextLocked(pos)
		if pos.seg == nil || pos.off >= pos.seg.size {
			break
		}
		if rseg != pos.seg {
			f, err := s.fileLocked(pos.seg)
			if err != nil {
				return nil, err
			}
			s.rbuf.Reset(io.NewSectionReader(f, pos.off, pos.seg.size-pos.off))
			rseg = pos.seg
			prevSeq = 0
			if pos.idx > 0 {
				prevSeq = s.st.floor()
			}
		}
		h, err := s.peekHeader(pos, &hb)
		if err == nil && len(out) > 0 && bytes+int(h.length) > maxBytes {
			break
		}
		var data []byte
		if err == nil {
			data = make([]byte, h.length)
			if _, err = s.rbuf.Discard(HeaderSize); err == nil {
				_, err = io.ReadFull(s.rbuf, data)
			}
		}
		if err == nil {
			err = checkRecord(h, hb[:], data, prevSeq)
		}
		if err != nil {
			if cerr := s.cutLocked(pos, prevSeq, err); cerr != nil {
				return nil, cerr
			}
			rseg = nil
			continue
		}
		out = append(out, Record{Seq: h.seq, Data: data})
		bytes += len(data)
		prevSeq = h.seq
		pos.off += h.size()
		pos.idx++
		s.peeked = append(s.peeked, peekPos{seq: h.seq, after: pos})
	}
	return out, nil
}

// peekHeader reads the header at pos from s.rbuf without consuming it.
func (s *Spool) peekHeader(pos cursor, hb *[HeaderSize]byte) (header, error) {
	return loadHeader(hb, pos.off, pos.seg.size, func(b []byte) error {
		p, err := s.rbuf.Peek(len(b))
		copy(b, p)
		return err
	})
}

// checkRecord verifies the checksum and the order of a record read from disk.
func checkRecord(h header, hb, data []byte, prevSeq uint64) error {
	if !h.verify(hb, data) {
		return errors.New("checksum mismatch")
	}
	if h.seq <= prevSeq {
		return fmt.Errorf("seq %d not above previous %d", h.seq, prevSeq)
	}
	return nil
}

// Ack marks every record with a sequence number up to and including seq as delivered. Acknowledging an
// already acknowledged seq is a no-op; seq above LastSeq is an error. The acknowledgement is kept in memory and
// made durable lazily (see AckInterval, Sync, Close): a crash before that only causes re-delivery. Segments
// whose records are all acknowledged are deleted once the acknowledgement is durable.
func (s *Spool) Ack(seq uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if seq > s.lastSeq {
		return fmt.Errorf("spool: ack seq %d (last %d): %w", seq, s.lastSeq, ErrAckAhead)
	}
	if seq <= s.st.acked {
		return nil
	}
	s.st.acked = seq
	for i := len(s.peeked) - 1; i >= 0; i-- {
		p := s.peeked[i]
		if p.seq > seq {
			continue
		}
		if s.validAheadLocked(p.after) {
			s.cur = p.after
		}
		s.peeked = s.peeked[:copy(s.peeked, s.peeked[i+1:])]
		break
	}
	return s.advanceLocked()
}

// validAheadLocked reports whether c still points into the spool at or after the cursor.
func (s *Spool) validAheadLocked(c cursor) bool {
	if c.seg == nil || c.seg.removed || c.off > c.seg.size {
		return false
	}
	s.normalizeLocked()
	if s.cur.seg == nil {
		return false
	}
	ci, pi := s.segIndexLocked(s.cur.seg), s.segIndexLocked(c.seg)
	return pi > ci || (pi == ci && c.off >= s.cur.off)
}

// LastSeq returns the highest sequence number ever appended; it survives restarts even when every record was
// acknowledged and deleted, so callers continue numbering at LastSeq()+1.
func (s *Spool) LastSeq() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastSeq
}

// Stats returns the current figures.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.statsLocked()
}

func (s *Spool) statsLocked() Stats {
	st := Stats{
		Bytes:    s.total,
		Segments: len(s.segs),
		Dropped:  s.st.dropped,
		LastSeq:  s.lastSeq,
		AckedSeq: s.st.acked,
	}
	s.normalizeLocked()
	if s.cur.seg != nil {
		i := s.segIndexLocked(s.cur.seg)
		st.Records = int64(s.cur.seg.count - s.cur.idx)
		for _, seg := range s.segs[i+1:] {
			st.Records += int64(seg.count)
		}
	}
	return st
}

// Sync makes every appended record and the latest acknowledgement durable now and deletes acknowledged segments.
func (s *Spool) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	return s.flushLocked()
}

// Close stops the background syncer, syncs and closes the files. Further calls return ErrClosed; Close
// itself may be called more than once.
func (s *Spool) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.done
		s.mu.Lock()
		defer s.mu.Unlock()
		s.closeErr = s.flushLocked()
		for _, seg := range s.segs {
			s.closeFileLocked(seg)
		}
		if err := s.lock.Close(); err != nil && s.closeErr == nil {
			s.closeErr = fmt.Errorf("spool: unlock: %w", err)
		}
		s.closed = true
	})
	return s.closeErr
}

// syncLoop flushes SyncInterval after it is armed (see armLocked), until Close. Otherwise it waits on a
// channel: no ticker runs.
func (s *Spool) syncLoop() {
	defer close(s.done)
	t := time.NewTimer(s.opts.SyncInterval)
	t.Stop()
	armed := false
	for {
		select {
		case <-s.stop:
			t.Stop()
			return
		case <-s.kick:
			if !armed {
				t.Reset(s.opts.SyncInterval)
				armed = true
			}
		case <-t.C:
			armed = false
			s.mu.Lock()
			err := s.flushLocked()
			if err != nil {
				s.log.Error("background sync failed", "err", err)
				s.armLocked() // retry after another SyncInterval
			}
			s.mu.Unlock()
			s.flushes.Add(1)
		}
	}
}

// flushLocked fsyncs the active segment, writes the state when it changed and deletes the segments whose
// records are all at or below the durable floor (never the active segment).
func (s *Spool) flushLocked() error {
	if err := s.syncDataLocked(); err != nil {
		return err
	}
	s.st.lastSeq = s.lastSeq
	if s.st != s.saved {
		if err := s.writeStateLocked(); err != nil {
			return err
		}
	}
	floor := s.saved.floor()
	removed := false
	for len(s.segs) > 0 {
		seg := s.segs[0]
		if seg == s.active || seg.last > floor {
			break
		}
		if err := s.removeOldestLocked(); err != nil {
			return err
		}
		removed = true
	}
	if removed {
		if err := syncDir(s.dir); err != nil {
			return fmt.Errorf("spool: %w", err)
		}
	}
	return nil
}

// writeStateLocked writes s.st to the state file and records it as saved.
func (s *Spool) writeStateLocked() error {
	if err := writeState(s.dir, s.st); err != nil {
		return err
	}
	s.saved = s.st
	s.savedAt = s.now()
	return nil
}

// sealLocked fsyncs the active segment and stops appending to it.
func (s *Spool) sealLocked() error {
	a := s.active
	if a.f != nil && s.dataDirty {
		if err := a.f.Sync(); err != nil {
			return fmt.Errorf("spool: sync %s: %w", a.path, err)
		}
	}
	s.dataDirty = false
	s.active = nil
	if s.cur.seg != a {
		s.closeFileLocked(a)
	}
	return nil
}

// createSegmentLocked starts a new active segment whose first record will have seq first.
func (s *Spool) createSegmentLocked(first uint64) error {
	path := s.dir + string(os.PathSeparator) + segmentName(first)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("spool: create segment: %w", err)
	}
	if err := syncDir(s.dir); err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		return fmt.Errorf("spool: create segment: %w", err)
	}
	seg := &segment{first: first, path: path, f: f}
	s.segs = append(s.segs, seg)
	s.active = seg
	return nil
}

// dropOldestLocked deletes the oldest segment to respect the cap, counting its pending records as dropped.
// The new drop count is made durable before the file is deleted, so a crash can never lose the count.
func (s *Spool) dropOldestLocked() error {
	seg := s.segs[0]
	s.normalizeLocked()
	lost := 0
	if s.cur.seg == seg {
		lost = seg.count - s.cur.idx
	}
	if lost > 0 {
		s.st.dropped += uint64(lost)
		s.st.dropThrough = max(s.st.dropThrough, seg.last)
		if err := s.writeStateLocked(); err != nil {
			s.st = s.saved
			return err
		}
		s.log.Warn("spool over its cap, dropped the oldest unacknowledged records",
			"file", seg.path, "records", lost, "first_seq", seg.first, "last_seq", seg.last,
			"dropped_total", s.st.dropped)
	}
	if err := s.removeOldestLocked(); err != nil {
		return err
	}
	if err := syncDir(s.dir); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}

// removeOldestLocked deletes the first segment file and fixes up the cursor.
func (s *Spool) removeOldestLocked() error {
	seg := s.segs[0]
	s.closeFileLocked(seg)
	if err := os.Remove(seg.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("spool: remove segment: %w", err)
	}
	seg.removed = true
	s.total -= seg.size
	s.segs[0] = nil
	s.segs = s.segs[1:]
	if s.active == seg {
		s.active = nil
		s.dataDirty = false
	}
	s.normalizeLocked()
	return nil
}

// cutLocked handles a record found corrupt at pos after Open (the file changed under us): the segment is
// truncated there, its remaining records are counted as dropped and appends move to a new segment.
// prevSeq is the seq of the last intact record before pos in the segment (or a bound on it).
func (s *Spool) cutLocked(pos cursor, prevSeq uint64, cause error) error {
	seg := pos.seg
	lost := seg.count - pos.idx
	s.log.Error("corrupt record in spool, cutting the segment", "file", seg.path, "offset", pos.off,
		"records_lost", lost, "err", cause)
	if seg == s.active {
		if err := s.sealLocked(); err != nil {
			return err
		}
	}
	f, err := s.fileLocked(seg)
	if err != nil {
		return err
	}
	if err := f.Truncate(pos.off); err != nil {
		return fmt.Errorf("spool: cut %s: %w", seg.path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("spool: cut %s: %w", seg.path, err)
	}
	s.total -= seg.size - pos.off
	seg.size = pos.off
	seg.count = pos.idx
	seg.last = 0
	if pos.idx > 0 {
		seg.last = prevSeq
	}
	s.st.dropped += uint64(lost)
	s.st.lossThrough = max(s.st.lossThrough, s.lastSeq)
	s.armLocked()
	return nil
}

// advanceLocked moves the cursor past records at or below the floor, so that it rests on the first pending
// record (or the end of the data).
func (s *Spool) advanceLocked() error {
	floor := s.st.floor()
	prev := uint64(0)
	var hb [HeaderSize]byte
	for {
		s.normalizeLocked()
		c := s.cur
		if c.seg == nil || c.off >= c.seg.size {
			return nil
		}
		f, err := s.fileLocked(c.seg)
		if err != nil {
			return err
		}
		h, err := loadHeader(&hb, c.off, c.seg.size, func(b []byte) error {
			_, err := f.ReadAt(b, c.off)
			return err
		})
		if err == nil && h.seq <= prev {
			err = fmt.Errorf("seq %d not above previous %d", h.seq, prev)
		}
		if err != nil {
			// Every record before the cursor is at or below the floor: a bound for the segment's last seq.
			last := prev
			if last == 0 {
				last = floor
			}
			if cerr := s.cutLocked(c, last, err); cerr != nil {
				return cerr
			}
			prev = 0
			continue
		}
		if h.seq > floor {
			return nil
		}
		prev = h.seq
		s.cur.off += h.size()
		s.cur.idx++
	}
}

// normalizeLocked makes the cursor point at a live segment, moving past the end of sealed segments.
func (s *Spool) normalizeLocked() {
	if s.cur.seg == nil || s.cur.seg.removed {
		s.cur = cursor{}
		if len(s.segs) > 0 {
			s.cur.seg = s.segs[0]
		}
	}
	s.cur = s.nextLocked(s.cur)
}

// nextLocked moves c from the end of a segment to the start of the following one, if any.
func (s *Spool) nextLocked(c cursor) cursor {
	for c.seg != nil && c.off >= c.seg.size {
		i := s.segIndexLocked(c.seg)
		if i < 0 || i+1 >= len(s.segs) {
			break
		}
		c = cursor{seg: s.segs[i+1]}
	}
	return c
}

// segIndexLocked returns the index of seg in s.segs, or -1.
func (s *Spool) segIndexLocked(seg *segment) int {
	for i, x := range s.segs {
		if x == seg {
			return i
		}
	}
	return -1
}

// fileLocked returns the open file of seg, opening it when needed.
func (s *Spool) fileLocked(seg *segment) (*os.File, error) {
	if seg.f != nil {
		return seg.f, nil
	}
	f, err := os.OpenFile(seg.path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("spool: open segment: %w", err)
	}
	seg.f = f
	return f, nil
}

func (s *Spool) closeFileLocked(seg *segment) {
	if seg.f != nil {
		if err := seg.f.Close(); err != nil {
			s.log.Warn("close segment", "file", seg.path, "err", err)
		}
		seg.f = nil
	}
}

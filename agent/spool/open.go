package spool

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Open opens (creating it if needed) the spool in dir. It scans every segment: a torn or corrupt tail is cut
// off, corruption inside an older segment drops the rest of that segment (counted in Stats.Dropped), and
// segments that are fully acknowledged are deleted. A lock file keeps a second Spool, in this process or
// another, out of dir (ErrLocked); on platforms without flock (Windows) the lock is not enforced.
func Open(dir string, opts Options) (*Spool, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	log := opts.Logger.With("component", "spool", "dir", dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: open: %w", err)
	}
	s := &Spool{
		dir:    dir,
		opts:   opts,
		log:    log,
		rbuf:   bufio.NewReaderSize(nil, 64<<10),
		notify: make(chan struct{}, 1),
		kick:   make(chan struct{}, 1),
		now:    time.Now,
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	if s.lock, err = lockDir(filepath.Join(dir, lockName)); err != nil {
		return nil, err
	}
	if err := s.load(); err != nil {
		for _, seg := range s.segs {
			s.closeFileLocked(seg)
		}
		_ = s.lock.Close()
		return nil, err
	}
	go s.syncLoop()
	return s, nil
}

func (o Options) withDefaults() (Options, error) {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = max(MinSegmentBytes, min(DefaultSegmentBytes, o.MaxBytes/8))
	}
	if o.SegmentBytes < MinSegmentBytes {
		return o, fmt.Errorf("spool: segment bytes %d below minimum %d", o.SegmentBytes, MinSegmentBytes)
	}
	if o.MaxBytes < 2*o.SegmentBytes {
		return o, fmt.Errorf("spool: max bytes %d must be at least twice segment bytes %d", o.MaxBytes, o.SegmentBytes)
	}
	if o.SyncInterval <= 0 {
		o.SyncInterval = DefaultSyncInterval
	}
	if o.AckInterval <= 0 {
		o.AckInterval = DefaultAckInterval
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// load reads the state file and scans the segments (see Open).
func (s *Spool) load() error {
	st, err := readState(s.dir)
	if err != nil {
		// A damaged state file costs re-delivery of acknowledged records, not data.
		s.log.Error("spool state unreadable, starting from the segments alone", "err", err)
		st = state{}
	}
	if err := os.Remove(filepath.Join(s.dir, stateTmpName)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("spool: open: %w", err)
	}
	segs, err := s.listSegments()
	if err != nil {
		return err
	}
	s.segs = segs
	floor := st.floor()
	orig := st
	type cut struct {
		seg *segment
		at  int64
	}
	var cuts []cut
	var maxGood uint64
	for i, seg := range segs {
		f, err := s.fileLocked(seg)
		if err != nil {
			return err
		}
		fi, err := f.Stat()
		if err != nil {
			return fmt.Errorf("spool: open: %w", err)
		}
		prev := max(maxGood, seg.first-1)
		if seg.first == 0 {
			prev = maxGood
		}
		valid, count, last, bad := scanSegment(s.rbuf, f, fi.Size(), prev)
		seg.size, seg.count, seg.last = valid, count, last
		if count > 0 {
			maxGood = last
		}
		if bad != nil {
			cuts = append(cuts, cut{seg, valid})
			if i+1 < len(segs) {
				// The records after the damage are gone: count the seqs missing up to the next segment.
				good := max(prev, last, floor)
				var lost uint64
				if next := segs[i+1].first; next > 0 && next-1 > good {
					lost = next - 1 - good
				}
				st.dropped += lost
				s.log.Error("corrupt record inside an older spool segment, skipping the rest of it",
					"file", seg.path, "offset", valid, "size", fi.Size(), "records_lost", lost, "err", bad)
			} else {
				s.log.Warn("torn or corrupt tail in the last spool segment, cutting it",
					"file", seg.path, "offset", valid, "size", fi.Size(), "err", bad)
			}
		}
	}
	// Records that were durable when the state was written but are no longer on disk.
	if good := max(maxGood, floor, st.lossThrough); st.lastSeq > good {
		lost := st.lastSeq - good
		st.dropped += lost
		st.lossThrough = st.lastSeq
		s.log.Error("durable spool records missing after the last intact record, counting them as dropped",
			"first_seq", good+1, "last_seq", st.lastSeq, "records_lost", lost)
	}
	s.lastSeq = max(st.lastSeq, maxGood)
	for _, seg := range segs {
		s.total += seg.size
	}
	// Count first, then cut: a crash in between may count a loss twice but never forgets one.
	if st != orig {
		if err := writeState(s.dir, st); err != nil {
			return err
		}
	}
	for _, c := range cuts {
		if err := c.seg.f.Truncate(c.at); err != nil {
			return fmt.Errorf("spool: cut %s: %w", c.seg.path, err)
		}
		if err := c.seg.f.Sync(); err != nil {
			return fmt.Errorf("spool: cut %s: %w", c.seg.path, err)
		}
	}
	s.st, s.saved = st, st
	s.savedAt = s.now()
	// Delete empty and fully acknowledged segments; the state saying so is already durable.
	removed := false
	for i := 0; i < len(s.segs); {
		seg := s.segs[i]
		if seg.count > 0 && seg.last > floor {
			i++
			continue
		}
		s.closeFileLocked(seg)
		if err := os.Remove(seg.path); err != nil {
			return fmt.Errorf("spool: remove segment: %w", err)
		}
		seg.removed = true
		s.total -= seg.size
		s.segs = slices.Delete(s.segs, i, i+1)
		removed = true
	}
	if removed {
		if err := syncDir(s.dir); err != nil {
			return fmt.Errorf("spool: open: %w", err)
		}
	}
	for _, seg := range s.segs[:max(0, len(s.segs)-1)] {
		s.closeFileLocked(seg)
	}
	if n := len(s.segs); n > 0 {
		last := s.segs[n-1]
		// What a killed process wrote may still sit in the page cache only.
		if err := last.f.Sync(); err != nil {
			return fmt.Errorf("spool: sync %s: %w", last.path, err)
		}
		if last.size < s.opts.SegmentBytes {
			s.active = last
		} else {
			s.closeFileLocked(last)
		}
	}
	s.st.lastSeq = s.lastSeq
	if err := s.advanceLocked(); err != nil {
		return err
	}
	if s.st != s.saved || s.dataDirty {
		s.armLocked()
	}
	st2 := s.statsLocked()
	if st2.Records > 0 {
		s.notify <- struct{}{}
	}
	s.log.Info("spool opened", "segments", st2.Segments, "bytes", st2.Bytes, "pending", st2.Records,
		"last_seq", st2.LastSeq, "acked_seq", st2.AckedSeq, "dropped", st2.Dropped)
	return nil
}

// readState reads the state file; a missing file is the zero state.
func readState(dir string) (state, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateName))
	if errors.Is(err, os.ErrNotExist) {
		return state{}, nil
	}
	if err != nil {
		return state{}, fmt.Errorf("read state: %w", err)
	}
	st, err := unmarshalState(b)
	if err != nil {
		return state{}, fmt.Errorf("state file %s: %w", filepath.Join(dir, stateName), err)
	}
	return st, nil
}

// listSegments returns the segment files in dir ordered by their first seq.
func (s *Spool) listSegments() ([]*segment, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("spool: open: %w", err)
	}
	var segs []*segment
	for _, e := range entries {
		name := e.Name()
		base, ok := strings.CutSuffix(name, segExt)
		if !ok || !e.Type().IsRegular() {
			continue
		}
		first, err := strconv.ParseUint(base, 10, 64)
		if err != nil {
			s.log.Warn("ignoring file with a malformed segment name", "file", name)
			continue
		}
		segs = append(segs, &segment{first: first, path: filepath.Join(s.dir, name)})
	}
	slices.SortFunc(segs, func(a, b *segment) int {
		switch {
		case a.first < b.first:
			return -1
		case a.first > b.first:
			return 1
		}
		return 0
	})
	return segs, nil
}

// scanSegment reads the records of r (size bytes) and returns the length of the intact prefix, the number
// of records in it, the last seq, and the reason the scan stopped early (nil when the whole file is intact).
// Every seq must be above prev and above the one before it.
func scanSegment(br *bufio.Reader, r io.ReaderAt, size int64, prev uint64) (valid int64, count int, last uint64, bad error) {
	br.Reset(io.NewSectionReader(r, 0, size))
	var hb [HeaderSize]byte
	var buf []byte
	for valid < size {
		h, err := loadHeader(&hb, valid, size, func(b []byte) error {
			_, err := io.ReadFull(br, b)
			return err
		})
		if err != nil {
			return valid, count, last, err
		}
		if cap(buf) < int(h.length) {
			buf = make([]byte, h.length)
		}
		buf = buf[:h.length]
		if _, err := io.ReadFull(br, buf); err != nil {
			return valid, count, last, fmt.Errorf("read payload: %w", err)
		}
		if err := checkRecord(h, hb[:], buf, prev); err != nil {
			return valid, count, last, err
		}
		valid += h.size()
		count++
		last, prev = h.seq, h.seq
	}
	return valid, count, last, nil
}

package spool

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestPeekAckRoundTrip(t *testing.T) {
	cases := []struct {
		name     string
		n        uint64
		maxRecs  int
		maxBytes int
		want     []uint64
	}{
		{"empty", 0, 10, 0, nil},
		{"all", 5, 0, 0, seqRange(1, 5)},
		{"count limit", 5, 2, 0, seqRange(1, 2)},
		{"byte limit", 5, 0, len(payload(1)) + len(payload(2)), seqRange(1, 2)},
		{"byte limit just short", 5, 0, len(payload(1)) + len(payload(2)) - 1, seqRange(1, 1)},
		{"first record over budget still comes", 3, 0, 1, seqRange(1, 1)},
		{"across segments", 200, 0, 0, seqRange(1, 200)},
		{"across segments with limit", 200, 150, 0, seqRange(1, 150)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := openT(t, t.TempDir(), small())
			appendRange(t, s, 1, tc.n)
			recs, err := s.Peek(tc.maxRecs, tc.maxBytes)
			if err != nil {
				t.Fatal(err)
			}
			if recs == nil {
				t.Fatal("Peek returned nil, want an empty slice")
			}
			checkRecords(t, recs, tc.want)
			again, err := s.Peek(tc.maxRecs, tc.maxBytes)
			if err != nil {
				t.Fatal(err)
			}
			checkRecords(t, again, tc.want) // Peek does not consume
			if len(recs) == 0 {
				return
			}
			last := recs[len(recs)-1].Seq
			if err := s.Ack(last); err != nil {
				t.Fatal(err)
			}
			checkRecords(t, peekAll(t, s), seqRange(last+1, tc.n))
			if st := s.Stats(); st.Records != int64(tc.n-last) || st.AckedSeq != last || st.LastSeq != tc.n {
				t.Fatalf("stats %+v, want %d records, acked %d, last %d", st, tc.n-last, last, tc.n)
			}
		})
	}
}

func TestAckPatterns(t *testing.T) {
	cases := []struct {
		name   string
		n      uint64
		peek   int      // records per Peek before acking, 0 = ack without peeking
		acks   []uint64 // acknowledged in order
		remain []uint64
	}{
		{"ack without peek", 50, 0, []uint64{17}, seqRange(18, 50)},
		{"ack part of a peek", 50, 10, []uint64{4}, seqRange(5, 50)},
		{"ack beyond the peek", 50, 10, []uint64{33}, seqRange(34, 50)},
		{"ack twice and backwards", 50, 10, []uint64{10, 3, 10}, seqRange(11, 50)},
		{"ack everything", 200, 30, []uint64{30, 60, 200}, nil},
		{"ack into a later segment", 200, 5, []uint64{5, 120}, seqRange(121, 200)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, _ := openT(t, dir, small())
			appendRange(t, s, 1, tc.n)
			for _, a := range tc.acks {
				if tc.peek > 0 {
					if _, err := s.Peek(tc.peek, 0); err != nil {
						t.Fatal(err)
					}
				}
				if err := s.Ack(a); err != nil {
					t.Fatalf("Ack(%d): %v", a, err)
				}
			}
			checkRecords(t, peekAll(t, s), tc.remain)
			if got := s.Stats().Records; got != int64(len(tc.remain)) {
				t.Fatalf("Stats.Records %d, want %d", got, len(tc.remain))
			}
			// Once the acknowledgement is durable, fully acknowledged segments are gone.
			if err := s.Sync(); err != nil {
				t.Fatal(err)
			}
			files := segFiles(t, dir)
			if len(files) != s.Stats().Segments {
				t.Fatalf("%d segment files, Stats says %d", len(files), s.Stats().Segments)
			}
			for _, f := range files[:len(files)-1] { // the active segment may stay
				lay := fileLayout(t, f)
				if last := lay[len(lay)-1].seq; len(tc.remain) == 0 || last < tc.remain[0] {
					t.Fatalf("segment %s (last seq %d) is fully acknowledged but still there", f, last)
				}
			}
		})
	}
}

func TestErrors(t *testing.T) {
	s, _ := openT(t, t.TempDir(), small())
	appendRange(t, s, 1, 3)
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"append same seq", s.Append(3, []byte("x")), ErrOutOfOrder},
		{"append lower seq", s.Append(1, []byte("x")), ErrOutOfOrder},
		{"append too large", s.Append(4, make([]byte, MinSegmentBytes)), ErrTooLarge},
		{"ack ahead", s.Ack(4), ErrAckAhead},
	}
	for _, tc := range cases {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: error %v, want %v", tc.name, tc.err, tc.want)
		}
	}
	// Nothing was lost or changed by the rejected calls.
	checkRecords(t, peekAll(t, s), seqRange(1, 3))
	if err := s.Append(10, payload(10)); err != nil { // gaps are allowed, order is required
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for name, err := range map[string]error{
		"append": s.Append(11, nil),
		"ack":    s.Ack(1),
		"sync":   s.Sync(),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
	if _, err := s.Peek(1, 0); !errors.Is(err, ErrClosed) {
		t.Errorf("peek after Close: %v, want ErrClosed", err)
	}
}

func TestOptions(t *testing.T) {
	cases := []struct {
		name    string
		opts    Options
		wantErr string
		wantSeg int64
	}{
		{"defaults", Options{}, "", DefaultSegmentBytes},
		{"small cap shrinks segments", Options{MaxBytes: 1 << 20}, "", 128 << 10},
		{"segment too small", Options{SegmentBytes: 100}, "segment bytes 100", 0},
		{"cap below two segments", Options{MaxBytes: 3 << 10, SegmentBytes: 2 << 10}, "max bytes 3072", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(t.TempDir(), tc.opts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Open: %v, want error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.opts.SegmentBytes != tc.wantSeg {
				t.Fatalf("segment bytes %d, want %d", s.opts.SegmentBytes, tc.wantSeg)
			}
		})
	}
}

func TestRestart(t *testing.T) {
	dir := t.TempDir()
	reopen := func(s *Spool) *Spool {
		t.Helper()
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s2, _ := openT(t, dir, small())
		return s2
	}
	s, _ := openT(t, dir, small())
	appendRange(t, s, 1, 120)
	if err := s.Ack(7); err != nil {
		t.Fatal(err)
	}
	s = reopen(s)
	checkRecords(t, peekAll(t, s), seqRange(8, 120))
	if st := s.Stats(); st.LastSeq != 120 || st.AckedSeq != 7 || st.Records != 113 {
		t.Fatalf("after restart: %+v", st)
	}
	appendRange(t, s, 121, 125)
	s = reopen(s)
	checkRecords(t, peekAll(t, s), seqRange(8, 125))

	// Everything acknowledged: every segment goes, LastSeq stays.
	if err := s.Ack(125); err != nil {
		t.Fatal(err)
	}
	s = reopen(s)
	if files := segFiles(t, dir); len(files) != 0 {
		t.Fatalf("segments left after everything was acknowledged: %v", files)
	}
	for range 2 {
		if got := s.LastSeq(); got != 125 {
			t.Fatalf("LastSeq %d, want 125", got)
		}
		checkRecords(t, peekAll(t, s), nil)
		s = reopen(s)
	}
	if err := s.Append(125, payload(125)); !errors.Is(err, ErrOutOfOrder) {
		t.Fatalf("reusing seq 125: %v", err)
	}
	appendRange(t, s, 126, 130)
	s = reopen(s)
	checkRecords(t, peekAll(t, s), seqRange(126, 130))
}

// An acknowledgement becomes durable at Sync, or with the first Append at least AckInterval after the last
// state write, without Close: a process that dies afterwards does not re-deliver; one that dies before
// re-delivers but loses nothing.
func TestAckDurability(t *testing.T) {
	cases := []struct {
		name    string
		sync    bool
		advance time.Duration // clock step before the append of record 21; < 0: no append
		want    []uint64
	}{
		{"no sync: re-delivery", false, -1, seqRange(1, 20)},
		{"explicit sync", true, -1, seqRange(11, 20)},
		{"append within AckInterval: re-delivery", false, 0, seqRange(1, 21)},
		{"append after AckInterval", false, time.Minute, seqRange(11, 21)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := small()
			opts.AckInterval = time.Minute
			s, _ := openT(t, dir, opts)
			clock := setClock(s)
			appendRange(t, s, 1, 20)
			if err := s.Sync(); err != nil {
				t.Fatal(err)
			}
			if err := s.Ack(10); err != nil {
				t.Fatal(err)
			}
			if tc.sync {
				if err := s.Sync(); err != nil {
					t.Fatal(err)
				}
			}
			if tc.advance >= 0 {
				clock.add(tc.advance)
				appendRange(t, s, 21, 21)
			}
			// Read the directory as a restarted process would while s is abandoned (not closed).
			s2, _ := openT(t, copyDir(t, dir), small())
			checkRecords(t, peekAll(t, s2), tc.want)
		})
	}
}

// fakeClock is a settable clock for AckInterval.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// setClock gives s a fake clock that starts at the time of its last state write.
func setClock(s *Spool) *fakeClock {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := &fakeClock{t: s.savedAt}
	s.now = c.now
	return c
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCap(t *testing.T) {
	const (
		payloadLen = 100
		perRecord  = HeaderSize + payloadLen
		perSeg     = 2048 / perRecord // records per segment
	)
	data := func(seq uint64) []byte {
		b := make([]byte, payloadLen)
		copy(b, payload(seq))
		return b
	}
	cases := []struct {
		name  string
		acked uint64 // acknowledged after the first 60 appends
	}{
		{"nothing acknowledged", 0},
		{"part of the first segment acknowledged", 5},
		{"first segment acknowledged", perSeg},
		{"several segments acknowledged", 40},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{MaxBytes: 8 << 10, SegmentBytes: 2 << 10, SyncInterval: time.Hour}
			s, logs := openT(t, dir, opts)
			minKept, _ := Retention(opts, payloadLen, time.Second)
			const n = 300
			for seq := uint64(1); seq <= n; seq++ {
				if err := s.Append(seq, data(seq)); err != nil {
					t.Fatal(err)
				}
				if seq == 60 && tc.acked > 0 {
					if err := s.Ack(tc.acked); err != nil {
						t.Fatal(err)
					}
					if err := s.Sync(); err != nil {
						t.Fatal(err)
					}
				}
				st := s.Stats()
				if st.Bytes > opts.MaxBytes {
					t.Fatalf("after seq %d: %d bytes over cap %d", seq, st.Bytes, opts.MaxBytes)
				}
				if st.Dropped > 0 && st.Records < minKept {
					t.Fatalf("after seq %d: %d records kept, Retention promises %d", seq, st.Records, minKept)
				}
			}
			check := func(s *Spool) {
				t.Helper()
				st := s.Stats()
				recs := peekAll(t, s)
				if len(recs) == 0 || recs[len(recs)-1].Seq != n {
					t.Fatalf("pending records do not end at %d", n)
				}
				first := recs[0].Seq
				for i, r := range recs {
					if r.Seq != first+uint64(i) {
						t.Fatalf("gap in pending records at %d", r.Seq)
					}
					if string(r.Data) != string(data(r.Seq)) {
						t.Fatalf("record %d: wrong data", r.Seq)
					}
				}
				// Every record is acknowledged, dropped or pending: exactly once.
				if want := first - 1 - tc.acked; st.Dropped != want {
					t.Fatalf("dropped %d, want %d (first pending %d, acked %d)", st.Dropped, want, first, tc.acked)
				}
				if st.Records != int64(len(recs)) || st.LastSeq != n {
					t.Fatalf("stats %+v with %d pending", st, len(recs))
				}
			}
			check(s)
			if !strings.Contains(logs.String(), "over its cap") {
				t.Fatalf("no cap warning logged:\n%s", logs)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s2, _ := openT(t, dir, opts)
			check(s2)
		})
	}
}

func TestNotify(t *testing.T) {
	dir := t.TempDir()
	s, _ := openT(t, dir, small())
	select {
	case <-s.Notify():
		t.Fatal("notified before any append")
	default:
	}
	appendRange(t, s, 1, 3)
	select {
	case <-s.Notify():
	default:
		t.Fatal("no notification after appends")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Records pending at Open are announced too, so a sender that waits on Notify starts sending.
	s2, _ := openT(t, dir, small())
	select {
	case <-s2.Notify():
	default:
		t.Fatal("no notification for records pending at Open")
	}
}

func TestCorruptState(t *testing.T) {
	dir := t.TempDir()
	s, _ := openT(t, dir, small())
	appendRange(t, s, 1, 30)
	if err := s.Ack(3); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, stateName)
	b := readFile(t, path)
	b[10] ^= 0xff
	writeFile(t, path, b)
	s2, logs := openT(t, dir, small())
	// The acknowledgement is forgotten: re-delivery, never loss.
	checkRecords(t, peekAll(t, s2), seqRange(1, 30))
	if s2.LastSeq() != 30 {
		t.Fatalf("LastSeq %d, want 30", s2.LastSeq())
	}
	if !strings.Contains(logs.String(), "state unreadable") {
		t.Fatalf("corrupt state not logged:\n%s", logs)
	}
}

// A record damaged after Open (the file changed under the spool) is detected when read: the rest of its
// segment is dropped and counted, the following segments are still delivered, and a restart counts nothing twice.
func TestCorruptionAfterOpen(t *testing.T) {
	dir := t.TempDir()
	s, logs := openT(t, dir, small())
	appendRange(t, s, 1, 100)
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	files := segFiles(t, dir)
	lay := fileLayout(t, files[1])
	victim := lay[3] // fourth record of the second segment
	f, err := os.OpenFile(files[1], os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{0xee}, victim.start+HeaderSize+2); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	lostTo := lay[len(lay)-1].seq
	var want []uint64
	for seq := uint64(1); seq <= 100; seq++ {
		if seq < victim.seq || seq > lostTo {
			want = append(want, seq)
		}
	}
	checkRecords(t, peekAll(t, s), want)
	wantDropped := lostTo - victim.seq + 1
	if st := s.Stats(); st.Dropped != wantDropped || st.Records != int64(len(want)) {
		t.Fatalf("stats %+v, want dropped %d, records %d", st, wantDropped, len(want))
	}
	if !strings.Contains(logs.String(), "corrupt record") {
		t.Fatalf("corruption not logged:\n%s", logs)
	}
	appendRange(t, s, 101, 101)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, _ := openT(t, dir, small())
	checkRecords(t, peekAll(t, s2), append(want, 101))
	if st := s2.Stats(); st.Dropped != wantDropped {
		t.Fatalf("after restart dropped %d, want %d", st.Dropped, wantDropped)
	}
}

func TestDirectoryLock(t *testing.T) {
	dir := t.TempDir()
	s, _ := openT(t, dir, small())
	if _, err := Open(dir, small()); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open of a spool in use: %v, want ErrLocked", err)
	}
	appendRange(t, s, 1, 2)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, _ := openT(t, dir, small())
	checkRecords(t, peekAll(t, s2), seqRange(1, 2))
}

// No background work in the steady state: an idle spool arms no timer and does no fsync; an appended record
// is durable when Append returns, without Sync, Close or a background sync; an acknowledgement arms nothing
// and is persisted by the first Append at least AckInterval later.
func TestNoBackgroundWorkInSteadyState(t *testing.T) {
	dir := t.TempDir()
	opts := small()
	opts.SyncInterval = 20 * time.Millisecond
	opts.AckInterval = time.Minute
	s, _ := openT(t, dir, opts)
	clock := setClock(s)
	idle := func() {
		t.Helper()
		time.Sleep(10 * opts.SyncInterval)
		if n := s.flushes.Load(); n != 0 {
			t.Fatalf("background syncs %d after an idle spell, want 0", n)
		}
	}
	durable := func(want []uint64) {
		t.Helper()
		s.mu.Lock()
		dirty := s.dataDirty
		s.mu.Unlock()
		if dirty {
			t.Fatal("appended data not fsynced when Append returned")
		}
		// The directory as a restarted process would see it while s is abandoned (not closed).
		s2, _ := openT(t, copyDir(t, dir), small())
		checkRecords(t, peekAll(t, s2), want)
	}
	idle()
	if _, err := os.Stat(filepath.Join(dir, stateName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("idle new spool wrote a state file: %v", err)
	}
	appendRange(t, s, 1, 5)
	durable(seqRange(1, 5))
	idle()
	if err := s.Ack(3); err != nil {
		t.Fatal(err)
	}
	idle()
	durable(seqRange(1, 5)) // the ack is not on disk yet: re-delivery only
	clock.add(opts.AckInterval - time.Second)
	appendRange(t, s, 6, 6)
	durable(seqRange(1, 6)) // too soon for another state write
	clock.add(time.Second)
	appendRange(t, s, 7, 7)
	durable(seqRange(4, 7))
	idle()
}

package spool

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// buildSpool appends 1..n to a fresh spool with small segments, closes it and returns the directory.
// It also returns the state file as it was before record n was appended.
func buildSpool(t *testing.T, n uint64) (dir string, stateBefore []byte) {
	t.Helper()
	dir = t.TempDir()
	s, _ := openT(t, dir, small())
	appendRange(t, s, 1, n-1)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	stateBefore = readFile(t, filepath.Join(dir, stateName))
	s, _ = openT(t, dir, small())
	appendRange(t, s, n, n)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, stateBefore
}

// firstOfSecondSegment returns the seq that starts the second segment of a small-segment spool.
func firstOfSecondSegment(t *testing.T) uint64 {
	t.Helper()
	dir := t.TempDir()
	s, _ := openT(t, dir, small())
	for seq := uint64(1); ; seq++ {
		appendRange(t, s, seq, seq)
		if len(segFiles(t, dir)) == 2 {
			return seq
		}
	}
}

// TestTornTail cuts the last segment at every byte offset inside its last record and reopens.
// "crashed before sync": the state predates the last record, as after a power loss before the fsync: the torn
// record never counted, LastSeq goes back and its seq is reused. "damaged after sync": the state already
// covers the record, which is lost: it is counted as dropped and its seq is never reused.
func TestTornTail(t *testing.T) {
	boundary := firstOfSecondSegment(t)
	for _, n := range []uint64{boundary, boundary + 3} {
		for _, variant := range []string{"crashed before sync", "damaged after sync"} {
			dir, stateBefore := buildSpool(t, n)
			files := segFiles(t, dir)
			lastFile := files[len(files)-1]
			full := readFile(t, lastFile)
			lay := fileLayout(t, lastFile)
			rec := lay[len(lay)-1]
			if rec.seq != n {
				t.Fatalf("last record is %d, want %d", rec.seq, n)
			}
			snap := snapshot(t, dir)
			d := t.TempDir()
			for cut := rec.start; cut < rec.end; cut++ {
				restore(t, d, snap)
				writeFile(t, filepath.Join(d, filepath.Base(lastFile)), full[:cut])
				wantLast, wantDropped := n, uint64(1)
				if variant == "crashed before sync" {
					writeFile(t, filepath.Join(d, stateName), stateBefore)
					wantLast, wantDropped = n-1, 0
				}
				s, logs := openT(t, d, small())
				checkRecords(t, peekAll(t, s), seqRange(1, n-1))
				st := s.Stats()
				if st.LastSeq != wantLast || st.Dropped != wantDropped || st.Records != int64(n-1) {
					t.Fatalf("%s, n=%d, cut at %d of record [%d,%d): stats %+v, want last %d dropped %d",
						variant, n, cut, rec.start, rec.end, st, wantLast, wantDropped)
				}
				if cut > rec.start && !strings.Contains(logs.String(), "torn or corrupt tail") {
					t.Fatalf("cut at %d: torn tail not logged:\n%s", cut, logs)
				}
				// The torn bytes are gone from disk; appending continues cleanly after the intact prefix.
				if fi, err := os.Stat(filepath.Join(d, filepath.Base(lastFile))); err == nil && fi.Size() != rec.start {
					t.Fatalf("cut at %d: file is %d bytes, want %d", cut, fi.Size(), rec.start)
				}
				appendRange(t, s, wantLast+1, wantLast+1)
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				s, _ = openT(t, d, small())
				checkRecords(t, peekAll(t, s), append(seqRange(1, n-1), wantLast+1))
				if st := s.Stats(); st.Dropped != wantDropped {
					t.Fatalf("cut at %d: dropped %d after second restart, want %d", cut, st.Dropped, wantDropped)
				}
				_ = s.Close()
			}
		}
	}
}

// TestBitFlip damages segment bytes one at a time: every header byte and the first, middle and last payload
// bytes of the first, a middle and the last record of each segment, and one header and one payload byte of
// every other record (the CRC treats all payload bytes alike; every open costs several real fsyncs).
// Damage in the last segment cuts it there; damage in an older segment drops the rest of that segment only.
// Either way exactly the records before the damage and those of the other segments come back, the lost ones
// are counted once, and LastSeq never goes back.
func TestBitFlip(t *testing.T) {
	const n = 60 // about two and a half 1 KiB segments
	dir, _ := buildSpool(t, n)
	files := segFiles(t, dir)
	if len(files) < 3 {
		t.Fatalf("want at least 3 segments, have %d", len(files))
	}
	snap := snapshot(t, dir)
	d := t.TempDir()
	for fi, file := range files {
		full := readFile(t, file)
		lay := fileLayout(t, file)
		for _, off := range flipOffsets(lay) {
			// The damaged record and everything after it in this segment are lost.
			var lostFrom, lostTo uint64
			for _, r := range lay {
				if off >= r.start && off < r.end {
					lostFrom = r.seq
				}
			}
			lostTo = lay[len(lay)-1].seq
			var want []uint64
			for seq := uint64(1); seq <= n; seq++ {
				if seq < lostFrom || seq > lostTo {
					want = append(want, seq)
				}
			}
			restore(t, d, snap)
			b := append([]byte(nil), full...)
			b[off] ^= 0xff
			writeFile(t, filepath.Join(d, filepath.Base(file)), b)
			for round := range 2 { // the second open must count nothing again
				s, logs := openT(t, d, small())
				checkRecords(t, peekAll(t, s), want)
				st := s.Stats()
				if st.LastSeq != n || st.Dropped != lostTo-lostFrom+1 {
					t.Fatalf("segment %d byte %d round %d: stats %+v, want last %d, dropped %d",
						fi, off, round, st, n, lostTo-lostFrom+1)
				}
				if round == 0 && !strings.Contains(logs.String(), "corrupt") {
					t.Fatalf("segment %d byte %d: corruption not logged", fi, off)
				}
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// flipOffsets picks the byte offsets TestBitFlip damages in a segment with layout lay.
func flipOffsets(lay []layout) []int64 {
	var out []int64
	for i, r := range lay {
		plen := r.end - r.start - HeaderSize
		if i == 0 || i == len(lay)/2 || i == len(lay)-1 {
			for off := r.start; off < r.start+HeaderSize; off++ {
				out = append(out, off)
			}
			out = append(out, r.start+HeaderSize, r.start+HeaderSize+plen/2, r.end-1)
			continue
		}
		out = append(out, r.start+int64(i)%HeaderSize, r.start+HeaderSize+int64(i)%plen)
	}
	return out
}

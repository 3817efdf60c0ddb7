package spool

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// small is a configuration with tiny segments so that tests cross segment boundaries quickly.
func small() Options {
	return Options{MaxBytes: 1 << 20, SegmentBytes: MinSegmentBytes, SyncInterval: time.Hour}
}

// openT opens a spool in dir and closes it when the test ends; logs go to the returned buffer.
func openT(t *testing.T, dir string, opts Options) (*Spool, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, logs
}

// payload is the deterministic content of record seq; lengths vary from 12 to 48 bytes.
func payload(seq uint64) []byte {
	return []byte(fmt.Sprintf("rec-%08d-%s", seq, strings.Repeat("x", int(seq%7)*6)))
}

func appendRange(t *testing.T, s *Spool, from, to uint64) {
	t.Helper()
	for seq := from; seq <= to; seq++ {
		if err := s.Append(seq, payload(seq)); err != nil {
			t.Fatalf("Append(%d): %v", seq, err)
		}
	}
}

// peekAll returns every pending record without consuming them.
func peekAll(t *testing.T, s *Spool) []Record {
	t.Helper()
	recs, err := s.Peek(0, 1<<30)
	if err != nil {
		t.Fatalf("Peek: %v", err)
	}
	return recs
}

// seqRange returns from..to inclusive (empty when to < from).
func seqRange(from, to uint64) []uint64 {
	var out []uint64
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

// checkRecords asserts that recs are exactly the records want, each with its payload.
func checkRecords(t *testing.T, recs []Record, want []uint64) {
	t.Helper()
	got := make([]uint64, len(recs))
	for i, r := range recs {
		got[i] = r.Seq
		if !bytes.Equal(r.Data, payload(r.Seq)) {
			t.Fatalf("record %d: data %q, want %q", r.Seq, r.Data, payload(r.Seq))
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("records %v\nwant    %v", got, want)
	}
}

// segFiles lists the segment files in dir, sorted.
func segFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+segExt))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(m)
	return m
}

// copyDir copies the regular files of src into a new temporary directory.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	restore(t, dst, snapshot(t, src))
	return dst
}

// snapshot reads every file of dir into memory.
func snapshot(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	snap := map[string][]byte{}
	for _, e := range entries {
		snap[e.Name()] = readFile(t, filepath.Join(dir, e.Name()))
	}
	return snap
}

// restore makes dir hold exactly the files of snap.
func restore(t *testing.T, dir string, snap map[string][]byte) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, ok := snap[e.Name()]; !ok {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, b := range snap {
		writeFile(t, filepath.Join(dir, name), b)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// layout describes where each record lies in a segment file.
type layout struct {
	seq        uint64
	start, end int64
}

// fileLayout parses an intact segment file.
func fileLayout(t *testing.T, path string) []layout {
	t.Helper()
	b := readFile(t, path)
	var out []layout
	for off := int64(0); off < int64(len(b)); {
		h, err := parseHeader(b[off : off+HeaderSize])
		if err != nil {
			t.Fatalf("%s at %d: %v", path, off, err)
		}
		out = append(out, layout{h.seq, off, off + h.size()})
		off += h.size()
	}
	return out
}

// Command spoolsize measures what a real sample costs in the agent's on-disk spool and how long the spool's
// cap lasts: it reads one sample as printed by `zhizhi-agent once`, re-encodes it as the agent does before
// spooling (json.Marshal of wire.Sample), appends it -n times to a real spool and reads the bytes on disk.
//
//	zhizhi-agent once --config agent.yaml | go run ./bench/spoolsize
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"zhizhi/agent/spool"
	"zhizhi/agent/wire"
)

func main() {
	n := flag.Int("n", 10000, "records to append")
	interval := flag.Duration("interval", 15*time.Second, "collection interval")
	maxBytes := flag.Int64("max-bytes", spool.DefaultMaxBytes, "spool cap")
	flag.Parse()
	if err := run(os.Stdin, *n, *interval, *maxBytes); err != nil {
		fmt.Fprintln(os.Stderr, "spoolsize:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, n int, interval time.Duration, maxBytes int64) error {
	raw, err := io.ReadAll(in)
	if err != nil {
		return err
	}
	var s wire.Sample
	if err := json.Unmarshal(raw, &s); err != nil {
		return fmt.Errorf("stdin is not a sample from `zhizhi-agent once`: %w", err)
	}
	dir, err := os.MkdirTemp("", "zhizhi-spoolsize-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	opts := spool.Options{MaxBytes: maxBytes}
	sp, err := spool.Open(dir, opts)
	if err != nil {
		return err
	}
	var payload int
	t0 := time.Now()
	for i := 1; i <= n; i++ {
		s.Seq = uint64(i)
		data, err := json.Marshal(s)
		if err != nil {
			return err
		}
		payload = len(data)
		if err := sp.Append(s.Seq, data); err != nil {
			return err
		}
	}
	took := time.Since(t0)
	st := sp.Stats()
	if err := sp.Close(); err != nil {
		return err
	}
	var onDisk int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			onDisk += fi.Size()
		}
		return nil
	})
	records, span := spool.Retention(opts, payload, interval)
	fmt.Printf("spool: sample from `zhizhi-agent once`: %d filesystems, %d disks, %d interfaces\n", len(s.FS), len(s.Disks), len(s.Net))
	fmt.Printf("  sample JSON (compact, as spooled)   %d B (pretty-printed input %d B)\n", payload, len(raw))
	fmt.Printf("  record on disk (header %d B)         %.1f B (%d records, %d B in segments, %d B all files)\n",
		spool.HeaderSize, float64(st.Bytes)/float64(st.Records), st.Records, st.Bytes, onDisk)
	fmt.Printf("  append incl. json.Marshal           %.1f µs per sample\n", float64(took.Microseconds())/float64(n))
	fmt.Printf("  %d MiB cap at %v                   >= %d samples = %.1f h = %.1f days (target: ~72 h)\n",
		maxBytes>>20, interval, records, span.Hours(), span.Hours()/24)
	return nil
}

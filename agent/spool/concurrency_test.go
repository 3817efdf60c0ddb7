package spool

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestConcurrentAppendPeekAck runs one appender and one sender (Peek + Ack, woken by Notify) at once, with a
// fast background syncer and a Stats poller, and checks that every record arrives once, in order, or is
// counted as dropped by the cap.
func TestConcurrentAppendPeekAck(t *testing.T) {
	cases := []struct {
		name string
		opts Options
	}{
		{"no cap pressure", Options{MaxBytes: 1 << 20, SegmentBytes: MinSegmentBytes, SyncInterval: 2 * time.Millisecond}},
		{"cap drops while reading", Options{MaxBytes: 2 * MinSegmentBytes, SegmentBytes: MinSegmentBytes, SyncInterval: 2 * time.Millisecond}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			const n = 2000
			s, _ := openT(t, t.TempDir(), tc.opts)
			var wg sync.WaitGroup
			done := make(chan struct{})
			errc := make(chan error, 3)
			wg.Go(func() {
				for seq := uint64(1); seq <= n; seq++ {
					if err := s.Append(seq, payload(seq)); err != nil {
						errc <- fmt.Errorf("append %d: %w", seq, err)
						return
					}
				}
			})
			wg.Go(func() {
				for {
					select {
					case <-done:
						return
					default:
						if st := s.Stats(); st.Records < 0 || st.Bytes > tc.opts.MaxBytes {
							errc <- fmt.Errorf("bad stats %+v", st)
							return
						}
					}
				}
			})
			var delivered uint64
			var prev uint64
			for prev < n {
				recs, err := s.Peek(7, 0)
				if err != nil {
					t.Fatal(err)
				}
				if len(recs) == 0 {
					select {
					case <-s.Notify():
					case err := <-errc:
						t.Fatal(err)
					case <-time.After(10 * time.Second):
						t.Fatalf("no progress after seq %d", prev)
					}
					continue
				}
				for _, r := range recs {
					if r.Seq <= prev {
						t.Fatalf("seq %d after %d", r.Seq, prev)
					}
					if string(r.Data) != string(payload(r.Seq)) {
						t.Fatalf("record %d: wrong data %q", r.Seq, r.Data)
					}
					prev = r.Seq
				}
				delivered += uint64(len(recs))
				if err := s.Ack(prev); err != nil {
					t.Fatal(err)
				}
			}
			close(done)
			wg.Wait()
			select {
			case err := <-errc:
				t.Fatal(err)
			default:
			}
			// Records the sender holds between Peek and Ack may also be counted as dropped when the cap deletes
			// their segment meanwhile: the count errs on the high side, never the low one.
			st := s.Stats()
			if delivered+st.Dropped < n || delivered > n || st.Records != 0 {
				t.Fatalf("delivered %d + dropped %d < %d (stats %+v)", delivered, st.Dropped, n, st)
			}
			if tc.opts.MaxBytes >= 1<<20 && (st.Dropped != 0 || delivered != n) {
				t.Fatalf("delivered %d, dropped %d without cap pressure", delivered, st.Dropped)
			}
			t.Logf("delivered %d, dropped %d", delivered, st.Dropped)
		})
	}
}

const crashEnv = "ZHIZHI_SPOOL_CRASH_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashEnv); dir != "" {
		crashChild(dir)
		return
	}
	os.Exit(m.Run())
}

// crashOpts is the configuration of the crash child and of the parent that inspects its work.
func crashOpts() Options {
	return Options{MaxBytes: 8 << 20, SegmentBytes: 4 << 10, SyncInterval: 5 * time.Millisecond}
}

// crashChild appends and acknowledges as fast as it can, reporting each completed call on stdout, until killed.
func crashChild(dir string) {
	s, err := Open(dir, crashOpts())
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	var mu sync.Mutex // one line per write
	report := func(kind string, seq uint64) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(os.Stdout, "%s %d\n", kind, seq)
	}
	go func() {
		for {
			recs, err := s.Peek(10, 0)
			if err != nil {
				fmt.Fprintln(os.Stderr, "peek:", err)
				os.Exit(2)
			}
			if len(recs) == 0 {
				<-s.Notify()
				continue
			}
			last := recs[len(recs)-1].Seq
			if err := s.Ack(last); err != nil {
				fmt.Fprintln(os.Stderr, "ack:", err)
				os.Exit(2)
			}
			report("ack", last)
			time.Sleep(time.Millisecond) // let the backlog grow a little
		}
	}()
	for seq := s.LastSeq() + 1; ; seq++ {
		if err := s.Append(seq, payload(seq)); err != nil {
			fmt.Fprintln(os.Stderr, "append:", err)
			os.Exit(2)
		}
		report("app", seq)
	}
}

// TestCrashKill re-runs the test binary as a child that appends and acknowledges in a loop, SIGKILLs it, and
// checks what a restart finds: every record the child had appended is there, intact and in order, from
// just after the durable acknowledgement up to LastSeq without a gap; the next child continues the numbering.
func TestCrashKill(t *testing.T) {
	dir := t.TempDir()
	var lastApp uint64
	for round := range 4 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var roundApps, lastAck, firstApp uint64
		sc := bufio.NewScanner(out)
		killAt := uint64(300 + 250*round)
		killed := false
		for sc.Scan() {
			kind, num, _ := strings.Cut(sc.Text(), " ")
			seq, err := strconv.ParseUint(num, 10, 64)
			if err != nil {
				t.Fatalf("child said %q", sc.Text())
			}
			switch kind {
			case "app":
				if firstApp == 0 {
					firstApp = seq
				}
				if seq != lastApp+1 {
					t.Fatalf("round %d: child appended %d after %d", round, seq, lastApp)
				}
				lastApp = seq
				roundApps++
			case "ack":
				lastAck = seq
			}
			if roundApps >= killAt && !killed {
				if err := cmd.Process.Kill(); err != nil {
					t.Fatal(err)
				}
				killed = true // keep reading: lines already written report completed calls
			}
		}
		_, _ = io.Copy(io.Discard, out)
		if err := cmd.Wait(); err == nil || !killed {
			t.Fatalf("round %d: child exited on its own (%v): %s", round, err, stderr.String())
		}

		s, _ := openT(t, dir, crashOpts())
		st := s.Stats()
		if st.LastSeq < lastApp {
			t.Fatalf("round %d: LastSeq %d below the last completed append %d", round, st.LastSeq, lastApp)
		}
		if st.AckedSeq > st.LastSeq || st.AckedSeq > lastAck+10 {
			t.Fatalf("round %d: acked %d, child acknowledged up to %d", round, st.AckedSeq, lastAck)
		}
		if st.Dropped != 0 {
			t.Fatalf("round %d: %d dropped", round, st.Dropped)
		}
		checkRecords(t, peekAll(t, s), seqRange(st.AckedSeq+1, st.LastSeq))
		t.Logf("round %d: appended %d..%d, acknowledged up to %d; after restart acked %d, pending %d",
			round, firstApp, lastApp, lastAck, st.AckedSeq, st.Records)
		lastApp = st.LastSeq // a write in flight at the kill may have landed
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

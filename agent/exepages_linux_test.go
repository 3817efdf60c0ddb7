package agent

import (
	"bufio"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

func TestParseExecutableRanges(t *testing.T) {
	const exe = "/usr/local/bin/zhizhi-agent"
	maps := `00400000-00722000 r-xp 00000000 08:01 131 /usr/local/bin/zhizhi-agent
00722000-00a4e000 r--p 00322000 08:01 131 /usr/local/bin/zhizhi-agent
00a4e000-00a7e000 rw-p 0064e000 08:01 131 /usr/local/bin/zhizhi-agent
00a7e000-00ab0000 rw-p 00000000 00:00 0
c000000000-c000400000 rw-p 00000000 00:00 0
7f0000000000-7f0000001000 r--p 00000000 08:01 99 /usr/lib/locale/C.utf8/LC_CTYPE
7ffd1000-7ffd3000 r-xp 00000000 00:00 0 [vdso]
`
	got, err := parseExecutableRanges(bufio.NewScanner(strings.NewReader(maps)), exe)
	if err != nil {
		t.Fatal(err)
	}
	want := []execRange{{0x400000, 0x722000}, {0x722000, 0xa4e000}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("ranges %x, want %x", got, want)
	}
	// A replaced binary shows as "(deleted)" and is still the executable.
	got, err = parseExecutableRanges(bufio.NewScanner(strings.NewReader(
		"00400000-00722000 r-xp 00000000 08:01 131 /usr/local/bin/zhizhi-agent (deleted)\n")), exe)
	if err != nil || len(got) != 1 {
		t.Fatalf("deleted executable: %v %v", got, err)
	}
	// smaps: a read-only mapping holding modified pages (a relocated RELRO segment) is left alone.
	smaps := `00400000-00722000 r-xp 00000000 08:01 131 /usr/local/bin/zhizhi-agent
Size:               3208 kB
Rss:                3100 kB
Anonymous:             0 kB
VmFlags: rd ex mr mw me
00722000-00730000 r--p 00322000 08:01 131 /usr/local/bin/zhizhi-agent
Size:                 56 kB
Anonymous:            56 kB
VmFlags: rd mr mw me
00730000-00a4e000 r--p 00330000 08:01 131 /usr/local/bin/zhizhi-agent
Size:               3192 kB
Anonymous:             0 kB
00a4e000-00a7e000 rw-p 0064e000 08:01 131 /usr/local/bin/zhizhi-agent
Anonymous:            12 kB
`
	got, err = parseExecutableRanges(bufio.NewScanner(strings.NewReader(smaps)), exe)
	want = []execRange{{0x400000, 0x722000}, {0x730000, 0xa4e000}}
	if err != nil || len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("smaps ranges %x %v, want %x", got, err, want)
	}
	_, err = parseExecutableRanges(bufio.NewScanner(strings.NewReader(
		"zz-00722000 r-xp 00000000 08:01 131 /usr/local/bin/zhizhi-agent\n")), exe)
	if err == nil || !strings.Contains(err.Error(), "bad address range") {
		t.Fatalf("bad range accepted: %v", err)
	}
}

// rssFileKiB is RssFile of this process in KiB.
func rssFileKiB(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "RssFile:"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}

// The pages of this test binary's own text and rodata are released; afterwards the code faults back in and an
// agent still collects and delivers every sample in order.
func TestExecutablePagesReleasedAndAgentStillDelivers(t *testing.T) {
	srv := &ingest{}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	cfg := testConfig(t, hs.URL)
	var before, after, dropped atomic.Int64
	hook := func() {
		before.Store(rssFileKiB(t))
		n, err := DropExecutablePages()
		if err != nil {
			t.Errorf("DropExecutablePages: %v", err)
		}
		after.Store(rssFileKiB(t))
		dropped.Store(n)
	}
	a, err := newAgent(cfg, Deps{Collector: &fakeCollector{hostname: "h"}, Jitter: func() float64 { return 0 },
		AfterFirstCycle: hook})
	if err != nil {
		t.Fatal(err)
	}
	stop := startAgent(t, a)
	waitFor(t, "the hook and 5 delivered samples", func() bool {
		return dropped.Load() > 0 && len(srv.delivered()) >= 5
	})
	stop()
	t.Logf("advised %d bytes; RssFile %d KiB -> %d KiB", dropped.Load(), before.Load(), after.Load())
	if after.Load() >= before.Load() {
		t.Errorf("RssFile %d KiB after dropping executable pages, %d before", after.Load(), before.Load())
	}
	got := srv.delivered()
	if c := a.Stats().Collected; uint64(len(got)) != c {
		t.Fatalf("delivered %d of %d samples", len(got), c)
	}
	for i, s := range got {
		if s != uint64(i+1) {
			t.Fatalf("delivered seqs out of order: %v", got)
		}
	}
}

package spool

import (
	"encoding/json"
	"testing"
	"time"

	"zhizhi/agent/wire"
)

// realSample is the JSON of a typical wire.Sample: every family present, four filesystems, two disks, two NICs.
func realSample(t testing.TB, seq uint64) []byte {
	t.Helper()
	n := func(v int) *int { return &v }
	up := uint64(8_640_000)
	s := wire.Sample{
		Seq:             seq,
		Time:            time.Date(2026, 11, 30, 3, 0, 15, 123456789, time.UTC),
		IntervalSeconds: 15.002,
		CPU:             &wire.CPU{BusyPct: 12.734, UserPct: 8.21, SystemPct: 3.9, IOWaitPct: 0.61, StealPct: 0.013},
		Load:            &wire.Load{Load1: 0.42, Load5: 0.37, Load15: 0.31},
		Memory:          &wire.Memory{TotalBytes: 16_777_216_000, UsedBytes: 9_123_456_789, AvailableBytes: 7_653_759_211, UsedPct: 54.38},
		Swap:            &wire.Swap{TotalBytes: 4_294_967_296, UsedBytes: 12_345_678, UsedPct: 0.29},
		Conns:           &wire.Conns{Established: 57, Inbound: 31, NewInbound: 4, Listening: 12},
		Sessions:        n(2),
		Procs:           n(213),
		Uptime:          &up,
	}
	for _, m := range []string{"/", "/boot", "/data", "/var/lib/mysql"} {
		s.FS = append(s.FS, wire.Filesystem{Mount: m, Device: "/dev/mapper/vg0-" + m[1:], FSType: "xfs",
			TotalBytes: 107_374_182_400, UsedBytes: 48_318_382_080, FreeBytes: 59_055_800_320, UsedPct: 45.0, InodesUsedPct: 3.1})
	}
	for _, d := range []string{"vda", "vdb"} {
		s.Disks = append(s.Disks, wire.DiskIO{Device: d, ReadBytes: 1_234_567, WriteBytes: 9_876_543, Reads: 123, Writes: 987})
	}
	for _, i := range []string{"eth0", "eth1"} {
		s.Net = append(s.Net, wire.NetIO{Interface: i, RxBytes: 4_567_890, TxBytes: 3_456_789, RxPackets: 5432, TxPackets: 4321})
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRetentionFigures measures the bytes a real sample takes on disk and prints how long the default cap
// lasts at the default 15 s interval.
func TestRetentionFigures(t *testing.T) {
	data := realSample(t, 123456)
	s, _ := openT(t, t.TempDir(), Options{})
	const n = 100
	for seq := uint64(1); seq <= n; seq++ {
		if err := s.Append(seq, data); err != nil {
			t.Fatal(err)
		}
	}
	perRecord := s.Stats().Bytes / n
	if perRecord != HeaderSize+int64(len(data)) {
		t.Fatalf("%d bytes per record on disk, want header %d + payload %d", perRecord, HeaderSize, len(data))
	}
	records, span := Retention(Options{}, len(data), 15*time.Second)
	if lo, hi := (DefaultMaxBytes-DefaultSegmentBytes)/perRecord-1, int64(DefaultMaxBytes)/perRecord; records < lo || records > hi {
		t.Fatalf("Retention %d records, want between %d and %d", records, lo, hi)
	}
	t.Logf("sample JSON %d B, %d B per record on disk; %d MiB holds at least %d samples = %.1f days at 15 s",
		len(data), perRecord, DefaultMaxBytes>>20, records, span.Hours()/24)
}

func BenchmarkAppend(b *testing.B) {
	data := realSample(b, 123456)
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	seq := uint64(0)
	for b.Loop() {
		seq++
		if err := s.Append(seq, data); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	st := s.Stats()
	perRecord := float64(st.Bytes) / float64(st.Records)
	_, span := Retention(Options{}, len(data), 15*time.Second)
	b.ReportMetric(perRecord, "disk-B/record")
	b.ReportMetric(span.Hours()/24, "days/64MiB@15s")
}

func BenchmarkPeekAck(b *testing.B) {
	data := realSample(b, 123456)
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	seq := uint64(0)
	fill := func() {
		for range 10000 {
			seq++
			if err := s.Append(seq, data); err != nil {
				b.Fatal(err)
			}
		}
	}
	fill()
	b.ReportAllocs()
	const batch = 100
	b.SetBytes(int64(batch * len(data)))
	for b.Loop() {
		recs, err := s.Peek(batch, 0)
		if err != nil {
			b.Fatal(err)
		}
		if len(recs) == 0 {
			b.StopTimer()
			fill()
			b.StartTimer()
			continue
		}
		if err := s.Ack(recs[len(recs)-1].Seq); err != nil {
			b.Fatal(err)
		}
	}
}

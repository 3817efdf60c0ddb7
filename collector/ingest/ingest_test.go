package ingest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"zhizhi/agent/wire"
)

var now = time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

// goodBatch returns a valid batch of three samples from agent "a1".
func goodBatch() *wire.Batch {
	b := &wire.Batch{
		Version: wire.SchemaVersion, AgentID: "a1", SentAt: now, Dropped: 2,
		Host: &wire.HostFacts{Hostname: "web-01", OS: "linux", Platform: "kylin", CPUCores: 8, MemTotalBytes: 16 << 30},
	}
	for i := range 3 {
		b.Samples = append(b.Samples, wire.Sample{
			Seq: uint64(10 + i), Time: now.Add(time.Duration(i-3) * time.Minute), IntervalSeconds: 60,
			CPU:    &wire.CPU{BusyPct: 12.5, UserPct: 10, SystemPct: 2.5},
			Load:   &wire.Load{Load1: 0.5, Load5: 0.4, Load15: 0.3},
			Memory: &wire.Memory{TotalBytes: 16 << 30, UsedBytes: 4 << 30, UsedPct: 25},
			Swap:   &wire.Swap{},
			FS: []wire.Filesystem{
				{Mount: "/", Device: "/dev/sda1", FSType: "ext4", TotalBytes: 100, UsedBytes: 40, UsedPct: 40},
				{Mount: "/数据", Device: "/dev/sdb1", FSType: "xfs", TotalBytes: 100, UsedBytes: 90, UsedPct: 90},
			},
			Disks:    []wire.DiskIO{{Device: "sda", ReadBytes: 1, WriteBytes: 2}},
			Net:      []wire.NetIO{{Interface: "eth0", RxBytes: 5}},
			Conns:    &wire.Conns{Established: 3, Inbound: 1, Listening: 4},
			Sessions: ptr(1), Procs: ptr(120), Uptime: ptr(uint64(3600)),
			Errors: map[string]string{"sessions": "utmp unreadable"},
		})
	}
	return b
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func gz(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDecodeRoundTrip(t *testing.T) {
	want := goodBatch()
	data := mustJSON(t, want)
	for _, enc := range []string{"", "identity", "gzip", "GZIP"} {
		body := data
		if strings.EqualFold(enc, "gzip") {
			body = gz(t, data)
		}
		got, err := Decode(bytes.NewReader(body), enc, Limits{})
		if err != nil {
			t.Fatalf("encoding %q: %v", enc, err)
		}
		if !bytes.Equal(mustJSON(t, got), data) {
			t.Errorf("encoding %q: round trip differs:\n got %s\nwant %s", enc, mustJSON(t, got), data)
		}
		if err := Validate(got, "a1", now, Limits{}); err != nil {
			t.Errorf("encoding %q: valid batch rejected: %v", enc, err)
		}
	}
}

// edit returns the JSON of goodBatch with one top-level-relative change applied through a generic map.
func edit(t testing.TB, fn func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(mustJSON(t, goodBatch()), &m); err != nil {
		t.Fatal(err)
	}
	fn(m)
	return mustJSON(t, m)
}

func sample(m map[string]any, i int) map[string]any {
	return m["samples"].([]any)[i].(map[string]any)
}

func TestDecodeErrors(t *testing.T) {
	deep := strings.Repeat("[", 17) + strings.Repeat("]", 17)
	bomb := gz(t, bytes.Repeat([]byte(" "), 2<<20)) // 2 MiB of spaces compress to ~2 KiB
	f := func(name string, body []byte, enc string, lim Limits, wantField, wantMsg string, wantErr error) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			_, err := Decode(bytes.NewReader(body), enc, lim)
			if err == nil {
				t.Fatalf("accepted %.200s", body)
			}
			if wantErr != nil {
				if !errors.Is(err, wantErr) {
					t.Fatalf("error %v, want %v", err, wantErr)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %T %v, want *FieldError", err, err)
			}
			if fe.Field != wantField || !strings.Contains(fe.Msg, wantMsg) {
				t.Fatalf("got field %q msg %q, want field %q msg containing %q", fe.Field, fe.Msg, wantField, wantMsg)
			}
		})
	}
	f("empty", nil, "", Limits{}, "", "empty body", nil)
	f("bad JSON", []byte(`{"version":1,`), "", Limits{}, "", "unexpected end", nil)
	f("truncated", edit(t, func(m map[string]any) {})[:60], "", Limits{}, "host", "unexpected EOF", nil)
	f("syntax error in a sample", []byte(`{"samples":[{"seq":1},{"seq":2,}]}`), "", Limits{}, "samples[1]", "invalid character '}'", nil)
	f("wrong type", edit(t, func(m map[string]any) {
		sample(m, 2)["cpu"].(map[string]any)["busy_pct"] = "high"
	}), "", Limits{}, "samples[2].cpu.busy_pct", "expected number, got string", nil)
	f("object for number", edit(t, func(m map[string]any) { m["version"] = map[string]any{} }), "", Limits{},
		"version", "expected number, got object", nil)
	f("negative into unsigned", edit(t, func(m map[string]any) {
		sample(m, 1)["fs"].([]any)[1].(map[string]any)["used_bytes"] = -5
	}), "", Limits{}, "samples[1].fs[1].used_bytes", "non-negative integer", nil)
	f("fraction into int", edit(t, func(m map[string]any) { sample(m, 0)["procs"] = 1.5 }), "", Limits{},
		"samples[0].procs", "an integer", nil)
	f("unknown field", edit(t, func(m map[string]any) {
		sample(m, 1)["mem"].(map[string]any)["cached"] = 1
	}), "", Limits{}, "samples[1].mem.cached", "unknown field", nil)
	f("unknown top-level field", edit(t, func(m map[string]any) { m["extra"] = true }), "", Limits{}, "extra", "unknown field", nil)
	f("bad timestamp", edit(t, func(m map[string]any) { sample(m, 1)["ts"] = "yesterday" }), "", Limits{},
		"samples[1].ts", "RFC 3339", nil)
	f("number for timestamp", edit(t, func(m map[string]any) { m["sent_at"] = 17 }), "", Limits{},
		"sent_at", "expected RFC 3339 timestamp string, got number", nil)
	f("map value type", edit(t, func(m map[string]any) { sample(m, 0)["errors"] = map[string]any{"fs": 1} }), "", Limits{},
		`samples[0].errors["fs"]`, "expected string, got number", nil)
	f("trailing data", append(mustJSON(t, goodBatch()), []byte(` {}`)...), "", Limits{}, "", "unexpected data after", nil)
	f("over-deep", []byte(`{"samples":`+deep+`}`), "", Limits{}, "", "nested deeper than 16", nil)
	f("over-deep in a string is fine, but the field is unknown", []byte(`{"x":"`+deep+`"}`), "", Limits{}, "x", "unknown field", nil)
	f("oversize body", mustJSON(t, goodBatch()), "", Limits{MaxBodyBytes: 100}, "", "", ErrTooLarge)
	f("oversize decompressed", gz(t, mustJSON(t, goodBatch())), "gzip", Limits{MaxDecodedBytes: 100}, "", "", ErrTooLarge)
	f("gzip bomb", bomb, "gzip", Limits{}, "", "", nil) // 2 MiB of whitespace under the 16 MiB cap: empty body
	f("gzip bomb over the cap", bomb, "gzip", Limits{MaxDecodedBytes: 1 << 20}, "", "", ErrTooLarge)
	f("not gzip", []byte(`{"version":1}`), "gzip", Limits{}, "", "invalid gzip body", nil)
	f("truncated gzip", gz(t, mustJSON(t, goodBatch()))[:60], "gzip", Limits{}, "", "invalid gzip body", nil)
	f("unsupported encoding", []byte(`{}`), "br", Limits{}, "", "", ErrUnsupportedEncoding)
}

func TestDecodeBodyExactlyAtLimit(t *testing.T) {
	data := mustJSON(t, goodBatch())
	if _, err := Decode(bytes.NewReader(data), "", Limits{MaxBodyBytes: int64(len(data))}); err != nil {
		t.Fatalf("body of exactly the limit rejected: %v", err)
	}
	if _, err := Decode(bytes.NewReader(data), "", Limits{MaxBodyBytes: int64(len(data) - 1)}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("body one byte over the limit: %v, want ErrTooLarge", err)
	}
}

// failingReader fails after its data, like a client that disconnects.
type failingReader struct{ r io.Reader }

func (f failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, io.ErrClosedPipe
	}
	return n, err
}

func TestDecodeReadError(t *testing.T) {
	_, err := Decode(failingReader{bytes.NewReader([]byte(`{"version":`))}, "", Limits{})
	var fe *FieldError
	if !errors.Is(err, io.ErrClosedPipe) || errors.As(err, &fe) {
		t.Fatalf("got %v, want the reader's error", err)
	}
}

func TestValidate(t *testing.T) {
	f := func(name string, mutate func(b *wire.Batch), wantField, wantMsg string) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			b := goodBatch()
			mutate(b)
			err := Validate(b, "a1", now, Limits{})
			if wantField == "" && wantMsg == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("got %v, want *FieldError on %s", err, wantField)
			}
			if fe.Field != wantField || !strings.Contains(fe.Msg, wantMsg) {
				t.Fatalf("got field %q msg %q, want field %q msg containing %q", fe.Field, fe.Msg, wantField, wantMsg)
			}
		})
	}
	ok := func(name string, mutate func(b *wire.Batch)) { t.Helper(); f(name, mutate, "", "") }

	ok("valid", func(b *wire.Batch) {})
	ok("no host facts", func(b *wire.Batch) { b.Host = nil })
	ok("families missing", func(b *wire.Batch) { b.Samples[0] = wire.Sample{Seq: 10, Time: now} })
	ok("percent slop", func(b *wire.Batch) { b.Samples[0].CPU.BusyPct = 100.4; b.Samples[1].Memory.UsedPct = -0.1 })
	ok("10 min ahead", func(b *wire.Batch) { b.Samples[2].Time = now.Add(10 * time.Minute) })
	ok("7 days old", func(b *wire.Batch) { b.Samples[0].Time = now.Add(-7 * 24 * time.Hour) })
	ok("seq gaps", func(b *wire.Batch) { b.Samples[1].Seq = 100; b.Samples[2].Seq = 1000 })

	ok("spool stats", func(b *wire.Batch) { b.Spool = &wire.SpoolStats{Bytes: 1 << 20, Records: 600} })
	f("negative spool bytes", func(b *wire.Batch) { b.Spool = &wire.SpoolStats{Bytes: -1} }, "spool.bytes", "negative")
	f("negative spool records", func(b *wire.Batch) { b.Spool = &wire.SpoolStats{Records: -2} }, "spool.records", "negative")
	f("version", func(b *wire.Batch) { b.Version = 2 }, "version", "unsupported schema version 2")
	f("agent mismatch", func(b *wire.Batch) { b.AgentID = "a2" }, "agent_id", "does not match")
	f("no sent_at", func(b *wire.Batch) { b.SentAt = time.Time{} }, "sent_at", "required")
	f("no samples", func(b *wire.Batch) { b.Samples = nil }, "samples", "at least one")
	f("too many samples", func(b *wire.Batch) {
		for i := range DefaultMaxSamples {
			b.Samples = append(b.Samples, wire.Sample{Seq: uint64(100 + i), Time: now})
		}
	}, "samples", "at most 10000")
	f("seq zero", func(b *wire.Batch) { b.Samples[0].Seq = 0 }, "samples[0].seq", "at least 1")
	f("seq repeats", func(b *wire.Batch) { b.Samples[2].Seq = b.Samples[1].Seq }, "samples[2].seq", "increase strictly")
	f("seq decreases", func(b *wire.Batch) { b.Samples[1].Seq = 5 }, "samples[1].seq", "5 does not follow 10")
	f("no ts", func(b *wire.Batch) { b.Samples[1].Time = time.Time{} }, "samples[1].ts", "required")
	f("future", func(b *wire.Batch) { b.Samples[2].Time = now.Add(11 * time.Minute) }, "samples[2].ts", "11m0s in the future")
	f("future with skewed agent clock", func(b *wire.Batch) {
		b.SentAt = now.Add(time.Hour)
		b.Samples[2].Time = now.Add(time.Hour)
	}, "samples[2].ts", "agent clock is 1h0m0s off")
	f("past", func(b *wire.Batch) { b.Samples[0].Time = now.Add(-8 * 24 * time.Hour) }, "samples[0].ts", "older than")
	f("interval negative", func(b *wire.Batch) { b.Samples[1].IntervalSeconds = -1 }, "samples[1].interval_s", "outside")
	f("interval too long", func(b *wire.Batch) { b.Samples[1].IntervalSeconds = 86401 }, "samples[1].interval_s", "outside")
	f("interval NaN", func(b *wire.Batch) { b.Samples[1].IntervalSeconds = math.NaN() }, "samples[1].interval_s", "outside")
	f("cpu over 100", func(b *wire.Batch) { b.Samples[2].CPU.BusyPct = 101 }, "samples[2].cpu.busy_pct", "outside 0..100")
	f("cpu negative", func(b *wire.Batch) { b.Samples[2].CPU.StealPct = -3 }, "samples[2].cpu.steal_pct", "outside")
	f("cpu Inf", func(b *wire.Batch) { b.Samples[0].CPU.IOWaitPct = math.Inf(1) }, "samples[0].cpu.iowait_pct", "outside")
	f("mem NaN", func(b *wire.Batch) { b.Samples[0].Memory.UsedPct = math.NaN() }, "samples[0].mem.used_pct", "outside")
	f("swap over", func(b *wire.Batch) { b.Samples[0].Swap.UsedPct = 200 }, "samples[0].swap.used_pct", "outside")
	f("fs used over", func(b *wire.Batch) { b.Samples[3-1].FS[1].UsedPct = 100.6 }, "samples[2].fs[1].used_pct", "outside")
	f("fs inodes", func(b *wire.Batch) { b.Samples[0].FS[0].InodesUsedPct = -1 }, "samples[0].fs[0].inodes_used_pct", "outside")
	f("load negative", func(b *wire.Batch) { b.Samples[0].Load.Load5 = -1 }, "samples[0].load.load5", "non-negative")
	f("conns negative", func(b *wire.Batch) { b.Samples[1].Conns.Inbound = -1 }, "samples[1].conns.inbound", "negative")
	f("sessions negative", func(b *wire.Batch) { b.Samples[1].Sessions = ptr(-2) }, "samples[1].sessions", "negative")
	f("procs negative", func(b *wire.Batch) { b.Samples[1].Procs = ptr(-2) }, "samples[1].procs", "negative")
	f("mount empty", func(b *wire.Batch) { b.Samples[0].FS[1].Mount = "" }, "samples[0].fs[1].mount", "required")
	f("mount too long", func(b *wire.Batch) { b.Samples[0].FS[1].Mount = "/" + strings.Repeat("a", 4096) }, "samples[0].fs[1].mount", "4097 bytes, at most 4096")
	f("mount bad UTF-8", func(b *wire.Batch) { b.Samples[0].FS[0].Mount = "/\xff" }, "samples[0].fs[0].mount", "UTF-8")
	f("mount repeated", func(b *wire.Batch) { b.Samples[0].FS[1].Mount = "/" }, "samples[0].fs[1].mount", "repeats fs[0]")
	f("device bad UTF-8", func(b *wire.Batch) { b.Samples[0].Disks[0].Device = "\xc3" }, "samples[0].disk[0].device", "UTF-8")
	f("iface too long", func(b *wire.Batch) { b.Samples[0].Net[0].Interface = strings.Repeat("e", 5000) }, "samples[0].net[0].iface", "at most")
	f("error value too long", func(b *wire.Batch) { b.Samples[0].Errors["fs"] = strings.Repeat("e", 5000) }, `samples[0].errors["fs"]`, "at most")
	f("too many fs", func(b *wire.Batch) {
		b.Samples[1].FS = make([]wire.Filesystem, 257)
	}, "samples[1].fs", "257 filesystems, at most 256")
	f("too many disks", func(b *wire.Batch) { b.Samples[1].Disks = make([]wire.DiskIO, 257) }, "samples[1].disk", "at most 256")
	f("too many nics", func(b *wire.Batch) { b.Samples[1].Net = make([]wire.NetIO, 257) }, "samples[1].net", "at most 256")
	f("hostname missing", func(b *wire.Batch) { b.Host.Hostname = "" }, "host.hostname", "required")
	f("host string bad", func(b *wire.Batch) { b.Host.Kernel = "\xff" }, "host.kernel", "UTF-8")
	f("cores negative", func(b *wire.Batch) { b.Host.CPUCores = -1 }, "host.cpu_cores", "negative")
}

func TestValidateLimits(t *testing.T) {
	b := goodBatch()
	err := Validate(b, "a1", now, Limits{MaxSamples: 2})
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "samples" {
		t.Fatalf("MaxSamples 2 with 3 samples: %v", err)
	}
	b.Samples[2].Time = now.Add(2 * time.Minute)
	if err := Validate(b, "a1", now, Limits{MaxFuture: time.Minute}); !errors.As(err, &fe) || fe.Field != "samples[2].ts" {
		t.Fatalf("MaxFuture 1m: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	good := mustJSON(f, goodBatch())
	f.Add(good, false)
	f.Add(gz(f, good), true)
	f.Add([]byte(`{"version":1,"samples":[{"seq":1,"cpu":{"busy_pct":"x"}}]}`), false)
	f.Add([]byte(`{"samples":[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]}`), false)
	f.Add([]byte(`{"version":1e999}`), false)
	f.Add([]byte("\x1f\x8b\x08\x00garbage"), true)
	f.Fuzz(func(t *testing.T, data []byte, gzipped bool) {
		enc := ""
		if gzipped {
			enc = "gzip"
		}
		b, err := Decode(bytes.NewReader(data), enc, Limits{MaxDecodedBytes: 1 << 20})
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error of unexpected kind %T: %v", err, err)
			}
			return
		}
		if b == nil {
			t.Fatal("nil batch without error")
		}
		_ = Validate(b, b.AgentID, now, Limits{}) // must not panic
	})
}

func BenchmarkDecodeValidate(b *testing.B) {
	batch := goodBatch()
	for i := range 97 { // 100 samples, a typical catch-up batch
		s := batch.Samples[2]
		s.Seq = uint64(100 + i)
		batch.Samples = append(batch.Samples, s)
	}
	body := gz(b, mustJSON(b, batch))
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		got, err := Decode(bytes.NewReader(body), "gzip", Limits{})
		if err != nil {
			b.Fatal(err)
		}
		if err := Validate(got, "a1", now, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

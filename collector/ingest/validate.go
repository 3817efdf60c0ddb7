package ingest

import (
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"zhizhi/agent/wire"
)

// Validate checks a decoded batch sent by the agent agentID (the one its token belongs to) against lim, with
// now the server clock. It returns the first problem as a *FieldError naming the field, or nil.
func Validate(b *wire.Batch, agentID string, now time.Time, lim Limits) error {
	lim = lim.WithDefaults()
	if b == nil {
		return &FieldError{Msg: "no batch"}
	}
	if b.Version != wire.SchemaVersion {
		return &FieldError{Field: "version", Msg: fmt.Sprintf("unsupported schema version %d (server speaks %d)", b.Version, wire.SchemaVersion)}
	}
	if b.AgentID != agentID {
		return &FieldError{Field: "agent_id", Msg: fmt.Sprintf("%q does not match the agent of the token", truncate(b.AgentID, 64))}
	}
	if b.SentAt.IsZero() {
		return &FieldError{Field: "sent_at", Msg: "required"}
	}
	if sp := b.Spool; sp != nil {
		if sp.Bytes < 0 {
			return &FieldError{Field: "spool.bytes", Msg: fmt.Sprintf("must not be negative, got %d", sp.Bytes)}
		}
		if sp.Records < 0 {
			return &FieldError{Field: "spool.records", Msg: fmt.Sprintf("must not be negative, got %d", sp.Records)}
		}
	}
	if b.Host != nil {
		if fe := validateHost(b.Host, lim); fe != nil {
			return fe
		}
	}
	switch n := len(b.Samples); {
	case n == 0:
		return &FieldError{Field: "samples", Msg: "at least one sample is required"}
	case n > lim.MaxSamples:
		return &FieldError{Field: "samples", Msg: fmt.Sprintf("%d samples, at most %d per batch", n, lim.MaxSamples)}
	}
	// skew is how far the agent's clock is ahead of the server's, to explain rejected timestamps.
	skew := b.SentAt.Sub(now)
	var prev uint64
	for i := range b.Samples {
		s := &b.Samples[i]
		if s.Seq == 0 {
			return sampleErr(i, "seq", "must be at least 1")
		}
		if s.Seq <= prev {
			return sampleErr(i, "seq", fmt.Sprintf("%d does not follow %d: sequence numbers must increase strictly", s.Seq, prev))
		}
		prev = s.Seq
		if fe := validateTime(i, s.Time, now, skew, lim); fe != nil {
			return fe
		}
		if fe := validateSample(i, s, lim); fe != nil {
			return fe
		}
	}
	return nil
}

func sampleErr(i int, field, msg string) *FieldError {
	return &FieldError{Field: fmt.Sprintf("samples[%d].%s", i, field), Msg: msg}
}

func validateTime(i int, ts, now time.Time, skew time.Duration, lim Limits) *FieldError {
	if ts.IsZero() {
		return sampleErr(i, "ts", "required")
	}
	note := ""
	if skew > time.Minute || skew < -time.Minute {
		note = fmt.Sprintf(" (the agent clock is %s off: sent_at differs from the server clock by that much)", skew.Round(time.Second))
	}
	if d := ts.Sub(now); d > lim.MaxFuture {
		return sampleErr(i, "ts", fmt.Sprintf("%s is %s in the future, at most %s allowed%s", ts.Format(time.RFC3339), d.Round(time.Second), lim.MaxFuture, note))
	}
	if d := now.Sub(ts); d > lim.MaxAge {
		return sampleErr(i, "ts", fmt.Sprintf("%s is %s old, older than the %s kept%s", ts.Format(time.RFC3339), d.Round(time.Second), lim.MaxAge, note))
	}
	return nil
}

func validateSample(i int, s *wire.Sample, lim Limits) *FieldError {
	if !finite(s.IntervalSeconds) || s.IntervalSeconds < 0 || s.IntervalSeconds > DefaultMaxInterval {
		return sampleErr(i, "interval_s", fmt.Sprintf("%v is outside 0..%d", s.IntervalSeconds, DefaultMaxInterval))
	}
	if c := s.CPU; c != nil {
		for _, f := range [...]struct {
			name string
			v    float64
		}{{"busy_pct", c.BusyPct}, {"user_pct", c.UserPct}, {"system_pct", c.SystemPct}, {"iowait_pct", c.IOWaitPct}, {"steal_pct", c.StealPct}} {
			if !percent(f.v) {
				return sampleErr(i, "cpu."+f.name, pctMsg(f.v))
			}
		}
	}
	if l := s.Load; l != nil {
		for _, f := range [...]struct {
			name string
			v    float64
		}{{"load1", l.Load1}, {"load5", l.Load5}, {"load15", l.Load15}} {
			if !finite(f.v) || f.v < 0 {
				return sampleErr(i, "load."+f.name, fmt.Sprintf("%v must be a finite non-negative number", f.v))
			}
		}
	}
	if m := s.Memory; m != nil && !percent(m.UsedPct) {
		return sampleErr(i, "mem.used_pct", pctMsg(m.UsedPct))
	}
	if sw := s.Swap; sw != nil && !percent(sw.UsedPct) {
		return sampleErr(i, "swap.used_pct", pctMsg(sw.UsedPct))
	}
	if n := len(s.FS); n > lim.MaxEntries {
		return sampleErr(i, "fs", fmt.Sprintf("%d filesystems, at most %d", n, lim.MaxEntries))
	}
	for j := range s.FS {
		f := &s.FS[j]
		field := func(name string) string { return fmt.Sprintf("fs[%d].%s", j, name) }
		if f.Mount == "" {
			return sampleErr(i, field("mount"), "required")
		}
		for _, str := range [...]struct{ name, v string }{{"mount", f.Mount}, {"device", f.Device}, {"fstype", f.FSType}} {
			if msg := checkString(str.v, lim); msg != "" {
				return sampleErr(i, field(str.name), msg)
			}
		}
		for k := range j {
			if s.FS[k].Mount == f.Mount {
				return sampleErr(i, field("mount"), fmt.Sprintf("%q repeats fs[%d]", truncate(f.Mount, 64), k))
			}
		}
		if !percent(f.UsedPct) {
			return sampleErr(i, field("used_pct"), pctMsg(f.UsedPct))
		}
		if !percent(f.InodesUsedPct) {
			return sampleErr(i, field("inodes_used_pct"), pctMsg(f.InodesUsedPct))
		}
	}
	if n := len(s.Disks); n > lim.MaxEntries {
		return sampleErr(i, "disk", fmt.Sprintf("%d disks, at most %d", n, lim.MaxEntries))
	}
	for j := range s.Disks {
		if msg := checkString(s.Disks[j].Device, lim); msg != "" {
			return sampleErr(i, fmt.Sprintf("disk[%d].device", j), msg)
		}
	}
	if n := len(s.Net); n > lim.MaxEntries {
		return sampleErr(i, "net", fmt.Sprintf("%d interfaces, at most %d", n, lim.MaxEntries))
	}
	for j := range s.Net {
		if msg := checkString(s.Net[j].Interface, lim); msg != "" {
			return sampleErr(i, fmt.Sprintf("net[%d].iface", j), msg)
		}
	}
	if c := s.Conns; c != nil {
		for _, f := range [...]struct {
			name string
			v    int
		}{{"established", c.Established}, {"inbound", c.Inbound}, {"new_inbound", c.NewInbound}, {"listening", c.Listening}} {
			if f.v < 0 {
				return sampleErr(i, "conns."+f.name, fmt.Sprintf("%d must not be negative", f.v))
			}
		}
	}
	if s.Sessions != nil && *s.Sessions < 0 {
		return sampleErr(i, "sessions", fmt.Sprintf("%d must not be negative", *s.Sessions))
	}
	if s.Procs != nil && *s.Procs < 0 {
		return sampleErr(i, "procs", fmt.Sprintf("%d must not be negative", *s.Procs))
	}
	if n := len(s.Errors); n > lim.MaxEntries {
		return sampleErr(i, "errors", fmt.Sprintf("%d entries, at most %d", n, lim.MaxEntries))
	}
	for k, v := range s.Errors {
		if msg := checkString(k, lim); msg != "" {
			return sampleErr(i, "errors", "key "+msg)
		}
		if msg := checkString(v, lim); msg != "" {
			return sampleErr(i, fmt.Sprintf("errors[%q]", truncate(k, 64)), msg)
		}
	}
	return nil
}

func validateHost(h *wire.HostFacts, lim Limits) *FieldError {
	if h.Hostname == "" {
		return &FieldError{Field: "host.hostname", Msg: "required"}
	}
	for _, f := range [...]struct{ name, v string }{
		{"hostname", h.Hostname}, {"os", h.OS}, {"platform", h.Platform}, {"platform_version", h.PlatformVersion},
		{"kernel", h.Kernel}, {"arch", h.Arch}, {"virtualization", h.Virtualization}, {"virt_role", h.VirtRole},
		{"cpu_model", h.CPUModel}, {"agent_version", h.AgentVersion},
	} {
		if msg := checkString(f.v, lim); msg != "" {
			return &FieldError{Field: "host." + f.name, Msg: msg}
		}
	}
	if h.CPUCores < 0 {
		return &FieldError{Field: "host.cpu_cores", Msg: fmt.Sprintf("%d must not be negative", h.CPUCores)}
	}
	return nil
}

func checkString(s string, lim Limits) string {
	if len(s) > lim.MaxStringBytes {
		return fmt.Sprintf("%d bytes, at most %d", len(s), lim.MaxStringBytes)
	}
	if !utf8.ValidString(s) {
		return "not valid UTF-8"
	}
	return ""
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func percent(v float64) bool { return finite(v) && v >= -PercentSlop && v <= 100+PercentSlop }

func pctMsg(v float64) string { return fmt.Sprintf("%v is outside 0..100", v) }

package forward

import (
	"math"
	"strconv"
	"strings"

	"zhizhi/agent/wire"
	"zhizhi/collector/store"
)

// Measurements written for every sample. VictoriaMetrics names each series <measurement>_<field>, which is
// what the Grafana dashboards in deploy/grafana query.
const (
	// HostMeasurement carries the host-level metrics: one field per wire metric name with '.' replaced by '_'.
	HostMeasurement = "zhizhi_host"
	// FSMeasurement carries one point per filesystem (fields used_pct, used_bytes, total_bytes, tag mount).
	FSMeasurement = "zhizhi_fs"
)

// FieldName is the line-protocol field of a wire metric name: '.' becomes '_' (cpu.busy_pct → cpu_busy_pct).
func FieldName(metric string) string { return strings.ReplaceAll(metric, ".", "_") }

// hostFields caches FieldName for the host-level metrics.
var hostFields = func() map[string]string {
	m := make(map[string]string, len(wire.HostMetrics))
	for _, n := range wire.HostMetrics {
		m[n] = FieldName(n)
	}
	return m
}()

// AppendRow appends the line-protocol lines of one queued sample to dst: one zhizhi_host line with every
// host-level metric the sample has (wire.Sample.Flatten) and one zhizhi_fs line per filesystem. Tags are host,
// agent_id, system and department (and mount); empty tags are left out. Fields are numeric only; NaN and
// infinities are left out, and a line left without fields is not written. The timestamp is r.TS in
// milliseconds (write with millisecond precision).
func AppendRow(dst []byte, r *store.ForwardRow) []byte {
	ts := r.TS
	start := len(dst)
	dst = appendTags(dst, HostMeasurement, r, "")
	mark := len(dst)
	sep := byte(' ')
	r.Sample.Flatten(func(name string, v float64) {
		f, ok := hostFields[name]
		if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
			return // per-mount series go to zhizhi_fs below
		}
		dst = append(dst, sep)
		sep = ','
		dst = append(dst, f...)
		dst = append(dst, '=')
		dst = strconv.AppendFloat(dst, v, 'g', -1, 64)
	})
	if len(dst) == mark {
		dst = dst[:start]
	} else {
		dst = appendTS(dst, ts)
	}
	for i := range r.Sample.FS {
		fs := &r.Sample.FS[i]
		start := len(dst)
		dst = appendTags(dst, FSMeasurement, r, fs.Mount)
		mark := len(dst)
		sep := byte(' ')
		for _, f := range [...]struct {
			k string
			v float64
		}{{"used_pct", fs.UsedPct}, {"used_bytes", float64(fs.UsedBytes)}, {"total_bytes", float64(fs.TotalBytes)}} {
			if math.IsNaN(f.v) || math.IsInf(f.v, 0) {
				continue
			}
			dst = append(dst, sep)
			sep = ','
			dst = append(dst, f.k...)
			dst = append(dst, '=')
			dst = strconv.AppendFloat(dst, f.v, 'g', -1, 64)
		}
		if len(dst) == mark {
			dst = dst[:start]
			continue
		}
		dst = appendTS(dst, ts)
	}
	return dst
}

func appendTS(dst []byte, ts int64) []byte {
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, ts, 10)
	return append(dst, '\n')
}

// appendTags appends the measurement and the tags in key order (agent_id, department, host, mount, system),
// the order InfluxDB prefers.
func appendTags(dst []byte, measurement string, r *store.ForwardRow, mount string) []byte {
	dst = append(dst, measurement...)
	dst = appendTag(dst, "agent_id", r.AgentID)
	dst = appendTag(dst, "department", r.Department)
	dst = appendTag(dst, "host", r.Hostname)
	dst = appendTag(dst, "mount", mount)
	return appendTag(dst, "system", r.System)
}

func appendTag(dst []byte, k, v string) []byte {
	if v == "" {
		return dst
	}
	dst = append(dst, ',')
	dst = append(dst, k...)
	dst = append(dst, '=')
	return appendEscaped(dst, v)
}

// appendEscaped escapes a tag value: comma, equals sign, space and backslash get a backslash; line breaks,
// which line protocol cannot carry, become spaces.
func appendEscaped(dst []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch c {
		case ',', '=', ' ', '\\':
			dst = append(dst, '\\', c)
		case '\n', '\r', '\t':
			dst = append(dst, '\\', ' ')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

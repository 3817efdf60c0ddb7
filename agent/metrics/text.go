package metrics

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ContentType is the media type of the Prometheus text exposition format 0.0.4 that Handler serves.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// kind is a metric family's type as written on its TYPE line.
type kind uint8

const (
	kindGauge kind = iota
	kindCounter
	kindHistogram
)

func (k kind) String() string {
	switch k {
	case kindCounter:
		return "counter"
	case kindHistogram:
		return "histogram"
	default:
		return "gauge"
	}
}

// label is one name="value" pair.
type label struct{ name, value string }

// histSnapshot is a histogram at one instant: counts[i] observations fell at or below bounds[i] and above
// bounds[i-1]; count-sum(counts) fell above the last bound.
type histSnapshot struct {
	bounds []float64
	counts []uint64
	sum    float64
	count  uint64
}

// series is one labelled member of a family: value for counters and gauges, hist for histograms.
type series struct {
	labels []label // sorted by name
	value  float64
	hist   *histSnapshot
}

// family is one metric family: the HELP and TYPE lines and the series under them.
type family struct {
	name, help string
	kind       kind
	series     []series
}

// appendText appends fams to dst in the text exposition format 0.0.4, the way client_golang writes it:
// families sorted by name, series sorted by label values, empty families left out. Of series with identical
// labels only the first is written (a duplicate would make Prometheus reject the scrape). fams and their series
// are sorted in place. Family and label names must be valid Prometheus names; label values and help texts may
// hold anything: invalid UTF-8 is replaced by U+FFFD (in place, before duplicates are looked for).
func appendText(dst []byte, fams []family) []byte {
	slices.SortStableFunc(fams, func(a, b family) int { return strings.Compare(a.name, b.name) })
	for i := range fams {
		f := &fams[i]
		if len(f.series) == 0 {
			continue
		}
		for _, s := range f.series {
			for j := range s.labels {
				s.labels[j].value = strings.ToValidUTF8(s.labels[j].value, string(utf8.RuneError))
			}
		}
		slices.SortStableFunc(f.series, func(a, b series) int { return compareLabels(a.labels, b.labels) })
		dst = append(dst, "# HELP "...)
		dst = append(dst, f.name...)
		dst = append(dst, ' ')
		dst = appendEscaped(dst, strings.ToValidUTF8(f.help, string(utf8.RuneError)), false)
		dst = append(dst, "\n# TYPE "...)
		dst = append(dst, f.name...)
		dst = append(dst, ' ')
		dst = append(dst, f.kind.String()...)
		dst = append(dst, '\n')
		for j, s := range f.series {
			if j > 0 && compareLabels(f.series[j-1].labels, s.labels) == 0 {
				continue
			}
			if f.kind != kindHistogram || s.hist == nil {
				dst = appendSample(dst, f.name, "", s.labels, false, 0, s.value)
				continue
			}
			h := s.hist
			var cum uint64
			for k, le := range h.bounds {
				cum += h.counts[k]
				dst = appendSample(dst, f.name, "_bucket", s.labels, true, le, float64(cum))
			}
			dst = appendSample(dst, f.name, "_bucket", s.labels, true, math.Inf(1), float64(h.count))
			dst = appendSample(dst, f.name, "_sum", s.labels, false, 0, h.sum)
			dst = appendSample(dst, f.name, "_count", s.labels, false, 0, float64(h.count))
		}
	}
	return dst
}

// compareLabels orders label sets by their values in label-name order.
func compareLabels(a, b []label) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := strings.Compare(a[i].name, b[i].name); c != 0 {
			return c
		}
		if c := strings.Compare(a[i].value, b[i].value); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}

// appendSample appends one sample line; with withLe an le label holding le follows the other labels.
func appendSample(dst []byte, name, suffix string, labels []label, withLe bool, le, v float64) []byte {
	dst = append(dst, name...)
	dst = append(dst, suffix...)
	if len(labels) > 0 || withLe {
		dst = append(dst, '{')
		for i, l := range labels {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, l.name...)
			dst = append(dst, `="`...)
			dst = appendEscaped(dst, l.value, true)
			dst = append(dst, '"')
		}
		if withLe {
			if len(labels) > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `le="`...)
			dst = appendFloat(dst, le)
			dst = append(dst, '"')
		}
		dst = append(dst, '}')
	}
	dst = append(dst, ' ')
	dst = appendFloat(dst, v)
	return append(dst, '\n')
}

// appendEscaped appends s with backslash and newline escaped, and double quotes too when quote is set (label
// values; HELP text leaves them alone). All three are ASCII, so multi-byte UTF-8 passes through untouched.
func appendEscaped(dst []byte, s string, quote bool) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			dst = append(dst, `\\`...)
		case c == '\n':
			dst = append(dst, `\n`...)
		case c == '"' && quote:
			dst = append(dst, `\"`...)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// appendFloat formats v as Prometheus does: shortest round-trip 'g' format, +Inf, -Inf and NaN.
func appendFloat(dst []byte, v float64) []byte {
	switch {
	case v == 0: // also -0
		return append(dst, '0')
	case math.IsNaN(v):
		return append(dst, "NaN"...)
	case math.IsInf(v, 1):
		return append(dst, "+Inf"...)
	case math.IsInf(v, -1):
		return append(dst, "-Inf"...)
	}
	return strconv.AppendFloat(dst, v, 'g', -1, 64)
}

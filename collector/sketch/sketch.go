// Package sketch implements a small mergeable quantile sketch with bounded relative error (DDSketch-like).
//
// Values are mapped to logarithmic buckets index = ceil(log_gamma(|v|)) with gamma = (1+a)/(1-a), so any
// quantile is answered within relative accuracy a (1% by default). Values whose magnitude is below
// MinIndexable fall into a zero bucket; negative values are kept in a mirrored store. Sketches merge exactly
// (bucket counts add), which is what lets hourly and daily rollups combine partial results in any order.
package sketch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// RelativeAccuracy is the relative error bound of every Sketch built by New.
const RelativeAccuracy = 0.01

// MinIndexable is the smallest magnitude kept in a logarithmic bucket; smaller values count as zero.
const MinIndexable = 1e-9

// maxBins bounds each store: when the index span grows beyond it the lowest buckets are collapsed into one,
// which only loses accuracy for the very lowest quantiles of absurdly wide distributions.
const maxBins = 2048

// encodingVersion is the first byte of every encoded sketch.
const encodingVersion = 1

var (
	gamma    = (1 + RelativeAccuracy) / (1 - RelativeAccuracy)
	logGamma = math.Log(gamma)
)

// ErrCorrupt reports an encoded sketch that cannot be decoded.
var ErrCorrupt = errors.New("sketch: corrupt encoding")

// Sketch is a mergeable quantile sketch. The zero value is an empty sketch ready to use.
type Sketch struct {
	zero uint64
	pos  store
	neg  store
}

// store is a dense run of bucket counts starting at bucket index offset.
type store struct {
	offset int32
	counts []uint64
}

// New returns an empty sketch.
func New() *Sketch { return &Sketch{} }

func index(v float64) int32 {
	return int32(math.Ceil(math.Log(v) / logGamma))
}

// value is the representative value of bucket i: the point with equal relative error to both bounds.
func value(i int32) float64 {
	return 2 * math.Pow(gamma, float64(i)) / (1 + gamma)
}

// Add records one value. NaN and infinities are ignored.
func (s *Sketch) Add(v float64) { s.AddN(v, 1) }

// AddN records value v n times.
func (s *Sketch) AddN(v float64, n uint64) {
	if n == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	switch {
	case v > MinIndexable:
		s.pos.add(index(v), n)
	case v < -MinIndexable:
		s.neg.add(index(-v), n)
	default:
		s.zero += n
	}
}

func (st *store) add(i int32, n uint64) {
	if len(st.counts) == 0 {
		st.offset = i
		st.counts = append(st.counts[:0], n)
		return
	}
	if i < st.offset {
		grow := int(st.offset - i)
		if len(st.counts)+grow > maxBins {
			// Collapse: count the value in the lowest bucket instead of extending downwards.
			st.counts[0] += n
			return
		}
		st.counts = append(make([]uint64, grow, grow+len(st.counts)), st.counts...)
		st.offset = i
	}
	j := int(i - st.offset)
	if j >= len(st.counts) {
		if j >= maxBins {
			st.collapseTo(i - maxBins + 1)
			j = int(i - st.offset)
		}
		if j >= len(st.counts) {
			st.counts = append(st.counts, make([]uint64, j+1-len(st.counts))...)
		}
	}
	st.counts[j] += n
}

// collapseTo folds every bucket below index lo into bucket lo.
func (st *store) collapseTo(lo int32) {
	if lo <= st.offset {
		return
	}
	k := int(lo - st.offset)
	if k >= len(st.counts) {
		var sum uint64
		for _, c := range st.counts {
			sum += c
		}
		st.counts = append(st.counts[:0], sum)
		st.offset = lo
		return
	}
	var sum uint64
	for _, c := range st.counts[:k] {
		sum += c
	}
	st.counts = append(st.counts[:0], st.counts[k:]...)
	st.counts[0] += sum
	st.offset = lo
}

func (st *store) total() uint64 {
	var t uint64
	for _, c := range st.counts {
		t += c
	}
	return t
}

func (st *store) merge(o *store) {
	for j, c := range o.counts {
		if c != 0 {
			st.add(o.offset+int32(j), c)
		}
	}
}

// Merge adds every value recorded in o to s.
func (s *Sketch) Merge(o *Sketch) {
	if o == nil {
		return
	}
	s.zero += o.zero
	s.pos.merge(&o.pos)
	s.neg.merge(&o.neg)
}

// Count returns the number of values recorded.
func (s *Sketch) Count() uint64 { return s.zero + s.pos.total() + s.neg.total() }

// Quantile returns an estimate of the q-quantile (0 <= q <= 1) within RelativeAccuracy of a value whose rank
// is q*(Count-1), and false when the sketch is empty.
func (s *Sketch) Quantile(q float64) (float64, bool) {
	n := s.Count()
	if n == 0 || math.IsNaN(q) {
		return 0, false
	}
	q = min(max(q, 0), 1)
	rank := uint64(q * float64(n-1))
	var seen uint64
	// Negative values, most negative first: highest index of the negative store first.
	for j := len(s.neg.counts) - 1; j >= 0; j-- {
		seen += s.neg.counts[j]
		if seen > rank {
			return -value(s.neg.offset + int32(j)), true
		}
	}
	seen += s.zero
	if seen > rank {
		return 0, true
	}
	for j, c := range s.pos.counts {
		seen += c
		if seen > rank {
			return value(s.pos.offset + int32(j)), true
		}
	}
	// Unreachable unless counts overflowed; answer with the highest bucket.
	if len(s.pos.counts) > 0 {
		return value(s.pos.offset + int32(len(s.pos.counts)-1)), true
	}
	return 0, true
}

// AppendBinary appends the compact encoding of s to dst: a version byte, the zero count, then for each of the
// positive and negative stores the number of non-empty buckets followed by (index delta, count) varint pairs.
func (s *Sketch) AppendBinary(dst []byte) []byte {
	dst = append(dst, encodingVersion)
	dst = binary.AppendUvarint(dst, s.zero)
	dst = s.pos.appendBinary(dst)
	return s.neg.appendBinary(dst)
}

// MarshalBinary returns the compact encoding of s (see AppendBinary).
func (s *Sketch) MarshalBinary() ([]byte, error) { return s.AppendBinary(nil), nil }

func (st *store) appendBinary(dst []byte) []byte {
	nonEmpty := 0
	for _, c := range st.counts {
		if c != 0 {
			nonEmpty++
		}
	}
	dst = binary.AppendUvarint(dst, uint64(nonEmpty))
	prev := int64(0)
	for j, c := range st.counts {
		if c == 0 {
			continue
		}
		i := int64(st.offset) + int64(j)
		dst = binary.AppendVarint(dst, i-prev)
		dst = binary.AppendUvarint(dst, c)
		prev = i
	}
	return dst
}

// UnmarshalBinary replaces s with the sketch encoded in data.
func (s *Sketch) UnmarshalBinary(data []byte) error {
	*s = Sketch{}
	if len(data) == 0 || data[0] != encodingVersion {
		return fmt.Errorf("%w: unknown version", ErrCorrupt)
	}
	r := reader{b: data[1:]}
	s.zero = r.uvarint()
	if err := r.store(&s.pos); err != nil {
		return err
	}
	if err := r.store(&s.neg); err != nil {
		return err
	}
	if r.err != nil {
		return r.err
	}
	if len(r.b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(r.b))
	}
	return nil
}

// Decode returns the sketch encoded in data.
func Decode(data []byte) (*Sketch, error) {
	s := New()
	if err := s.UnmarshalBinary(data); err != nil {
		return nil, err
	}
	return s, nil
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = fmt.Errorf("%w: bad uvarint", ErrCorrupt)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = fmt.Errorf("%w: bad varint", ErrCorrupt)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) store(st *store) error {
	n := r.uvarint()
	if n > uint64(len(r.b)) { // every bucket takes at least two bytes
		return fmt.Errorf("%w: bucket count %d exceeds data", ErrCorrupt, n)
	}
	prev := int64(0)
	for k := uint64(0); k < n && r.err == nil; k++ {
		i := prev + r.varint()
		c := r.uvarint()
		if i < math.MinInt32 || i > math.MaxInt32 || (k > 0 && i <= prev) {
			return fmt.Errorf("%w: bucket index %d out of order", ErrCorrupt, i)
		}
		st.add(int32(i), c)
		prev = i
	}
	return r.err
}

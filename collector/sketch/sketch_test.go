package sketch

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func exactQuantile(sorted []float64, q float64) float64 {
	return sorted[int(q*float64(len(sorted)-1))]
}

func TestQuantileAccuracy(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	cases := []struct {
		name string
		gen  func() float64
	}{
		{"uniform percent", func() float64 { return r.Float64() * 100 }},
		{"lognormal bytes", func() float64 { return math.Exp(r.NormFloat64()*3 + 10) }},
		{"mostly zero", func() float64 {
			if r.IntN(10) < 8 {
				return 0
			}
			return r.Float64() * 5
		}},
		{"mixed sign", func() float64 { return r.NormFloat64() * 50 }},
		{"constant", func() float64 { return 42.5 }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := New()
			vals := make([]float64, 5000)
			for i := range vals {
				vals[i] = c.gen()
				s.Add(vals[i])
			}
			slices.Sort(vals)
			if s.Count() != uint64(len(vals)) {
				t.Fatalf("count %d, want %d", s.Count(), len(vals))
			}
			for _, q := range []float64{0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 1} {
				got, ok := s.Quantile(q)
				if !ok {
					t.Fatalf("q=%v: empty", q)
				}
				want := exactQuantile(vals, q)
				if math.Abs(got-want) > RelativeAccuracy*math.Abs(want)+MinIndexable {
					t.Errorf("q=%v: got %v, want %v (±1%%)", q, got, want)
				}
			}
		})
	}
}

func TestMergeEqualsCombined(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	all, a, b := New(), New(), New()
	for i := range 3000 {
		v := math.Exp(r.NormFloat64() * 2)
		if i%7 == 0 {
			v = -v
		}
		all.Add(v)
		if i%2 == 0 {
			a.Add(v)
		} else {
			b.Add(v)
		}
	}
	a.Merge(b)
	if got, want := a.AppendBinary(nil), all.AppendBinary(nil); string(got) != string(want) {
		t.Fatalf("merged encoding differs from combined sketch")
	}
}

func TestEncodingRoundTrip(t *testing.T) {
	f := func(name string, vals ...float64) {
		t.Helper()
		s := New()
		for _, v := range vals {
			s.Add(v)
		}
		enc := s.AppendBinary(nil)
		d, err := Decode(enc)
		if err != nil {
			t.Fatalf("%s: decode: %v", name, err)
		}
		if string(d.AppendBinary(nil)) != string(enc) || d.Count() != s.Count() {
			t.Fatalf("%s: round trip changed the sketch", name)
		}
		for _, q := range []float64{0, 0.5, 0.95, 1} {
			g1, ok1 := s.Quantile(q)
			g2, ok2 := d.Quantile(q)
			if g1 != g2 || ok1 != ok2 {
				t.Fatalf("%s: q=%v %v/%v vs %v/%v", name, q, g1, ok1, g2, ok2)
			}
		}
	}
	f("empty")
	f("zeros", 0, 0, 0)
	f("spread", 1e-6, 3, 4e9, -2, 0, math.NaN(), math.Inf(1))
	if _, ok := New().Quantile(0.5); ok {
		t.Fatal("empty sketch reported a quantile")
	}
}

func TestDecodeCorrupt(t *testing.T) {
	s := New()
	for i := range 100 {
		s.Add(float64(i))
	}
	good := s.AppendBinary(nil)
	for name, data := range map[string][]byte{
		"empty":       nil,
		"bad version": append([]byte{9}, good[1:]...),
		"truncated":   good[:len(good)-1],
		"trailing":    append(append([]byte{}, good...), 0),
		"huge count":  {encodingVersion, 0, 0xff, 0xff, 0x03},
	} {
		if _, err := Decode(data); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err = %v, want ErrCorrupt", name, err)
		}
	}
}

func TestCollapseBoundsSize(t *testing.T) {
	s := New()
	for e := -9.0; e < 300; e += 0.01 {
		s.Add(math.Pow(10, e))
	}
	if len(s.pos.counts) > maxBins {
		t.Fatalf("store grew to %d bins", len(s.pos.counts))
	}
	got, _ := s.Quantile(1)
	if want := 1e300; math.Abs(got-want) > 0.011*want {
		t.Fatalf("max quantile %v, want ~%v", got, want)
	}
}

func BenchmarkMergeEncode(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	base := New()
	for range 1000 {
		base.Add(math.Exp(r.NormFloat64()*3 + 10))
	}
	enc := base.AppendBinary(nil)
	add := New()
	for range 4 {
		add.Add(math.Exp(r.NormFloat64()*3 + 10))
	}
	b.ReportAllocs()
	var buf []byte
	for b.Loop() {
		s, _ := Decode(enc)
		s.Merge(add)
		buf = s.AppendBinary(buf[:0])
	}
}

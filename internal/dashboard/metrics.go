package dashboard

import (
	"math"
	"sort"

	dto "github.com/prometheus/client_model/go"
)

// families are the gathered metric families by name.
type families map[string]*dto.MetricFamily

// labelSet is one series' labels.
type labelSet map[string]string

// has says whether the daemon exports the metric (a component that is
// off registers none).
func (f families) has(name string) bool { return f[name] != nil }

// sum adds the metric's series whose labels include match; ok is false
// when the metric is not exported.
func (f families) sum(name string, match labelSet) (v float64, ok bool) {
	mf := f[name]
	if mf == nil {
		return 0, false
	}
	for _, m := range mf.GetMetric() {
		if matches(m, match) {
			v += value(m)
		}
	}
	return v, true
}

// each calls fn with every series of the metric whose labels include
// match.
func (f families) each(name string, match labelSet, fn func(l labelSet, v float64)) {
	mf := f[name]
	if mf == nil {
		return
	}
	for _, m := range mf.GetMetric() {
		if !matches(m, match) {
			continue
		}
		l := labelSet{}
		for _, lp := range m.GetLabel() {
			l[lp.GetName()] = lp.GetValue()
		}
		fn(l, value(m))
	}
}

func matches(m *dto.Metric, match labelSet) bool {
	n := 0
	for _, lp := range m.GetLabel() {
		if want, ok := match[lp.GetName()]; ok {
			if lp.GetValue() != want {
				return false
			}
			n++
		}
	}
	return n == len(match)
}

// value is a counter's, gauge's or untyped metric's value.
func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Untyped != nil:
		return m.GetUntyped().GetValue()
	}
	return 0
}

// histogram is a histogram summed over its label sets: cumulative counts
// at each finite upper bound; Count is the +Inf bucket.
type histogram struct {
	Count   float64  `json:"count"`
	Sum     float64  `json:"sum"`
	Buckets []bucket `json:"buckets"`
}

type bucket struct {
	LE    float64 `json:"le"`
	Count float64 `json:"count"`
}

// histogram sums the metric's histograms (the series of one vector share
// their buckets); ok is false when the metric is not exported.
func (f families) histogram(name string) (h histogram, ok bool) {
	mf := f[name]
	if mf == nil || mf.GetType() != dto.MetricType_HISTOGRAM {
		return h, false
	}
	byLE := map[float64]float64{}
	for _, m := range mf.GetMetric() {
		mh := m.GetHistogram()
		h.Count += float64(mh.GetSampleCount())
		h.Sum += mh.GetSampleSum()
		for _, b := range mh.GetBucket() {
			if le := b.GetUpperBound(); !math.IsInf(le, 0) && !math.IsNaN(le) {
				byLE[le] += float64(b.GetCumulativeCount())
			}
		}
	}
	h.Buckets = make([]bucket, 0, len(byLE))
	for le, c := range byLE {
		h.Buckets = append(h.Buckets, bucket{LE: le, Count: c})
	}
	sort.Slice(h.Buckets, func(i, j int) bool { return h.Buckets[i].LE < h.Buckets[j].LE })
	if !finite(h.Sum) {
		h.Sum = 0
	}
	return h, true
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

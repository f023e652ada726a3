package alert

import (
	"math"
	"slices"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// sample is one series' value at a gather.
type sample struct {
	labels map[string]string
	value  float64
}

// snapshot is one gather: samples by metric name. Only gauges, counters
// and untyped metrics are kept; NaN values are dropped (no data).
type snapshot map[string][]sample

func newSnapshot(mfs []*dto.MetricFamily) snapshot {
	s := snapshot{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var v float64
			switch {
			case m.Gauge != nil:
				v = m.Gauge.GetValue()
			case m.Counter != nil:
				v = m.Counter.GetValue()
			case m.Untyped != nil:
				v = m.Untyped.GetValue()
			default:
				continue
			}
			if math.IsNaN(v) {
				continue
			}
			labels := make(map[string]string, len(m.GetLabel()))
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			s[mf.GetName()] = append(s[mf.GetName()], sample{labels: labels, value: v})
		}
	}
	return s
}

// seriesKey identifies a series: its name and sorted labels.
func seriesKey(name string, labels map[string]string) string {
	names := make([]string, 0, len(labels))
	for k := range labels {
		names = append(names, k)
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteString(name)
	for _, k := range names {
		b.WriteByte(0xff)
		b.WriteString(k)
		b.WriteByte(0xfe)
		b.WriteString(labels[k])
	}
	return b.String()
}

// rateWindow is the window of the rate alerts, as [5m] in the
// Prometheus rules.
const rateWindow = 5 * time.Minute

// counterNames are the counters whose history the evaluator keeps.
var counterNames = []string{metricSlowQueries, metricFederationQueries, metricAPIRequests}

// point is a counter's value at a gather.
type point struct {
	t time.Time
	v float64
}

type counterSeries struct {
	labels map[string]string
	points []point // oldest first
}

// counters remembers the values of counterNames across gathers, to
// compute increases over rateWindow without Prometheus.
type counters struct {
	series map[string]map[string]*counterSeries // name -> key -> series
	// last is the previous gather's time; zero before the first.
	last time.Time
}

func newCounters() *counters {
	return &counters{series: map[string]map[string]*counterSeries{}}
}

// update records the counters of s gathered at now. A series that was not
// there at the previous gather starts from 0 at that gather (a counter
// vector creates a series at its first increment, which would otherwise
// be missed); at the first gather every series only sets a baseline.
func (c *counters) update(now time.Time, s snapshot) {
	for _, name := range counterNames {
		byKey := c.series[name]
		if byKey == nil {
			byKey = map[string]*counterSeries{}
			c.series[name] = byKey
		}
		seen := map[string]bool{}
		for _, smp := range s[name] {
			key := seriesKey(name, smp.labels)
			seen[key] = true
			cs := byKey[key]
			if cs == nil {
				cs = &counterSeries{labels: smp.labels}
				if !c.last.IsZero() {
					cs.points = append(cs.points, point{t: c.last, v: 0})
				}
				byKey[key] = cs
			}
			cs.points = append(cs.points, point{t: now, v: smp.value})
			cs.prune(now)
		}
		for key := range byKey {
			if !seen[key] {
				delete(byKey, key) // gone (a restart of its component): start again
			}
		}
	}
	c.last = now
}

// prune drops points older than rateWindow, keeping the newest of them as
// the baseline of the window.
func (cs *counterSeries) prune(now time.Time) {
	from := now.Add(-rateWindow)
	i := 0
	for i+1 < len(cs.points) && !cs.points[i+1].t.After(from) {
		i++
	}
	cs.points = cs.points[i:]
}

// increase is how much the series grew over its points, a drop counting
// as a reset to 0 (as Prometheus' increase()); ok is false with fewer
// than two points (no data yet).
func (cs *counterSeries) increase() (float64, bool) {
	if len(cs.points) < 2 {
		return 0, false
	}
	var sum float64
	for i := 1; i < len(cs.points); i++ {
		prev, cur := cs.points[i-1].v, cs.points[i].v
		if cur >= prev {
			sum += cur - prev
		} else {
			sum += cur
		}
	}
	return sum, true
}

// increase sums the increases of the series of name that match; ok is
// false when none of them has data.
func (c *counters) increase(name string, match func(labels map[string]string) bool) (float64, bool) {
	var sum float64
	ok := false
	for _, cs := range c.series[name] {
		if match != nil && !match(cs.labels) {
			continue
		}
		if d, has := cs.increase(); has {
			sum += d
			ok = true
		}
	}
	return sum, ok
}

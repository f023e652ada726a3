package alert

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func gauge(reg *prometheus.Registry, name string, v float64) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: name})
	reg.MustRegister(g)
	g.Set(v)
	return g
}

func gaugeVec(reg *prometheus.Registry, name string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: name}, labels)
	reg.MustRegister(g)
	return g
}

func counterVec(reg *prometheus.Registry, name string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: name}, labels)
	reg.MustRegister(c)
	return c
}

// ruleCase fills a registry with series on which its alert stays quiet,
// and returns what changes before each quiet evaluation (traffic under
// the threshold; may be nil) and the change that makes the alert hold,
// with the labels it then has (besides alertname and severity).
type ruleCase struct {
	name   string
	alert  string
	labels map[string]string
	setup  func(reg *prometheus.Registry) (quiet, fire func())
}

var ruleCases = []ruleCase{
	{"sync stopped", SyncStopped, map[string]string{"direction": "forward"}, func(reg *prometheus.Registry) (quiet, fire func()) {
		g := gauge(reg, metricSyncRunning, 1)
		return nil, func() { g.Set(0) }
	}},
	{"reverse stopped", SyncStopped, map[string]string{"direction": "reverse"}, func(reg *prometheus.Registry) (quiet, fire func()) {
		gauge(reg, metricSyncRunning, 1)
		g := gauge(reg, metricReverseRunning, 1)
		return nil, func() { g.Set(0) }
	}},
	{"forward lag", ReplicationLagHigh, map[string]string{"direction": "forward"}, func(reg *prometheus.Registry) (quiet, fire func()) {
		g := gauge(reg, metricSyncLag, 59) // threshold 1m
		gauge(reg, metricReverseLag, 3)
		return nil, func() { g.Set(61) }
	}},
	{"reverse lag", ReplicationLagHigh, map[string]string{"direction": "reverse"}, func(reg *prometheus.Registry) (quiet, fire func()) {
		gauge(reg, metricSyncLag, 0.2)
		g := gauge(reg, metricReverseLag, 60)
		return nil, func() { g.Set(600) }
	}},
	{"slot retains too much", SlotRetainedWALHigh, map[string]string{"slot": "pgsurreal"}, func(reg *prometheus.Registry) (quiet, fire func()) {
		g := gaugeVec(reg, metricSlotRetained, "slot")
		g.WithLabelValues("pgsurreal").Set(1 << 30) // threshold 1 GiB: equal is not above
		g.WithLabelValues("other").Set(1 << 20)
		s := gaugeVec(reg, metricSlotWALStatus, "slot", "status")
		s.WithLabelValues("pgsurreal", "reserved").Set(1)
		s.WithLabelValues("pgsurreal", "lost").Set(0)
		return nil, func() { g.WithLabelValues("pgsurreal").Set(1<<30 + 1) }
	}},
	{"slot lost", SlotRetainedWALHigh, map[string]string{"slot": "pgsurreal"}, func(reg *prometheus.Registry) (quiet, fire func()) {
		g := gaugeVec(reg, metricSlotRetained, "slot")
		g.WithLabelValues("pgsurreal").Set(1 << 20)
		s := gaugeVec(reg, metricSlotWALStatus, "slot", "status")
		s.WithLabelValues("pgsurreal", "extended").Set(1)
		return nil, func() {
			s.WithLabelValues("pgsurreal", "extended").Set(0)
			s.WithLabelValues("pgsurreal", "lost").Set(1)
		}
	}},
	{"slot unreserved, no size", SlotRetainedWALHigh, map[string]string{"slot": "s2"}, func(reg *prometheus.Registry) (quiet, fire func()) {
		s := gaugeVec(reg, metricSlotWALStatus, "slot", "status")
		s.WithLabelValues("s2", "reserved").Set(1)
		return nil, func() { s.Reset(); s.WithLabelValues("s2", "unreserved").Set(1) }
	}},
	{"postgres down", DatabaseDown, map[string]string{"database": "postgres"}, func(reg *prometheus.Registry) (quiet, fire func()) {
		g := gauge(reg, metricPostgresUp, 1)
		gauge(reg, metricSurrealUp, 1)
		return nil, func() { g.Set(0) }
	}},
	{"surreal down", DatabaseDown, map[string]string{"database": "surreal"}, func(reg *prometheus.Registry) (quiet, fire func()) {
		gauge(reg, metricPostgresUp, 1)
		g := gauge(reg, metricSurrealUp, 1)
		return nil, func() { g.Set(0) }
	}},
	{"disk full", DiskUsageHigh, map[string]string{"path": "/data/pg"}, func(reg *prometheus.Registry) (quiet, fire func()) {
		g := gaugeVec(reg, metricDiskUsed, "path")
		g.WithLabelValues("/data/pg").Set(0.9) // threshold 90%: equal is not above
		g.WithLabelValues("/backup").Set(0.2)
		return nil, func() { g.WithLabelValues("/data/pg").Set(0.95) }
	}},
	{"slow queries", SlowQueries, map[string]string{}, func(reg *prometheus.Registry) (quiet, fire func()) {
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: metricSlowQueries, Help: "x"})
		reg.MustRegister(c)
		c.Add(7) // before the first evaluation: a baseline, not an increase
		return nil, func() { c.Inc() }
	}},
	{"API errors", ErrorRateHigh, map[string]string{}, func(reg *prometheus.Registry) (quiet, fire func()) {
		c := counterVec(reg, metricAPIRequests, "path", "code")
		c.WithLabelValues("/v1/query", "200").Add(1000)
		c.WithLabelValues("/v1/query", "500").Add(900) // old: before the window
		// 1% server errors at each quiet evaluation.
		quiet = func() {
			c.WithLabelValues("/v1/query", "200").Add(96)
			c.WithLabelValues("/v1/query", "400").Add(3) // client errors do not count
			c.WithLabelValues("/v1/query", "503").Add(1)
		}
		return quiet, func() { c.WithLabelValues("/v1/tx", "500").Add(20) } // a new series: counted from 0
	}},
	{"federated query errors", ErrorRateHigh, map[string]string{}, func(reg *prometheus.Registry) (quiet, fire func()) {
		c := counterVec(reg, metricFederationQueries, "route", "outcome")
		c.WithLabelValues("federated", "ok").Add(50)
		c.WithLabelValues("federated", "error").Add(1)
		quiet = func() { c.WithLabelValues("federated", "ok").Add(100) }
		return quiet, func() { c.WithLabelValues("passthrough", "error").Add(20) }
	}},
	{"in doubt", TransactionInDoubt, map[string]string{}, func(reg *prometheus.Registry) (quiet, fire func()) {
		g := gauge(reg, metricOldestInDoubt, 299) // threshold 5m
		return nil, func() { g.Set(301) }
	}},
	{"drift", DriftFound, map[string]string{"table": "public.orders"}, func(reg *prometheus.Registry) (quiet, fire func()) {
		g := gaugeVec(reg, metricVerifyDifferences, "table")
		g.WithLabelValues("public.orders").Set(0)
		g.WithLabelValues("public.users").Set(0)
		return nil, func() { g.WithLabelValues("public.orders").Set(2) }
	}},
	{"backup failed", MaintenanceFailed, map[string]string{"task": "backup"}, func(reg *prometheus.Registry) (quiet, fire func()) {
		g := gaugeVec(reg, metricMaintenanceOK, "task")
		g.WithLabelValues("backup").Set(1)
		g.WithLabelValues("verify").Set(1)
		g.WithLabelValues("vacuum").Set(0) // not a task the alert watches
		s := gaugeVec(reg, metricMaintenanceSuccess, "task")
		s.WithLabelValues("backup").Set(float64(t0.Unix()))
		s.WithLabelValues("verify").Set(float64(t0.Unix()))
		return nil, func() { g.WithLabelValues("backup").Set(0) }
	}},
	{"verify too old", MaintenanceTooOld, map[string]string{"task": "verify", "severity": "warning"}, func(reg *prometheus.Registry) (quiet, fire func()) {
		s := gaugeVec(reg, metricMaintenanceSuccess, "task")
		s.WithLabelValues("verify").Set(float64(t0.Add(-25 * time.Hour).Unix())) // threshold 26h
		s.WithLabelValues("backup").Set(float64(t0.Add(-time.Hour).Unix()))
		return nil, func() { s.WithLabelValues("verify").Set(float64(t0.Add(-27 * time.Hour).Unix())) }
	}},
}

// TestEachAlertFiresAndStaysQuiet evaluates each case's quiet series
// (nothing may be active), then its firing change (exactly its alert must
// fire, with its labels), then quiet again (it resolves).
func TestEachAlertFiresAndStaysQuiet(t *testing.T) {
	for _, c := range ruleCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			reg := prometheus.NewRegistry()
			quiet, fire := c.setup(reg)
			e := newTestEvaluator(t, reg, testConfig(), nil)
			now := t0
			for i := 0; i < 3; i++ {
				if quiet != nil {
					quiet()
				}
				e.evaluate(now)
				if got := activeNames(e); len(got) != 0 {
					t.Fatalf("quiet series, evaluation %d: active %v", i, got)
				}
				now = now.Add(15 * time.Second)
			}
			fire()
			e.evaluate(now)
			active := e.Active()
			if len(active) != 1 || active[0].Name != c.alert || active[0].State != StateFiring {
				t.Fatalf("after the change: active %v, want %s firing", activeNames(e), c.alert)
			}
			a := active[0]
			want := maps.Clone(c.labels)
			want["alertname"] = c.alert
			if _, ok := want["severity"]; !ok {
				want["severity"] = ruleSeverity(c.alert)
			}
			if !maps.Equal(a.Labels, want) {
				t.Errorf("labels %v, want %v", a.Labels, want)
			}
			if a.Summary == "" || a.Fingerprint != fingerprint(want) || !a.FiredAt.Equal(now) {
				t.Errorf("alert %+v", a)
			}
			t.Logf("summary: %s", a.Summary)

			// Six minutes later a one-off increase has left the 5m window;
			// a gauge keeps holding.
			later := now.Add(6 * time.Minute)
			e.evaluate(later)
			rate := c.alert == SlowQueries || c.alert == ErrorRateHigh
			if got := len(e.Active()); rate != (got == 0) {
				t.Fatalf("6m later: active %v", activeNames(e))
			}
			if rate {
				if ev := e.Recent(); len(ev) != 2 || ev[0].Status != StatusResolved || ev[1].Status != StatusFiring {
					t.Fatalf("events %+v", ev)
				}
			}
		})
	}
}

func ruleSeverity(name string) string {
	for _, r := range rules {
		if r.name == name {
			return r.severity
		}
	}
	return ""
}

// TestMissingSeriesIsNoData: with no series at all, and with series of
// other names, nothing fires, even long after the start.
func TestMissingSeriesIsNoData(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	gauge(reg, "pgsurreal_sync_lag_bytes", 1e12)
	e := newTestEvaluator(t, reg, testConfig(), nil)
	for _, d := range []time.Duration{0, time.Minute, 48 * time.Hour} {
		e.evaluate(t0.Add(d))
		if got := activeNames(e); len(got) != 0 {
			t.Fatalf("at +%s: active %v", d, got)
		}
	}
}

// TestMaintenanceNeverSucceeded: a scheduled task without a success since
// the evaluator started fires once alerts.maintenance_max_age has passed
// since then; a successful run resolves it.
func TestMaintenanceNeverSucceeded(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	running := gaugeVec(reg, metricMaintenanceRunning, "task")
	running.WithLabelValues("backup").Set(0) // scheduled, not run yet
	e := newTestEvaluator(t, reg, testConfig(), nil)
	e.evaluate(t0.Add(25 * time.Hour))
	if got := activeNames(e); len(got) != 0 {
		t.Fatalf("25h after start: %v", got)
	}
	e.evaluate(t0.Add(27 * time.Hour))
	a := e.Active()
	if len(a) != 1 || a[0].Name != MaintenanceTooOld || a[0].Labels["task"] != "backup" || a[0].Labels["severity"] != "critical" ||
		!strings.Contains(a[0].Summary, "since pgsurreal serve started 27h0m0s ago") {
		t.Fatalf("27h after start: %+v", a)
	}
	success := gaugeVec(reg, metricMaintenanceSuccess, "task")
	success.WithLabelValues("backup").Set(float64(t0.Add(27 * time.Hour).Unix()))
	e.evaluate(t0.Add(27*time.Hour + time.Minute))
	if got := activeNames(e); len(got) != 0 {
		t.Fatalf("after a success: %v", got)
	}
}

// TestCounterResetAndNewSeries: a counter that restarts from 0 counts its
// new value (Prometheus' increase()), and the first gather only sets a
// baseline.
func TestCounterResetAndNewSeries(t *testing.T) {
	t.Parallel()
	c := newCounters()
	snap := func(v float64) snapshot {
		return snapshot{metricSlowQueries: {{labels: map[string]string{}, value: v}}}
	}
	c.update(t0, snap(10))
	if _, ok := c.increase(metricSlowQueries, nil); ok {
		t.Fatal("one gather has no increase")
	}
	c.update(t0.Add(15*time.Second), snap(12))
	c.update(t0.Add(30*time.Second), snap(3)) // reset
	if d, ok := c.increase(metricSlowQueries, nil); !ok || d != 5 {
		t.Fatalf("increase %v %v, want 5", d, ok)
	}
	c.update(t0.Add(6*time.Minute), snap(3))
	if d, ok := c.increase(metricSlowQueries, nil); !ok || d != 0 {
		t.Fatalf("increase after the window %v %v, want 0", d, ok)
	}
	if n := len(c.series[metricSlowQueries]); n != 1 {
		t.Fatalf("%d series", n)
	}
	for _, cs := range c.series[metricSlowQueries] {
		if len(cs.points) != 2 {
			t.Fatalf("kept %d points, want the baseline and the last", len(cs.points))
		}
	}
}

func TestNames(t *testing.T) {
	t.Parallel()
	want := []string{SyncStopped, ReplicationLagHigh, SlotRetainedWALHigh, DatabaseDown, DiskUsageHigh, SlowQueries,
		ErrorRateHigh, TransactionInDoubt, DriftFound, MaintenanceFailed, MaintenanceTooOld}
	if got := Names(); !slices.Equal(got, want) {
		t.Fatalf("Names() = %v", got)
	}
}

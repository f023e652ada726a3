package alert

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/pgsurreal/pgsurreal/internal/config"
)

// TestPendingRespectsFor: with alerts.for 1m, a condition is pending for
// a minute before it fires; one that stops holding while pending goes
// back to inactive without an event; a firing one resolves.
func TestPendingRespectsFor(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	up := gauge(reg, metricPostgresUp, 1)
	cfg := testConfig()
	cfg.For.Duration = time.Minute
	e := newTestEvaluator(t, reg, cfg, nil)
	firing := func() float64 { return testutil.ToFloat64(e.metrics.firing.WithLabelValues(DatabaseDown)) }

	e.evaluate(t0)
	up.Set(0)
	e.evaluate(t0.Add(15 * time.Second))
	if got := activeNames(e); len(got) != 1 || got[0] != DatabaseDown+" pending" {
		t.Fatalf("at once: %v, want pending", got)
	}
	// Back up while pending: inactive, no event.
	up.Set(1)
	e.evaluate(t0.Add(30 * time.Second))
	if got := activeNames(e); len(got) != 0 || len(e.Recent()) != 0 {
		t.Fatalf("after recovering while pending: %v, events %v", got, e.Recent())
	}
	// Down again: pending from now, for a whole minute.
	up.Set(0)
	start := t0.Add(45 * time.Second)
	e.evaluate(start)
	e.evaluate(start.Add(59 * time.Second))
	if got := activeNames(e); len(got) != 1 || got[0] != DatabaseDown+" pending" || firing() != 0 {
		t.Fatalf("59s after: %v (firing gauge %v), want pending", got, firing())
	}
	e.evaluate(start.Add(time.Minute))
	a := e.Active()
	if len(a) != 1 || a[0].State != StateFiring || !a[0].ActiveAt.Equal(start) || !a[0].FiredAt.Equal(start.Add(time.Minute)) || firing() != 1 {
		t.Fatalf("a minute after: %+v (firing gauge %v)", a, firing())
	}
	if ev := e.Recent(); len(ev) != 1 || ev[0].Status != StatusFiring || ev[0].Labels["database"] != "postgres" {
		t.Fatalf("events %+v", ev)
	}
	// Firing goes on without new events; recovering resolves it.
	e.evaluate(start.Add(2 * time.Minute))
	up.Set(1)
	end := start.Add(3 * time.Minute)
	e.evaluate(end)
	ev := e.Recent()
	if len(e.Active()) != 0 || len(ev) != 2 || ev[0].Status != StatusResolved || !ev[0].EndsAt.Equal(end) ||
		!ev[0].StartsAt.Equal(start.Add(time.Minute)) || ev[0].Fingerprint != ev[1].Fingerprint || firing() != 0 {
		t.Fatalf("after recovering: active %v, events %+v", activeNames(e), ev)
	}
}

// TestSeriesGoneResolves: a firing alert whose series disappears (its
// component stopped exporting it) resolves, as in Prometheus.
func TestSeriesGoneResolves(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	g := gauge(reg, metricSyncRunning, 0)
	e := newTestEvaluator(t, reg, testConfig(), nil)
	e.evaluate(t0)
	if len(e.Active()) != 1 {
		t.Fatalf("active %v", activeNames(e))
	}
	reg.Unregister(g)
	e.evaluate(t0.Add(time.Second))
	if ev := e.Recent(); len(e.Active()) != 0 || len(ev) != 2 || ev[0].Status != StatusResolved {
		t.Fatalf("active %v, events %+v", activeNames(e), ev)
	}
}

// TestRecentKeepsTheLast100: events beyond RecentEvents push the oldest
// out; Recent is newest first.
func TestRecentKeepsTheLast100(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	g := gauge(reg, metricSurrealUp, 1)
	e := newTestEvaluator(t, reg, testConfig(), nil)
	now := t0
	for i := 0; i < 60; i++ {
		g.Set(0)
		e.evaluate(now)
		now = now.Add(time.Second)
		g.Set(1)
		e.evaluate(now)
		now = now.Add(time.Second)
	}
	ev := e.Recent()
	if len(ev) != RecentEvents {
		t.Fatalf("%d events", len(ev))
	}
	if ev[0].Status != StatusResolved || !ev[0].Time.Equal(now.Add(-time.Second)) || !ev[len(ev)-1].Time.Equal(t0.Add(20*time.Second)) {
		t.Fatalf("newest %+v, oldest %+v", ev[0], ev[len(ev)-1])
	}
	// The copy is the caller's.
	ev[0].Labels["x"] = "y"
	if _, ok := e.Recent()[0].Labels["x"]; ok {
		t.Fatal("Recent shares its label maps")
	}
}

// TestOwnMetrics: the evaluator's metrics are in the registry it reads,
// every alert at 0 to start with, and reading them does not disturb it.
func TestOwnMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	gauge(reg, metricOldestInDoubt, 1000)
	e := newTestEvaluator(t, reg, testConfig(), nil)
	e.evaluate(t0)
	if n := testutil.CollectAndCount(e.metrics.firing); n != len(rules) {
		t.Fatalf("pgsurreal_alerts_firing has %d series, want %d", n, len(rules))
	}
	want := `
# HELP pgsurreal_alert_notifications_total Webhook notifications of alerts (alerts.webhooks), by final result after retries: ok or error.
# TYPE pgsurreal_alert_notifications_total counter
pgsurreal_alert_notifications_total{result="error"} 0
pgsurreal_alert_notifications_total{result="ok"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "pgsurreal_alert_notifications_total"); err != nil {
		t.Fatal(err)
	}
	if v := testutil.ToFloat64(e.metrics.firing.WithLabelValues(TransactionInDoubt)); v != 1 {
		t.Fatalf("firing %v", v)
	}
	// A second evaluator on the same registry is refused with a reason.
	if _, err := New(Options{Config: testConfig(), Gatherer: reg, Registerer: reg}); err == nil || !strings.Contains(err.Error(), "one Evaluator per registry") {
		t.Fatalf("second evaluator: %v", err)
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	bad := func(mod func(o *Options)) error {
		o := Options{Config: testConfig(), Gatherer: reg}
		mod(&o)
		_, err := New(o)
		return err
	}
	for name, c := range map[string]struct {
		mod  func(o *Options)
		want string
	}{
		"no gatherer":  {func(o *Options) { o.Gatherer = nil }, "Options.Gatherer"},
		"no interval":  {func(o *Options) { o.Config.EvaluateEvery = config.Duration{} }, "alerts.evaluate_every"},
		"negative for": {func(o *Options) { o.Config.For.Duration = -time.Second }, "alerts.for"},
		"bad webhook": {func(o *Options) { o.Config.Webhooks = []string{"https://ok.example.com", "ftp://u:pw@x/hook"} },
			"alerts.webhooks[1]: ftp://redacted@x/hook is not an http(s) URL"},
	} {
		if err := bad(c.mod); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
}

// TestRunEvaluatesAndStops: Run evaluates at once and on its interval,
// refuses a second call and returns when its context ends.
func TestRunEvaluatesAndStops(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	g := gauge(reg, metricSurrealUp, 1)
	cfg := testConfig()
	cfg.EvaluateEvery.Duration = 10 * time.Millisecond
	e, err := New(Options{Config: cfg, Gatherer: reg, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	g.Set(0)
	waitFor(t, "the alert fires", func() bool { return len(e.Active()) == 1 })
	g.Set(1)
	waitFor(t, "the alert resolves", func() bool { return len(e.Active()) == 0 && len(e.Recent()) == 2 })
	if err := e.Run(ctx); err == nil {
		t.Fatal("a second Run was accepted")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(deadline):
		t.Fatal("Run did not return")
	}
}

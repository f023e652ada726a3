package alert

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestWebhookFiringThenResolved: a firing and then a resolved
// notification, with the documented body, to every webhook.
func TestWebhookFiringThenResolved(t *testing.T) {
	t.Parallel()
	r1, r2 := newReceiver(t, nil), newReceiver(t, nil)
	reg := prometheus.NewRegistry()
	lag := gauge(reg, metricSyncLag, 0.5)
	e := newTestEvaluator(t, reg, testConfig(r1.URL+"/hook", r2.URL), nil)
	startNotifier(t, e)

	e.evaluate(t0)
	lag.Set(90)
	fired := t0.Add(15 * time.Second)
	e.evaluate(fired)
	for _, r := range []*receiver{r1, r2} {
		n := r.next(t)
		if n.Version != "1" || n.Status != StatusFiring || n.Alert != ReplicationLagHigh || n.Value != 90 || n.Threshold == nil || *n.Threshold != 60 ||
			!n.StartsAt.Equal(fired) || n.EndsAt != nil || n.Instance != "test-host" || len(n.Fingerprint) != 16 ||
			n.Labels["alertname"] != ReplicationLagHigh || n.Labels["direction"] != "forward" || n.Labels["severity"] != "warning" ||
			!strings.Contains(n.Summary, "1m30s") || !strings.Contains(n.Summary, "threshold 1m0s") {
			t.Fatalf("firing notification %+v", n)
		}
	}
	lag.Set(1)
	resolved := t0.Add(30 * time.Second)
	e.evaluate(resolved)
	for _, r := range []*receiver{r1, r2} {
		n := r.next(t)
		if n.Status != StatusResolved || n.EndsAt == nil || !n.EndsAt.Equal(resolved) || !n.StartsAt.Equal(fired) || n.Fingerprint != e.Recent()[0].Fingerprint {
			t.Fatalf("resolved notification %+v", n)
		}
	}
	waitFor(t, "2 notifications counted per webhook", func() bool {
		return testutil.ToFloat64(e.metrics.notifications.WithLabelValues(resultOK)) == 4
	})
}

// TestBodyExample pins the JSON field names docs/operations.md shows.
func TestBodyExample(t *testing.T) {
	t.Parallel()
	th := 60.0
	end := t0.Add(time.Minute)
	b, err := json.Marshal(Notification{Version: "1", Status: StatusResolved, Alert: ReplicationLagHigh,
		Labels: map[string]string{"alertname": ReplicationLagHigh}, Summary: "s", Value: 75, Threshold: &th,
		StartsAt: t0, EndsAt: &end, Fingerprint: "0123456789abcdef", Instance: "db1"})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"version":"1","status":"resolved","alert":"PgsurrealReplicationLagHigh","labels":{"alertname":"PgsurrealReplicationLagHigh"},"summary":"s","value":75,"threshold":60,"starts_at":"2026-03-01T12:00:00Z","ends_at":"2026-03-01T12:01:00Z","fingerprint":"0123456789abcdef","instance":"db1"}`
	if string(b) != want {
		t.Fatalf("body\n%s\nwant\n%s", b, want)
	}
}

// TestRetryAfterServerError: a 500 is retried, and the notification
// counted once as delivered.
func TestRetryAfterServerError(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, func(n int, _ Notification) int {
		if n == 1 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	reg := prometheus.NewRegistry()
	up := gauge(reg, metricPostgresUp, 0)
	e := newTestEvaluator(t, reg, testConfig(r.URL), nil)
	startNotifier(t, e)
	e.evaluate(t0)
	a, b := r.next(t), r.next(t)
	if a.Status != StatusFiring || b.Status != StatusFiring || a.Fingerprint != b.Fingerprint {
		t.Fatalf("attempts %+v, %+v", a, b)
	}
	waitFor(t, "delivered once", func() bool { return testutil.ToFloat64(e.metrics.notifications.WithLabelValues(resultOK)) == 1 })
	up.Set(1)
	e.evaluate(t0.Add(time.Second))
	if n := r.next(t); n.Status != StatusResolved {
		t.Fatalf("then %+v", n)
	}
	waitFor(t, "both delivered", func() bool { return testutil.ToFloat64(e.metrics.notifications.WithLabelValues(resultOK)) == 2 })
	if v := testutil.ToFloat64(e.metrics.notifications.WithLabelValues(resultError)); v != 0 {
		t.Fatalf("%v errors counted", v)
	}
}

// TestRetriesAreBounded: a receiver that always fails gets
// retryPolicy.attempts posts, then the failure is counted; a 4xx is not
// retried.
func TestRetriesAreBounded(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		code, attempts int
	}{{http.StatusServiceUnavailable, fastRetry.attempts}, {http.StatusTooManyRequests, fastRetry.attempts}, {http.StatusBadRequest, 1}} {
		r := newReceiver(t, func(int, Notification) int { return c.code })
		reg := prometheus.NewRegistry()
		gauge(reg, metricSurrealUp, 0)
		e := newTestEvaluator(t, reg, testConfig(r.URL), nil)
		startNotifier(t, e)
		e.evaluate(t0)
		waitFor(t, "the failure counted", func() bool { return testutil.ToFloat64(e.metrics.notifications.WithLabelValues(resultError)) == 1 })
		r.mu.Lock()
		got := len(r.requests)
		r.mu.Unlock()
		if got != c.attempts {
			t.Errorf("answer %d: %d posts, want %d", c.code, got, c.attempts)
		}
	}
}

// TestOrderAndSlowWebhook: while the firing notification is still being
// retried against a slow receiver, evaluation goes on at once and the
// resolved notification waits behind the firing one.
func TestOrderAndSlowWebhook(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	r := newReceiver(t, func(n int, _ Notification) int {
		if n == 1 {
			<-release // hold the first post until the alert has resolved
			return http.StatusBadGateway
		}
		return http.StatusOK
	})
	reg := prometheus.NewRegistry()
	g := gaugeVec(reg, metricVerifyDifferences, "table")
	g.WithLabelValues("a").Set(1)
	g.WithLabelValues("b").Set(1)
	e := newTestEvaluator(t, reg, testConfig(r.URL), nil)
	startNotifier(t, e)
	e.evaluate(t0)
	if n := r.next(t); n.Status != StatusFiring {
		t.Fatalf("first %+v", n)
	}
	g.WithLabelValues("a").Set(0)
	g.WithLabelValues("b").Set(0)
	began := time.Now()
	e.evaluate(t0.Add(time.Second))
	if d := time.Since(began); d > time.Second {
		t.Fatalf("evaluation waited %s for the webhook", d)
	}
	if len(e.Active()) != 0 {
		t.Fatalf("active %v", activeNames(e))
	}
	close(release)
	waitFor(t, "all delivered", func() bool { return testutil.ToFloat64(e.metrics.notifications.WithLabelValues(resultOK)) == 4 })
	r.mu.Lock()
	defer r.mu.Unlock()
	// Per alert (table), its firing posts come before its resolved one.
	seen := map[string]string{}
	var order []string
	for _, n := range r.requests {
		table := n.Labels["table"]
		order = append(order, table+" "+n.Status)
		if n.Status == StatusFiring && seen[table] == StatusResolved {
			t.Fatalf("a firing after its resolved: %v", order)
		}
		seen[table] = n.Status
	}
	if len(order) != 5 || seen["a"] != StatusResolved || seen["b"] != StatusResolved {
		t.Fatalf("posts %v", order)
	}
}

// TestCredentialsNeverLogged: a failing webhook whose URL carries a
// password, a query token and a path token is logged and reported only
// redacted, for answers and for connection errors alike.
func TestCredentialsNeverLogged(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, func(int, Notification) int { return http.StatusInternalServerError })
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close() // connection refused
	secrets := []string{"s3cretpw", "qtoken123", "Tpathtoken0123456789"}
	hook := func(base string) string {
		return strings.Replace(base, "http://", "http://alice:s3cretpw@", 1) + "/services/Tpathtoken0123456789?token=qtoken123&x=1"
	}
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	reg := prometheus.NewRegistry()
	gauge(reg, metricSurrealUp, 0)
	e := newTestEvaluator(t, reg, testConfig(hook(r.URL), hook(closed.URL)), log)
	startNotifier(t, e)
	e.evaluate(t0)
	waitFor(t, "both failures counted", func() bool { return testutil.ToFloat64(e.metrics.notifications.WithLabelValues(resultError)) == 2 })
	out := logs.String()
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Fatalf("the log shows %q:\n%s", s, out)
		}
	}
	for _, s := range []string{"alerts.webhooks[0]", "alerts.webhooks[1]", "answered 500 Internal Server Error", "connection refused", "redacted@127.0.0.1", "/services/redacted?token=redacted&x=redacted"} {
		if !strings.Contains(out, s) {
			t.Errorf("the log lacks %q:\n%s", s, out)
		}
	}
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://hooks.example.com/pgsurreal":                                   "https://hooks.example.com/pgsurreal",
		"https://user:pw@hooks.example.com/x":                                   "https://redacted@hooks.example.com/x",
		"https://token@hooks.example.com/x":                                     "https://redacted@hooks.example.com/x",
		"http://h:8080/a?token=abc&channel=ops#frag":                            "http://h:8080/a?channel=redacted&token=redacted",
		"https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX": "https://hooks.slack.com/services/T0000/B0000/redacted",
		"https://h/%zz":    "(an unparsable URL)",
		"mailto:a@b.c":     "mailto:redacted",
		"http://h/a?%zz=1": "http://h/a?redacted",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestFullQueueDrops: when a webhook's queue is full, further
// notifications are dropped and counted as errors instead of blocking.
func TestFullQueueDrops(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	e := newTestEvaluator(t, reg, testConfig("http://127.0.0.1:1/never"), nil) // no worker runs
	for i := 0; i < queueSize+3; i++ {
		e.notifier.send(Notification{Alert: SyncStopped, Status: StatusFiring})
	}
	if v := testutil.ToFloat64(e.metrics.notifications.WithLabelValues(resultError)); v != 3 {
		t.Fatalf("%v dropped, want 3", v)
	}
}

// TestRunDeliversQueuedAtShutdown: notifications queued when Run's
// context ends still go out.
func TestRunDeliversQueuedAtShutdown(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	r := newReceiver(t, func(n int, _ Notification) int {
		if n == 1 {
			<-release
		}
		return http.StatusOK
	})
	reg := prometheus.NewRegistry()
	g := gaugeVec(reg, metricDiskUsed, "path")
	for _, p := range []string{"/a", "/b", "/c"} {
		g.WithLabelValues(p).Set(0.99)
	}
	cfg := testConfig(r.URL)
	cfg.EvaluateEvery.Duration = time.Hour
	e, err := New(Options{Config: cfg, Gatherer: reg, retry: fastRetry})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	r.next(t) // the first post is held; two more are queued
	cancel()
	close(release)
	select {
	case <-done:
	case <-time.After(deadline):
		t.Fatal("Run did not return")
	}
	if v := testutil.ToFloat64(e.metrics.notifications.WithLabelValues(resultOK)); v != 3 {
		t.Fatalf("%v delivered, want 3", v)
	}
}

package alert

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgsurreal/pgsurreal/internal/config"
)

// deadline bounds every wait of these tests.
const deadline = 10 * time.Second

// t0 is the fake time evaluations start at.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// testConfig is the default alerts section with alerts.for at 0 and the
// given webhooks.
func testConfig(hooks ...string) config.Alerts {
	c := config.Default().Alerts
	c.For.Duration = 0
	c.Webhooks = hooks
	return c
}

// fastRetry keeps retry tests short.
var fastRetry = &retryPolicy{attempts: 5, timeout: 2 * time.Second, backoff: 5 * time.Millisecond, maxBackoff: 20 * time.Millisecond}

// newTestEvaluator builds an evaluator over reg (its own metrics
// registered there too) whose clock starts at t0; log may be nil.
func newTestEvaluator(t *testing.T, reg *prometheus.Registry, cfg config.Alerts, log *slog.Logger) *Evaluator {
	t.Helper()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e, err := New(Options{Config: cfg, Gatherer: reg, Registerer: reg, Log: log, Instance: "test-host",
		now: func() time.Time { return t0 }, retry: fastRetry})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// startNotifier runs the evaluator's webhook workers until the test ends.
func startNotifier(t *testing.T, e *Evaluator) {
	stop := e.notifier.start()
	t.Cleanup(func() { stop(time.Second) })
}

// names returns "name state" of each active alert.
func activeNames(e *Evaluator) []string {
	var out []string
	for _, a := range e.Active() {
		out = append(out, a.Name+" "+a.State)
	}
	return out
}

// receiver is a webhook test server that records every request and
// answers with the status its answer function gives (200 when nil).
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	requests []Notification
	// arrived receives every request's notification as it arrives.
	arrived chan Notification
	answer  func(n int, note Notification) int // n counts requests from 1
}

func newReceiver(t *testing.T, answer func(n int, note Notification) int) *receiver {
	r := &receiver{arrived: make(chan Notification, 100), answer: answer}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		var note Notification
		if err := json.Unmarshal(body, &note); err != nil || req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/json" {
			t.Errorf("webhook got %s %s (%s): %v", req.Method, body, req.Header.Get("Content-Type"), err)
		}
		r.mu.Lock()
		r.requests = append(r.requests, note)
		n := len(r.requests)
		r.mu.Unlock()
		r.arrived <- note
		code := http.StatusOK
		if r.answer != nil {
			code = r.answer(n, note)
		}
		w.WriteHeader(code)
		_, _ = w.Write([]byte("answer " + http.StatusText(code)))
	}))
	t.Cleanup(r.Close)
	return r
}

// next waits for the next request.
func (r *receiver) next(t *testing.T) Notification {
	t.Helper()
	select {
	case n := <-r.arrived:
		return n
	case <-time.After(deadline):
		t.Fatalf("the webhook received nothing within %s", deadline)
		return Notification{}
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("%s: not within %s", what, deadline)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// syncBuffer is a log destination safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

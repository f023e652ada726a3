package maintenance

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// deadline bounds every wait of these tests.
const deadline = 10 * time.Second

// fakeClock is a clock the test moves by hand. Timers fire when the clock
// is moved to or past their time.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*fakeTimer
	changed chan struct{} // closed and replaced when a timer is added
}

type fakeTimer struct {
	at time.Time
	c  chan time.Time
}

func newFakeClock(now time.Time) *fakeClock {
	return &fakeClock{now: now, changed: make(chan struct{})}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) (<-chan time.Time, func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{at: c.now.Add(d), c: make(chan time.Time, 1)}
	c.timers = append(c.timers, t)
	close(c.changed)
	c.changed = make(chan struct{})
	return t.c, func() bool { return c.remove(t) }
}

func (c *fakeClock) remove(t *fakeTimer) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, x := range c.timers {
		if x == t {
			c.timers = append(c.timers[:i], c.timers[i+1:]...)
			return true
		}
	}
	return false
}

// set moves the clock to now, firing the timers due.
func (c *fakeClock) set(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = now
	kept := c.timers[:0]
	for _, t := range c.timers {
		if t.at.After(now) {
			kept = append(kept, t)
			continue
		}
		t.c <- now
	}
	c.timers = kept
}

func (c *fakeClock) advance(d time.Duration) { c.set(c.Now().Add(d)) }

// waitTimers waits until n timers are pending: the scheduler's loops are
// all waiting for their next time.
func (c *fakeClock) waitTimers(t *testing.T, n int) {
	t.Helper()
	timeout := time.After(deadline)
	for {
		c.mu.Lock()
		got, ch := len(c.timers), c.changed
		c.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-ch:
		case <-timeout:
			t.Fatalf("%d timers pending after %s, want %d", got, deadline, n)
		}
	}
}

// waitFor waits until cond holds for the scheduler's status.
func waitFor(t *testing.T, s *Scheduler, what string, cond func(Status) bool) Status {
	t.Helper()
	timeout := time.After(deadline)
	for {
		st, changed := s.watch()
		if cond(st) {
			return st
		}
		select {
		case <-changed:
		case <-timeout:
			b, _ := json.MarshalIndent(st, "", "  ")
			t.Fatalf("waiting for %s: not reached after %s; status:\n%s", what, deadline, b)
		}
	}
}

// jobOf returns the named job's status.
func jobOf(t *testing.T, st Status, name string) JobStatus {
	t.Helper()
	for _, j := range st.Jobs {
		if j.Name == name {
			return j
		}
	}
	t.Fatalf("no job %q in %+v", name, st)
	return JobStatus{}
}

// runs reports whether the named job has n finished runs and none going.
func runs(name string, n int) func(Status) bool {
	return func(st Status) bool {
		for _, j := range st.Jobs {
			if j.Name == name {
				return len(j.Runs) == n && !j.Running
			}
		}
		return false
	}
}

// start runs s until the test ends; stop stops it and waits for Run to
// return.
func start(t *testing.T, s *Scheduler) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(deadline):
				t.Errorf("Run did not return %s after its context ended", deadline)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// metric reads one sample from the registry: the metric called name with
// exactly these label values; ok false when it is not exported.
func metric(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) (v float64, ok bool) {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if !sameLabels(m.GetLabel(), labels) {
				continue
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue(), true
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue(), true
			}
		}
	}
	return 0, false
}

func sameLabels(got []*dto.LabelPair, want map[string]string) bool {
	if len(got) != len(want) {
		return false
	}
	for _, l := range got {
		if v, ok := want[l.GetName()]; !ok || v != l.GetValue() {
			return false
		}
	}
	return true
}

// mustMetric is metric for a sample that must be exported.
func mustMetric(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	v, ok := metric(t, reg, name, labels)
	if !ok {
		t.Fatalf("%s%v is not exported", name, labels)
	}
	return v
}

// logBuffer collects a logger's JSON lines; safe for concurrent use.
type logBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // closed and replaced at each write
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.changed != nil {
		close(b.changed)
	}
	b.changed = make(chan struct{})
	return b.buf.Write(p)
}

// wait waits until n records with the message are logged and returns
// them.
func (b *logBuffer) wait(t *testing.T, msg string, n int) []map[string]any {
	t.Helper()
	timeout := time.After(deadline)
	for {
		b.mu.Lock()
		if b.changed == nil {
			b.changed = make(chan struct{})
		}
		ch := b.changed
		b.mu.Unlock()
		if recs := b.records(t, msg); len(recs) >= n {
			return recs
		}
		select {
		case <-ch:
		case <-timeout:
			t.Fatalf("%q not logged %d times after %s", msg, n, deadline)
		}
	}
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// records returns the logged records with the given message.
func (b *logBuffer) records(t *testing.T, msg string) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for line := range strings.Lines(b.buf.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

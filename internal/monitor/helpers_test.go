package monitor_test

import (
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// scrape gathers reg as /metrics would (an error fails the test: a
// database that is down must not break the page) and returns every
// sample by "name{label=value,...}" (labels sorted).
func scrape(t *testing.T, reg prometheus.Gatherer) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gathering metrics: %v", err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			out[key(mf.GetName(), m)] = value(m)
		}
	}
	return out
}

func key(name string, m *dto.Metric) string {
	var ls []string
	for _, l := range m.GetLabel() {
		ls = append(ls, l.GetName()+"="+l.GetValue())
	}
	sort.Strings(ls)
	if len(ls) == 0 {
		return name
	}
	return name + "{" + strings.Join(ls, ",") + "}"
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return 0
}

// waitFor polls cond until it holds, failing the test with what last
// describes after timeout.
func waitFor(t *testing.T, timeout time.Duration, what func() string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not reached within %s: %s", timeout, what())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// dump renders the samples whose names start with prefix, for failures.
func dump(s map[string]float64, prefix string) string {
	var ls []string
	for k, v := range s {
		if strings.HasPrefix(k, prefix) {
			ls = append(ls, k+" "+strconv.FormatFloat(v, 'g', -1, 64))
		}
	}
	sort.Strings(ls)
	return strings.Join(ls, "\n")
}

func testLog() *slog.Logger {
	lvl := slog.LevelWarn
	if os.Getenv("PGSURREAL_TEST_DEBUG") != "" {
		lvl = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
}

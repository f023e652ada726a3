package alert

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestStandbyIsNotStopped: a standby daemon behind a leader it sees
// (pgsurreal_leader_standby 1) has its replication stopped on purpose;
// once it cannot see a leader any more the alert holds again.
func TestStandbyIsNotStopped(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	gauge(reg, metricSyncRunning, 0)
	gauge(reg, metricReverseRunning, 0)
	standby := gauge(reg, metricLeaderStandby, 1)
	e := newTestEvaluator(t, reg, testConfig(), nil)
	e.evaluate(t0)
	e.evaluate(t0.Add(10 * time.Minute))
	if got := activeNames(e); len(got) != 0 {
		t.Fatalf("standby: active %v", got)
	}
	standby.Set(0)
	e.evaluate(t0.Add(11 * time.Minute))
	if got := activeNames(e); len(got) != 2 {
		t.Fatalf("no leader seen: active %v, want the alert for both directions", got)
	}
}

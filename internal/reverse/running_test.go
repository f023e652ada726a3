package reverse_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/reverse"
)

// TestRunningMetric: pgsurreal_reverse_running is 1 while the pipeline
// streams and 0 once Run has returned.
func TestRunningMetric(t *testing.T) {
	t.Parallel()
	f := newFixture(t, `CREATE note:1 SET text = 'a'`, config.ReverseTable{Name: "note"})
	f.metrics = reverse.NewMetrics(nil)
	running := func() float64 { return testutil.ToFloat64(f.metrics.Running) }
	if running() != 0 {
		t.Fatalf("running = %v before Run", running())
	}
	stop := f.start()
	f.caughtUp(30 * time.Second)
	if running() != 1 {
		t.Fatalf("running = %v while streaming", running())
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if running() != 0 {
		t.Fatalf("running = %v after Run returned", running())
	}
}

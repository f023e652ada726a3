package sync_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	pgsync "github.com/pgsurreal/pgsurreal/internal/sync"
	"github.com/pgsurreal/pgsurreal/internal/testenv"
)

// TestRunningMetric: pgsurreal_sync_running is 1 while the pipeline
// streams, 0 while it cannot reach SurrealDB (reconnecting) and 0 once
// Run has returned.
func TestRunningMetric(t *testing.T) {
	t.Parallel()
	f := newFixture(t, `CREATE TABLE item (id int PRIMARY KEY, name text); INSERT INTO item VALUES (1, 'a')`)
	m := pgsync.NewMetrics(nil)
	run := func(o pgsync.Options) (stop func(), ended <-chan error) {
		o.Metrics = m
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- pgsync.Run(ctx, o) }()
		t.Cleanup(cancel)
		return cancel, done
	}
	running := func() float64 { return testutil.ToFloat64(m.Running) }
	if running() != 0 {
		t.Fatalf("running = %v before Run", running())
	}

	// Snapshot, stream, stop.
	stop, ended := run(f.options())
	waitFor(t, 60*time.Second, func() bool { return running() == 1 })
	f.exec(`INSERT INTO item VALUES (2, 'b')`)
	f.caughtUp(60 * time.Second)
	if running() != 1 {
		t.Fatalf("running = %v while streaming", running())
	}
	stop()
	if err := <-ended; err != nil {
		t.Fatal(err)
	}
	if running() != 0 {
		t.Fatalf("running = %v after Run returned", running())
	}

	// Resume through a proxy, then make SurrealDB unreachable.
	proxy, url := testenv.NewProxy(t, f.sur.URL)
	o := f.options()
	o.Surreal.URL = url
	stop, ended = run(o)
	waitFor(t, 60*time.Second, func() bool { return running() == 1 })
	f.exec(`INSERT INTO item VALUES (3, 'c')`)
	f.caughtUp(60 * time.Second)
	proxy.Stop()
	waitFor(t, 30*time.Second, func() bool { return running() == 0 })
	select {
	case err := <-ended:
		t.Fatalf("Run returned while SurrealDB was unreachable: %v", err)
	default:
	}
	stop()
	if err := <-ended; err != nil {
		t.Fatal(err)
	}
	if running() != 0 {
		t.Fatalf("running = %v after Run returned", running())
	}
}

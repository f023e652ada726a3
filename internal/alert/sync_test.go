package alert

import (
	"context"
	"log/slog"
	"os"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/pgsurreal/pgsurreal/internal/config"
	pgsync "github.com/pgsurreal/pgsurreal/internal/sync"
	"github.com/pgsurreal/pgsurreal/internal/testenv"
)

// TestWebhookWhenSyncStopsAndRestarts runs the real sync pipeline against
// the test PostgreSQL and SurrealDB with its metrics in a registry, and
// the evaluator over that registry: stopping the sync makes the webhook
// receive PgsurrealSyncStopped firing, starting it again resolved.
func TestWebhookWhenSyncStopsAndRestarts(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	pg, pool := env.NewPostgresPool(t)
	sur := env.NewSurreal(t)
	sc := config.Default().Sync
	sc.Slot = "a_" + strings.TrimPrefix(testenv.Name(t), "t_")
	sc.Slot = sc.Slot[max(0, len(sc.Slot)-63):]
	sc.Heartbeat.Duration = 100 * time.Millisecond
	sc.StatusInterval.Duration = 100 * time.Millisecond
	if _, err := pool.Exec(context.Background(), `CREATE TABLE item (id int PRIMARY KEY, name text); INSERT INTO item SELECT g, 'item ' || g FROM generate_series(1, 10) g`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dropSlot(t, pool, sc.Slot) })

	lvl := slog.LevelWarn
	if os.Getenv("PGSURREAL_TEST_DEBUG") != "" {
		lvl = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
	reg := prometheus.NewRegistry()
	metrics := pgsync.NewMetrics(reg)
	running := func() float64 { return testutil.ToFloat64(metrics.Running) }
	startSync := func() (stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- pgsync.Run(ctx, pgsync.Options{Postgres: pg, Surreal: sur, Sync: sc, Metrics: metrics, Log: log})
		}()
		var once gosync.Once
		return func() {
			once.Do(func() {
				cancel()
				select {
				case err := <-done:
					if err != nil {
						t.Errorf("sync: %v", err)
					}
				case <-time.After(30 * time.Second):
					t.Error("the sync did not stop within 30s")
				}
			})
		}
	}
	stopSync := startSync()
	defer func() { stopSync() }()
	waitRunning(t, "the sync runs", func() bool { return running() == 1 })

	r := newReceiver(t, nil)
	cfg := testConfig(r.URL + "/hook")
	cfg.EvaluateEvery.Duration = 50 * time.Millisecond
	e, err := New(Options{Config: cfg, Gatherer: reg, Registerer: reg, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	evalDone := make(chan error, 1)
	go func() { evalDone <- e.Run(ctx) }()
	defer func() {
		cancel()
		<-evalDone
	}()

	stopSync()
	if v := running(); v != 0 {
		t.Fatalf("pgsurreal_sync_running is %v after the sync stopped", v)
	}
	fired := r.next(t)
	if fired.Status != StatusFiring || fired.Alert != SyncStopped || fired.Labels["direction"] != "forward" || fired.EndsAt != nil {
		t.Fatalf("first notification %+v, want %s firing", fired, SyncStopped)
	}
	t.Logf("firing: %s", fired.Summary)

	stopSync = startSync()
	resolved := r.next(t)
	if resolved.Status != StatusResolved || resolved.Alert != SyncStopped || resolved.Fingerprint != fired.Fingerprint ||
		resolved.EndsAt == nil || resolved.EndsAt.Before(fired.StartsAt) {
		t.Fatalf("second notification %+v, want %s resolved", resolved, SyncStopped)
	}
	if v := running(); v != 1 {
		t.Fatalf("pgsurreal_sync_running is %v after the restart", v)
	}
	if ev := e.Recent(); len(ev) != 2 || ev[0].Status != StatusResolved || ev[1].Status != StatusFiring {
		t.Fatalf("events %+v", ev)
	}
}

// waitRunning polls cond for up to a minute (a sync's first start
// creates the slot and copies the tables).
func waitRunning(t *testing.T, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("%s: not within a minute", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// dropSlot drops the test's slot once no walsender holds it, so that the
// test database can be dropped.
func dropSlot(t *testing.T, pool *pgxpool.Pool, slot string) {
	ctx := context.Background()
	var err error
	for i := 0; i < 100; i++ {
		_, _ = pool.Exec(ctx, "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL", slot)
		if _, err = pool.Exec(ctx, "SELECT pg_drop_replication_slot($1) FROM pg_replication_slots WHERE slot_name = $1", slot); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("dropping slot %s: %v", slot, err)
}

package sync_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/devstack"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
	pgsync "github.com/pgsurreal/pgsurreal/internal/sync"
	"github.com/pgsurreal/pgsurreal/internal/testenv"
)

// TestPostgresRestart restarts PostgreSQL (a private cluster, so other
// tests are not disturbed) under a write load: the pipeline reconnects,
// resumes from its stored position, and SurrealDB equals PostgreSQL.
func TestPostgresRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	t.Parallel()
	ctx := context.Background()
	pgcfg, o := privateCluster(t)
	f := newFixtureOn(t, pgcfg, shopSchema)
	stop := f.start()
	f.caughtUp(60 * time.Second)

	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var ops atomic.Int64
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		for lctx.Err() == nil {
			// The load survives the restart: errors while PostgreSQL is
			// down are expected; it reconnects through the pool.
			_ = load(lctx, f.pool, &ops)
			time.Sleep(20 * time.Millisecond)
		}
	}()
	time.Sleep(2 * time.Second)
	if err := devstack.Down(ctx, o); err != nil {
		t.Fatal(err)
	}
	t.Logf("PostgreSQL stopped after %d writes", ops.Load())
	time.Sleep(3 * time.Second)
	if _, err := devstack.Up(ctx, o); err != nil {
		t.Fatal(err)
	}
	t.Logf("PostgreSQL restarted")
	time.Sleep(3 * time.Second)
	cancel()
	<-loadDone
	t.Logf("%d writes in all", ops.Load())
	f.caughtUp(60 * time.Second)
	f.assertSame()
	if err := stop(); err != nil {
		t.Fatalf("pipeline: %v", err)
	}
}

// privateCluster starts a PostgreSQL cluster of the test's own (its
// user is the bootstrap superuser), removed after the test.
func privateCluster(t *testing.T) (config.Postgres, devstack.Options) {
	t.Helper()
	return testenv.PrivateCluster(t)
}

// TestInvalidatedSlotStops: while sync is stopped, PostgreSQL removes WAL
// the slot still needs (max_slot_wal_keep_size), invalidating it. sync
// must refuse to stream with the --resync remedy rather than skip the
// lost changes.
func TestInvalidatedSlotStops(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	t.Parallel()
	pgcfg, _ := privateCluster(t)
	f := newFixtureOn(t, pgcfg, `CREATE TABLE w (id int PRIMARY KEY, pad text)`)
	stop := f.start()
	f.caughtUp(60 * time.Second)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	f.exec(`ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'`)
	f.exec(`SELECT pg_reload_conf()`)
	n := 0
	waitFor(t, 2*time.Minute, func() bool {
		n++
		f.exec(`INSERT INTO w SELECT g, repeat('x', 200) FROM generate_series($1::int * 10000, $1::int * 10000 + 9999) g`, n)
		f.exec(`SELECT pg_switch_wal()`)
		f.exec(`CHECKPOINT`)
		var status string
		err := f.pool.QueryRow(context.Background(), `SELECT COALESCE(wal_status, '') FROM pg_replication_slots WHERE slot_name = $1`, f.sync.Slot).Scan(&status)
		return err == nil && status == "lost"
	})
	err := pgsync.Run(context.Background(), f.options())
	if err == nil || !strings.Contains(err.Error(), "was invalidated") || !strings.Contains(err.Error(), "--resync") {
		t.Fatalf("err = %v", err)
	}
}

// newFixtureOn is newFixture against a PostgreSQL cluster of the test's
// own (database pgsurreal of cfg).
func newFixtureOn(t *testing.T, cfg config.Postgres, schema string) *fixture {
	t.Helper()
	env := testenv.Get(t)
	f := &fixture{t: t, pg: cfg}
	pool, err := postgres.Connect(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	f.pool = pool
	f.sur, f.cl = env.NewSurrealClient(t)
	f.sync = config.Default().Sync
	f.sync.Slot = "restart"
	f.sync.Heartbeat.Duration = 100 * time.Millisecond
	f.sync.StatusInterval.Duration = 100 * time.Millisecond
	f.exec(schema)
	return f
}

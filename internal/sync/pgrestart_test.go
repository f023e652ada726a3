package sync_test

import (
	"context"
	"net"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/devstack"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
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
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pgcfg := config.Default().Postgres
	pgcfg.Port = l.Addr().(*net.TCPAddr).Port
	pgcfg.SSLMode = "disable"
	l.Close()
	o := devstack.Options{Dir: filepath.Join(testenv.RepoRoot(), ".pgsurreal", "test", testenv.Name(t)), PG: pgcfg, NoSurreal: true}
	if _, err := devstack.Up(ctx, o); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = devstack.Reset(context.Background(), o) })

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

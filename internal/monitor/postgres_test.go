package monitor_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgsurreal/pgsurreal/internal/monitor"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/testenv"
)

// TestPostgresCollector: every PostgreSQL metric is present with a
// plausible value: a logical slot retaining WAL, a prepared transaction
// growing old, a session idle in a transaction, commits and rollbacks
// counted.
//
// It runs on a PostgreSQL cluster of its own: a prepared transaction
// holds back the creation of every logical slot in its cluster, which
// would stall the other tests' pipelines on the shared one.
func TestPostgresCollector(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	t.Parallel()
	ctx := context.Background()
	pgcfg, _ := testenv.PrivateCluster(t)
	pool, err := postgres.Connect(ctx, pgcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	var maxPrepared int
	if err := pool.QueryRow(ctx, "SELECT current_setting('max_prepared_transactions')::int").Scan(&maxPrepared); err != nil {
		t.Fatal(err)
	}
	if maxPrepared == 0 {
		t.Fatal("the private cluster has max_prepared_transactions = 0 (devstack sets 64)")
	}
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := pool.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	reg := prometheus.NewRegistry()
	if err := monitor.Register(reg, monitor.Options{PG: pool, Log: testLog()}); err != nil {
		t.Fatal(err)
	}
	before := scrape(t, reg)
	if before["pgsurreal_postgres_up"] != 1 {
		t.Fatalf("up = %v:\n%s", before["pgsurreal_postgres_up"], dump(before, "pgsurreal_postgres"))
	}

	exec(`CREATE TABLE item (id int PRIMARY KEY, pad text)`)
	slot := "monitor_slot"
	exec(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, slot)
	// WAL after the slot's restart point, which the slot now retains.
	exec(`INSERT INTO item SELECT g, repeat('x', 100) FROM generate_series(1, 500) g`)
	for i := range 5 {
		exec(`INSERT INTO item VALUES ($1, 'c')`, 1000+i)
	}
	for range 3 {
		tx, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO item VALUES (2000, 'r')`); err != nil {
			t.Fatal(err)
		}
		if err := tx.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// A prepared transaction (its gid is a constant of name characters:
	// PREPARE TRANSACTION takes no parameters).
	gid := "monitor_test"
	exec(`BEGIN; INSERT INTO item VALUES (3000, 'p'); PREPARE TRANSACTION '` + gid + `'`)
	// A session idle in a transaction, on a connection of its own: a
	// backend inside a transaction does not flush its statistics, and the
	// pool's connections hold the rollbacks counted above.
	idle, err := postgres.ConnectOne(ctx, pgcfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = idle.Close(context.Background()) })
	if _, err := idle.Exec(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}

	var s map[string]float64
	checks := []struct {
		what string
		ok   func(float64) bool
	}{
		{"pgsurreal_postgres_up", func(v float64) bool { return v == 1 }},
		{"pgsurreal_postgres_connections{state=active}", func(v float64) bool { return v >= 1 }}, // the scrape itself
		{"pgsurreal_postgres_connections{state=idle in transaction}", func(v float64) bool { return v >= 1 }},
		{"pgsurreal_postgres_connections{state=idle in transaction (aborted)}", func(v float64) bool { return v == 0 }},
		{"pgsurreal_postgres_database_size_bytes", func(v float64) bool { return v > 1<<20 }},
		{"pgsurreal_postgres_slot_retained_wal_bytes{slot=" + slot + "}", func(v float64) bool { return v > 0 }},
		{"pgsurreal_postgres_slot_wal_status{slot=" + slot + ",status=reserved}", func(v float64) bool { return v == 1 }},
		{"pgsurreal_postgres_slot_wal_status{slot=" + slot + ",status=lost}", func(v float64) bool { return v == 0 }},
		{"pgsurreal_postgres_slot_active{slot=" + slot + "}", func(v float64) bool { return v == 0 }},
		{"pgsurreal_postgres_prepared_transactions", func(v float64) bool { return v == 1 }},
		{"pgsurreal_postgres_prepared_transaction_oldest_seconds", func(v float64) bool { return v > 0 }},
		// The statistics reach pg_stat_database when the backends flush
		// them (at most every few seconds): poll.
		{"pgsurreal_postgres_commits_total", func(v float64) bool { return v >= before["pgsurreal_postgres_commits_total"]+5 }},
		{"pgsurreal_postgres_rollbacks_total", func(v float64) bool { return v >= before["pgsurreal_postgres_rollbacks_total"]+3 }},
	}
	waitFor(t, 30*time.Second, func() string { return dump(s, "pgsurreal_postgres") }, func() bool {
		s = scrape(t, reg)
		for _, c := range checks {
			v, ok := s[c.what]
			if !ok || !c.ok(v) {
				return false
			}
		}
		return true
	})
	// The age keeps growing.
	age := s["pgsurreal_postgres_prepared_transaction_oldest_seconds"]
	waitFor(t, 10*time.Second, func() string { return dump(s, "pgsurreal_postgres_prepared") }, func() bool {
		s = scrape(t, reg)
		return s["pgsurreal_postgres_prepared_transaction_oldest_seconds"] > age
	})
	// Counters are exported as counters.
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if strings.HasSuffix(mf.GetName(), "_total") && mf.GetType().String() != "COUNTER" {
			t.Errorf("%s is a %s, want COUNTER", mf.GetName(), mf.GetType())
		}
	}
}

// TestPostgresDown: a pool whose server is gone reports up 0 and nothing
// else, and the scrape itself succeeds.
func TestPostgresDown(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	_, pool := env.NewPostgresPool(t)
	pool.Close() // every query now fails at once, as with a stopped server
	reg := prometheus.NewRegistry()
	if err := monitor.Register(reg, monitor.Options{PG: pool, Log: testLog()}); err != nil {
		t.Fatal(err)
	}
	s := scrape(t, reg)
	if len(s) != 1 || s["pgsurreal_postgres_up"] != 0 {
		t.Fatalf("want only pgsurreal_postgres_up 0, got:\n%s", dump(s, ""))
	}
	// Registering twice on one registry is an error, not a panic.
	if err := monitor.Register(reg, monitor.Options{PG: pool}); err == nil {
		t.Fatal("a second Register on the same registry succeeded")
	}
}
